// Pure safety valves on top of the per-task policy: keep the newest N, blast-radius caps, clock sanity.
import type { DeleteCap } from './config.js';
import type { ProviderName } from './providers/catalog.js';
import type { Provider } from './providers/provider.js';
import { formatDuration } from './units.js';

/** APIs whose tasks have a type that P_KEEP_LATEST counts separately (IoTDA is listed per task_type). */
const KEEP_LATEST_BY_TYPE: readonly ProviderName[] = ['iotda'];

/** The P_KEEP_LATEST group of a task within its target: its type where the API has types, else one group. */
export function keepLatestGroupOf(provider: ProviderName, task: { readonly type?: string }): string {
  return KEEP_LATEST_BY_TYPE.includes(provider) ? task.type ?? '' : '';
}

/**
 * Holds, per group, the `n` newest items offered so far (a min-heap on time each, so memory is
 * O(n × groups) whatever the listing's size). An item is handed back as soon as `n` newer ones of
 * its group are known; what is still held when the listing ends is the newest `n` of each group.
 */
export class NewestKeeper<T> {
  private readonly heaps = new Map<string, { at: number; item: T; key?: string }[]>();
  /** Keys of the items held: a task listed twice (pages shift while deleting) is held once. */
  private readonly heldKeys = new Set<string>();

  constructor(private readonly n: number) {}

  /**
   * Offers one item; returns the item that is now certainly not among its group's newest `n`, if
   * any. An item whose `key` is held already is the same task listed again: it is absorbed, so it
   * neither takes a second place (pushing out a task that is among the newest) nor comes out
   * released while its first listing is kept.
   */
  offer(group: string, at: number, item: T, key?: string): T | undefined {
    if (this.n <= 0) return item;
    if (key !== undefined && this.heldKeys.has(key)) return undefined;
    let heap = this.heaps.get(group);
    if (!heap) this.heaps.set(group, heap = []);
    const entry = { at, item, ...(key !== undefined ? { key } : {}) };
    if (heap.length < this.n) {
      heap.push(entry);
      siftUp(heap, heap.length - 1);
      if (key !== undefined) this.heldKeys.add(key);
      return undefined;
    }
    const oldest = heap[0] as { at: number; item: T; key?: string };
    // Not newer than the oldest kept: it is not among the newest n (a tie keeps the earlier one).
    if (at <= oldest.at) return item;
    heap[0] = entry;
    siftDown(heap, 0);
    if (oldest.key !== undefined) this.heldKeys.delete(oldest.key);
    if (key !== undefined) this.heldKeys.add(key);
    return oldest.item;
  }

  /** Everything still held: the newest `n` of each group, groups in first-seen order. Empties the keeper. */
  drain(): T[] {
    const held = [...this.heaps.values()].flatMap((heap) => heap.map((e) => e.item));
    this.heaps.clear();
    this.heldKeys.clear();
    return held;
  }
}

function siftUp(heap: { at: number }[], index: number): void {
  for (let i = index; i > 0;) {
    const parent = (i - 1) >> 1;
    if ((heap[parent] as { at: number }).at <= (heap[i] as { at: number }).at) return;
    [heap[parent], heap[i]] = [heap[i] as { at: number }, heap[parent] as { at: number }];
    i = parent;
  }
}

function siftDown(heap: { at: number }[], index: number): void {
  for (let i = index; ;) {
    const left = 2 * i + 1;
    const right = left + 1;
    let smallest = i;
    if (left < heap.length && (heap[left] as { at: number }).at < (heap[smallest] as { at: number }).at) smallest = left;
    if (right < heap.length && (heap[right] as { at: number }).at < (heap[smallest] as { at: number }).at) smallest = right;
    if (smallest === i) return;
    [heap[smallest], heap[i]] = [heap[i] as { at: number }, heap[smallest] as { at: number }];
    i = smallest;
  }
}

/** The number of deletions a cap allows: the count, or the share of the listed tasks rounded down. */
export function capLimit(cap: DeleteCap, listed: number): number {
  return cap.kind === 'count' ? cap.count : Math.floor((cap.percent * listed) / 100);
}

/** The cap as the operator wrote it, with what it came to: `IOTDA_MAX_DELETES=20% (200 of 1000 listed)`. */
export function describeCap(cap: DeleteCap, listed: number): string {
  return cap.kind === 'count' ? `${cap.variable}=${cap.count}` : `${cap.variable}=${cap.percent}% (${capLimit(cap, listed)} of ${listed} listed)`;
}

/**
 * Lets through at most `limit` candidates, and in truncate mode only the oldest: those dated before
 * `cutoff`, plus `ties` of those dated exactly at it. One gate may be shared by several providers
 * (JANITOR_MAX_DELETES); its counters make it hold even when a second listing finds more than the first.
 */
export class CapGate {
  private admitted = 0;
  private tiesLeft: number;

  constructor(readonly limit: number, private readonly label: string, private readonly cutoff = Number.POSITIVE_INFINITY, ties = Number.POSITIVE_INFINITY) {
    this.tiesLeft = ties;
  }

  /** The cap this gate enforces, for reasons: `IOTDA_MAX_DELETES=100`. */
  describe(): string {
    return this.label;
  }

  /** Whether a candidate dated `at` may pass, without taking its place yet. */
  allows(at: number): boolean {
    return this.admitted < this.limit && (at < this.cutoff || (at === this.cutoff && this.tiesLeft > 0));
  }

  /** Takes a place for a candidate dated `at` (after every gate on its path allowed it). */
  take(at: number): void {
    this.admitted += 1;
    if (at === this.cutoff) this.tiesLeft -= 1;
  }

  /** A gate that lets the oldest `limit` of `times` through (truncate mode). */
  static oldest(limit: number, label: string, times: Float64Array): CapGate {
    if (limit <= 0) return new CapGate(0, label);
    if (times.length <= limit) return new CapGate(limit, label);
    const sorted = Float64Array.from(times).sort();
    const cutoff = sorted[limit - 1] as number;
    let below = 0;
    while (below < sorted.length && (sorted[below] as number) < cutoff) below += 1;
    return new CapGate(limit, label, cutoff, limit - below);
  }
}

/** A growable Float64Array of candidate times: 8 bytes a candidate, for truncate mode's cutoff. */
export class TimeList {
  private data = new Float64Array(1024);
  length = 0;

  push(at: number): void {
    if (this.length === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = at;
  }

  values(): Float64Array {
    return this.data.subarray(0, this.length);
  }
}

/**
 * Why a provider must not be deleted from because its clock disagrees with ours, or undefined.
 * `skewMs` is the provider's Date header minus the local clock (positive: the provider is ahead).
 */
/** Why the provider's clock, as its list answers showed it, rules out judging ages on ours; undefined when it does not. */
export function listingClockRefusal(provider: Pick<Provider, 'serverClock'>, maxSkewMs: number): string | undefined {
  return clockSkewRefusal(provider.serverClock?.skewMs(), maxSkewMs);
}

export function clockSkewRefusal(skewMs: number | undefined, maxSkewMs: number): string | undefined {
  if (skewMs === undefined || Math.abs(skewMs) <= maxSkewMs) return undefined;
  return `the provider's clock (HTTP Date header) is ${formatDuration(Math.abs(skewMs))} ${skewMs > 0 ? 'ahead of' : 'behind'} the local clock, more than JANITOR_MAX_CLOCK_SKEW=${formatDuration(maxSkewMs)}: ages would be wrong`;
}
