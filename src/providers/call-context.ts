// Tags each provider HTTP call with its provider and operation, so the one HTTP client can report
// calls by kind and status (and throttling) without every adapter doing its own counting. The tag
// travels with the call (HuaweiCall, AlibabaCall), not in an AsyncLocalStorage: on Node 20 and 22 that
// turns on promise hooks for every promise of the process, measured at about 70 µs of CPU a delete.
import type { ProviderName } from './catalog.js';
import { ProviderError, type Provider, type ServerClockReading, type TaskRead, type TaskRef } from './provider.js';

export type ProviderOperation = 'list' | 'get' | 'delete';

/** Told about every provider HTTP response (or network failure) and every throttled answer. */
export interface ProviderCallObserver {
  called(provider: ProviderName, operation: ProviderOperation, status: number | 'network-error'): void;
  throttled(provider: ProviderName, operation: ProviderOperation): void;
}

/** Who watches one provider's calls: the observer (metrics), if any, and the clock its answers are read against. */
export interface CallWatch {
  readonly provider: ProviderName;
  readonly observer: ProviderCallObserver | undefined;
  readonly clock: ServerClock;
}

/** One call's tag: its provider's watch and what the call is for. */
export interface CallTag extends CallWatch {
  readonly operation: ProviderOperation;
}

/** A provider's HTTP Date header against the local clock: the largest skew on its list calls, and the latest on a re-read. */
export class ServerClock implements ServerClockReading {
  private worst: number | undefined;
  private latestRead: number | undefined;

  record(skewMs: number): void {
    if (this.worst === undefined || Math.abs(skewMs) > Math.abs(this.worst)) this.worst = skewMs;
  }

  recordRead(skewMs: number): void {
    this.latestRead = skewMs;
  }

  skewMs(): number | undefined {
    return this.worst;
  }

  readSkewMs(): number | undefined {
    return this.latestRead;
  }
}

/** A tag for one call of `operation`, or undefined when nobody watches the provider (unit tests of request shapes). */
export function tagFor(watch: CallWatch | undefined, operation: ProviderOperation): CallTag | undefined {
  return watch && { ...watch, operation };
}

/** Reports one HTTP response or network failure of a tagged call. */
export function reportCall(tag: CallTag | undefined, status: number | 'network-error'): void {
  tag?.observer?.called(tag.provider, tag.operation, status);
}

/**
 * Records a response's `Date` header against the local clock: on list calls (the producer's check)
 * and on re-reads (the worker's check, which may run on another machine). The header has whole
 * seconds, so a skew under a second is noise.
 */
export function reportServerDate(tag: CallTag | undefined, date: string | undefined, receivedAt = Date.now()): void {
  if (!tag || tag.operation === 'delete' || date === undefined) return;
  const at = Date.parse(date);
  if (!Number.isFinite(at)) return;
  if (tag.operation === 'list') tag.clock.record(at - receivedAt);
  else tag.clock.recordRead(at - receivedAt);
}

/** Reports a throttled answer to a list call, which the adapter absorbs itself (a retried list page). */
export function reportListThrottled(tag: CallTag | undefined): void {
  if (tag?.operation === 'list') tag.observer?.throttled(tag.provider, 'list');
}

/**
 * The same provider, with each throttled read or delete reported to the watch's observer (its calls
 * report themselves through their tags) and its clock exposed as `serverClock`.
 */
export function observeProvider(provider: Provider, watch: CallWatch): Provider {
  const { observer } = watch;
  const throttled = (operation: ProviderOperation, err: unknown) => {
    if (err instanceof ProviderError && err.kind === 'throttled') observer?.throttled(provider.name, operation);
  };
  return {
    name: provider.name,
    serverClock: watch.clock,
    listTasks: (target, signal, onWarning) => provider.listTasks(target, signal, onWarning),
    deleteTasks: async (target, taskIds) => {
      try {
        const result = await provider.deleteTasks(target, taskIds);
        if (result.failures.some((f) => f.error.kind === 'throttled')) observer?.throttled(provider.name, 'delete');
        return result;
      } catch (err) {
        throttled('delete', err);
        throw err;
      }
    },
    getTask: (target, task) => reading(() => provider.getTask(target, task)),
    ...(provider.getTasks !== undefined ? {
      getTasks: (target: string, tasks: readonly TaskRef[]) => reading(async () => (await provider.getTasks?.(target, tasks)) ?? new Map<string, TaskRead>()),
    } : {}),
  };
  async function reading<T>(read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (err) {
      throttled('get', err);
      throw err;
    }
  }
}
