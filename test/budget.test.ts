// The pure arithmetic of call budgets: slot spacing, the throttling response and the recovery.
import { describe, expect, it } from 'vitest';
import {
  budgetParamsFor, DECREASE_FACTOR, effectiveRate, FLOOR_FACTOR, GROWTH_PER_SECOND, onThrottled, reserveSlot, type BudgetState,
} from '../src/budget.js';

const fresh = (): BudgetState => ({ tat: 0, rate: undefined, since: 0, pausedUntil: 0, coolUntil: 0 });
const params = budgetParamsFor({ max: 20, durationMs: 1_000 });

/** Takes `n` slots back to back at `now` and returns their instants. */
function slots(state: BudgetState, n: number, now: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const d = reserveSlot(state, params, now, Number.POSITIVE_INFINITY);
    state.tat = d.nextTat;
    out.push(d.slot);
  }
  return out;
}

function mostInAnyWindow(times: readonly number[], windowMs: number): number {
  let most = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while ((times[i] ?? 0) - (times[j] ?? 0) >= windowMs) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

describe('call budget slots', () => {
  it('never puts more than the configured rate into any sliding window, with a guard to spare', () => {
    for (const rate of [{ max: 1, durationMs: 1_000 }, { max: 7, durationMs: 1_000 }, { max: 20, durationMs: 1_000 }, { max: 300, durationMs: 60_000 }, { max: 1000, durationMs: 1_000 }]) {
      const p = budgetParamsFor(rate);
      const state = fresh();
      const times: number[] = [];
      for (let i = 0; i < rate.max * 3; i++) {
        const d = reserveSlot(state, p, 1_000_000, Number.POSITIVE_INFINITY);
        state.tat = d.nextTat;
        times.push(d.slot);
      }
      // Even if every call arrived up to the guard late relative to the one R slots before it.
      expect(mostInAnyWindow(times, rate.durationMs + p.guardMs * 0.99)).toBeLessThanOrEqual(rate.max);
      // And the long-run rate stays within 1.5 % of the configured one.
      const achieved = ((times.length - 1) * rate.durationMs) / ((times.at(-1) ?? 0) - (times[0] ?? 0)) / rate.max;
      expect(achieved).toBeGreaterThanOrEqual(0.985);
      expect(achieved).toBeLessThanOrEqual(1);
    }
  });

  it('refuses a slot that lies beyond the caller\'s longest wait, reserving nothing', () => {
    const state = { ...fresh(), pausedUntil: 10_000 };
    const d = reserveSlot(state, params, 5_000, 2_000);
    expect(d.refused).toBe(true);
    expect(d.slot).toBe(10_000);
  });

  it('starts every slot after a pause ends', () => {
    const state = { ...fresh(), pausedUntil: 7_000 };
    expect(slots(state, 3, 5_000)[0]).toBe(7_000);
  });
});

describe('throttling response', () => {
  it('drops towards what the provider accepted, and at least by a tenth', () => {
    // Sending 100/s, the provider accepted 30 in this window: the new rate sits just under that.
    const first = onThrottled(fresh(), budgetParamsFor({ max: 100, durationMs: 1_000 }), 50_000, 30, undefined);
    expect(first.rate).toBeCloseTo(30 * 0.95, 5);
    // Accepted more than we sent (counts from a faster past): still at least a 10 % cut.
    const slight = onThrottled(fresh(), params, 50_000, 40, undefined);
    expect(slight.rate).toBeCloseTo(20 * DECREASE_FACTOR, 5);
    // Accepted nothing (someone else used the quota): never more than a cut to a quarter in one episode.
    const starved = onThrottled(fresh(), params, 50_000, 0, undefined);
    expect(starved.rate).toBeCloseTo(20 * FLOOR_FACTOR, 5);
  });

  it('lowers the rate once per episode, however many answers were throttled', () => {
    const first = onThrottled(fresh(), params, 50_000, 10, undefined);
    const again = onThrottled(first.state, params, 50_100, 0, undefined);
    expect(again.rate).toBeCloseTo(first.rate, 5);
    expect(again.state.rate).toBe(first.state.rate);
  });

  it('honours Retry-After as the pause, also within an episode', () => {
    const first = onThrottled(fresh(), params, 50_000, 10, 3_000);
    expect(first.pauseMs).toBe(3_000);
    expect(first.state.pausedUntil).toBe(53_000);
    const longer = onThrottled(first.state, params, 51_000, 10, 5_000);
    expect(longer.state.pausedUntil).toBe(56_000);
  });

  it('pauses long when far over the quota and briefly when just over it', () => {
    const far = onThrottled(fresh(), budgetParamsFor({ max: 100, durationMs: 1_000 }), 50_000, 20, undefined);
    const near = onThrottled(fresh(), params, 50_000, 20, undefined);
    expect(far.pauseMs).toBeGreaterThan(500);
    expect(near.pauseMs).toBeLessThan(200);
  });

  it('recovers gradually after the episode and never above the configured rate', () => {
    const { state } = onThrottled(fresh(), params, 50_000, 10, undefined);
    const lowered = state.rate ?? 0;
    expect(effectiveRate(state, params, state.since)).toBeCloseTo(lowered, 5);
    expect(effectiveRate(state, params, state.since + 10_000)).toBeCloseTo(lowered * (1 + GROWTH_PER_SECOND) ** 10, 5);
    expect(effectiveRate(state, params, state.since + 3_600_000)).toBe(params.max);
  });

  it('never falls below a hundredth of the configured rate', () => {
    let state = fresh();
    let now = 0;
    for (let i = 0; i < 100; i++) {
      now = Math.max(now, state.coolUntil) + 1;
      state = onThrottled(state, params, now, 0, undefined).state;
    }
    expect(state.rate).toBeCloseTo(params.minRate, 5);
  });
});
