// The call budgets of one process, for a dry run (no Redis): src/budget.ts's steps in memory, the same
// arithmetic as the Redis scripts of src/limiter-redis.ts.
import { effectiveRate, onThrottled, reserveSlot, type BudgetParams, type BudgetState } from './budget.js';
import type { BudgetStore } from './limiter.js';

/** In-process budgets (a dry run has no Redis): the same arithmetic as the Redis scripts. */
export class MemoryBudgetStore implements BudgetStore {
  private readonly states = new Map<string, BudgetState & { buckets: Map<string, number> }>();
  private readonly now: () => number;

  constructor(now: () => number = Date.now) {
    this.now = now;
  }

  private stateOf(key: string) {
    let state = this.states.get(key);
    if (!state) {
      state = { tat: 0, rate: undefined, since: 0, pausedUntil: 0, coolUntil: 0, buckets: new Map() };
      this.states.set(key, state);
    }
    return state;
  }

  reserve(key: string, params: BudgetParams, maxWaitsMs: readonly number[]) {
    const state = this.stateOf(key);
    const now = this.now();
    const rate = effectiveRate(state, params, now);
    let granted = 0;
    const slots = maxWaitsMs.map((maxWaitMs) => {
      const decision = reserveSlot(state, params, now, maxWaitMs);
      if (!decision.refused) {
        granted += 1;
        state.tat = decision.nextTat;
        const bucket = `g:${Math.floor(decision.slot / params.durationMs)}`;
        state.buckets.set(bucket, (state.buckets.get(bucket) ?? 0) + 1);
      }
      return { slot: decision.slot, waitMs: decision.slot - now, refused: decision.refused };
    });
    if (granted > 0 && rate >= params.max) state.rate = undefined;
    return Promise.resolve({ rate, pausedMs: Math.max(0, state.pausedUntil - now), slots });
  }

  throttled(key: string, params: BudgetParams, retryAfterMs: number | undefined) {
    const state = this.stateOf(key);
    const now = this.now();
    const window = Math.floor(now / params.durationMs);
    state.buckets.set(`t:${window}`, (state.buckets.get(`t:${window}`) ?? 0) + 1);
    const count = (name: string) => state.buckets.get(name) ?? 0;
    const accepted = Math.max(count(`g:${window}`) - count(`t:${window}`), count(`g:${window - 1}`) - count(`t:${window - 1}`));
    const next = onThrottled(state, params, now, accepted, retryAfterMs);
    Object.assign(state, next.state);
    for (const name of state.buckets.keys()) if (Number(name.slice(2)) < window - 2) state.buckets.delete(name);
    return Promise.resolve({ pauseMs: next.pauseMs, rate: next.rate });
  }

  pause(key: string, pauseMs: number) {
    const state = this.stateOf(key);
    const now = this.now();
    state.pausedUntil = Math.max(state.pausedUntil, now + pauseMs);
    return Promise.resolve(state.pausedUntil - now);
  }

  read(key: string, params: BudgetParams) {
    const state = this.stateOf(key);
    return Promise.resolve({ ...state, rate: effectiveRate(state, params, this.now()) });
  }

  close() {
    return Promise.resolve();
  }
}
