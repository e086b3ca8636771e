// The slot requests of one call budget in one process: callers asking together share one reservation
// (one Redis round trip for many calls), and a dense budget keeps a few slots reserved ahead.
import type { BudgetParams } from './budget.js';
import type { Reservation, SlotAnswer } from './limiter.js';

/** A caller's slot, with when (this machine's clock) the store's answer arrived. */
export type TakenSlot = SlotAnswer & { readonly answeredAt: number };

/** Callers asking together share one reservation: at most this many slots per store call. */
const MOST_SLOTS_PER_RESERVATION = 64;
/** A dense budget keeps at most this many slots reserved ahead. */
const MOST_SLOTS_AHEAD = 32;
/** Fewer calls than this expected within a slot's guard time: nothing is reserved ahead. */
const FEWEST_SLOTS_AHEAD = 4;
/** Calls per second of this process are counted over windows of this length. */
const DEMAND_WINDOW_MS = 100;

/**
 * The slot requests of one budget in this process. One reservation is in flight at a time; callers
 * that ask meanwhile wait for it and then share the next one, so a busy worker pays one Redis round
 * trip for many calls instead of one each. The slots are spaced exactly as if reserved one by one.
 *
 * A dense budget (far more slots per second than one guard time can hold, as with a rate set high
 * above what the workers can use) also keeps a few slots reserved ahead, as many as this process
 * uses within a guard time: a caller then takes one at once instead of waiting a Redis round trip,
 * and the next reservation is sent while the last ones are used. A slot reserved ahead is still sent
 * no later than its guard time after its instant, or given up: the windows stay at the rate. Only
 * slots within a guard time of now are reserved ahead, so on a busy or paused budget none are, and
 * throttling drops them.
 */
export class SlotRequests {
  private readonly queued: { deadline: number; resolve: (answer: TakenSlot) => void; reject: (err: unknown) => void }[] = [];
  private inFlight = false;
  private readonly ahead: TakenSlot[] = [];
  /** Slots per ms at the rate the store last answered with; 0 until it has. */
  private slotsPerMs = 0;
  private readonly demand = { since: 0, takes: 0, perMs: 0 };

  constructor(
    private readonly reserve: (maxWaitsMs: readonly number[]) => Promise<Reservation>,
    private readonly params: BudgetParams,
  ) {}

  /** The caller's slot; `deadline` (epoch ms, or infinity) is how far ahead a slot may lie. */
  take(deadline: number): Promise<TakenSlot> {
    const now = Date.now();
    this.countDemand(now);
    while (this.ahead.length > 0) {
      const slot = this.ahead.shift() as TakenSlot;
      const at = slot.answeredAt + slot.waitMs;
      if (now - at > this.params.guardMs) continue; // too late to send on: given up
      if (at > deadline) break; // cannot be: slots ahead lie within a guard time
      this.send();
      return Promise.resolve(slot);
    }
    return new Promise((resolve, reject) => {
      this.queued.push({ deadline, resolve, reject });
      this.send();
    });
  }

  /** Throttling: the slots reserved ahead were given out before the pause; none is sent. */
  dropAhead(): void {
    this.ahead.length = 0;
  }

  private countDemand(now: number): void {
    const d = this.demand;
    if (now - d.since >= DEMAND_WINDOW_MS) {
      d.perMs = now - d.since < 2 * DEMAND_WINDOW_MS ? d.takes / (now - d.since) : 0;
      d.since = now;
      d.takes = 0;
    }
    d.takes += 1;
  }

  /** How many slots to keep reserved ahead: what this process uses within a guard time, if the budget is dense enough to give that many within it. */
  private aheadWanted(): number {
    const guard = this.params.guardMs;
    const wanted = Math.min(MOST_SLOTS_AHEAD, Math.floor(this.demand.perMs * guard), Math.floor(this.slotsPerMs * guard));
    return wanted >= FEWEST_SLOTS_AHEAD ? wanted : 0;
  }

  private send(): void {
    const wanted = this.aheadWanted();
    const refill = this.ahead.length * 2 <= wanted ? wanted - this.ahead.length : 0;
    if (this.inFlight || (this.queued.length === 0 && refill === 0)) return;
    this.inFlight = true;
    const batch = this.queued.splice(0, MOST_SLOTS_PER_RESERVATION);
    const extra = Math.min(refill, MOST_SLOTS_PER_RESERVATION - batch.length);
    const now = Date.now();
    this.reserve([...batch.map((r) => Math.max(0, r.deadline - now)), ...Array<number>(extra).fill(this.params.guardMs)])
      .then((answer) => {
        const answeredAt = Date.now();
        this.slotsPerMs = answer.rate / (this.params.durationMs + this.params.guardMs);
        batch.forEach((r, i) => {
          const slot = answer.slots[i];
          if (slot) r.resolve({ ...slot, answeredAt });
          else r.reject(new Error('the budget store answered fewer slots than asked for'));
        });
        if (answer.pausedMs > 0) this.dropAhead();
        else for (const slot of answer.slots.slice(batch.length)) if (!slot.refused) this.ahead.push({ ...slot, answeredAt });
      }, (err: unknown) => batch.forEach((r) => r.reject(err)))
      .finally(() => {
        this.inFlight = false;
        this.send();
      });
  }
}
