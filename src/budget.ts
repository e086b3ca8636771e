// Pure arithmetic of a call budget: slot spacing (GCRA, no burst), the throttling response
// (multiplicative decrease guided by what the provider accepted) and the gradual recovery.
// src/limiter-redis.ts runs the same steps atomically in Redis; keep the two in step.
import type { Rate } from './units.js';

/** A budget's fixed parameters, derived from its configured rate. */
export interface BudgetParams {
  /** Configured calls per `durationMs`. */
  readonly max: number;
  readonly durationMs: number;
  /** Added to each window before dividing it into slots, so arrival jitter cannot put max + 1 calls in a sliding window. */
  readonly guardMs: number;
  /** The effective rate never drops below this (calls per `durationMs`). */
  readonly minRate: number;
}

/** A budget's shared state; times are epoch ms of the store's clock (Redis TIME for the shared store). */
export interface BudgetState {
  /** The next free slot (GCRA's theoretical arrival time). */
  tat: number;
  /** Effective calls per `durationMs` as last lowered; undefined while at the configured rate. */
  rate: number | undefined;
  /** When recovery from `rate` starts. */
  since: number;
  pausedUntil: number;
  /** No further decrease before this instant: one throttling episode lowers the rate once. */
  coolUntil: number;
}

/** Recovery: the effective rate grows by this share per second without throttling, up to the configured rate. */
export const GROWTH_PER_SECOND = 0.01;
/** Each throttling episode lowers the rate to at most this share of what it was... */
export const DECREASE_FACTOR = 0.9;
/** ...and at least this share, however little the provider accepted (a burst of someone else's calls). */
export const FLOOR_FACTOR = 0.15;
/** The new rate sits this much under the rate the provider was seen to accept. */
export const ACCEPT_MARGIN = 0.95;
/** A pause never ends sooner than this after a throttled answer without Retry-After. */
export const MIN_PAUSE_MS = 50;

/** Budget parameters for a configured rate. */
export function budgetParamsFor(rate: Rate): BudgetParams {
  return { max: rate.max, durationMs: rate.durationMs, guardMs: Math.min(15, rate.durationMs * 0.015), minRate: rate.max / 100 };
}

/** Calls per second for a rate given per the budget's window. */
export function perSecond(params: Pick<BudgetParams, 'durationMs'>, rate: number): number {
  return (rate * 1_000) / params.durationMs;
}

/** The rate in force at `now`: the lowered rate grown back since recovery began, capped at the configured rate. */
export function effectiveRate(state: Pick<BudgetState, 'rate' | 'since'>, params: BudgetParams, now: number): number {
  if (state.rate === undefined) return params.max;
  const grown = state.rate * (1 + GROWTH_PER_SECOND) ** (Math.max(0, now - state.since) / 1_000);
  return Math.min(params.max, grown);
}

/** The slot a caller gets at `now`, or `refused` when it lies more than `maxWaitMs` ahead. */
export function reserveSlot(state: BudgetState, params: BudgetParams, now: number, maxWaitMs: number) {
  const rate = effectiveRate(state, params, now);
  const slot = Math.max(state.tat, now, state.pausedUntil);
  const refused = slot - now > maxWaitMs;
  return { slot, refused, rate, nextTat: slot + (params.durationMs + params.guardMs) / rate };
}

/**
 * The response to a throttled answer at `now`. `accepted` is how many calls the provider took in the
 * current or previous window (granted minus throttled, whichever is larger). Within one episode
 * (before `coolUntil`) the rate is not lowered again; the pause only grows to honour Retry-After.
 */
export function onThrottled(state: BudgetState, params: BudgetParams, now: number, accepted: number, retryAfterMs: number | undefined) {
  const current = effectiveRate(state, params, now);
  if (now < state.coolUntil) {
    const pausedUntil = retryAfterMs === undefined ? state.pausedUntil : Math.max(state.pausedUntil, now + retryAfterMs);
    return { state: { ...state, pausedUntil }, pauseMs: Math.max(0, pausedUntil - now), rate: current };
  }
  const guided = Math.max(accepted * ACCEPT_MARGIN, current * FLOOR_FACTOR);
  const rate = Math.max(params.minRate, Math.min(current * DECREASE_FACTOR, guided));
  // Without Retry-After, pause for the share of the window the excess would have used: long when far
  // over the quota (the rest of the provider's window is refused anyway), short when just over it.
  const pauseMs = retryAfterMs ?? Math.max(MIN_PAUSE_MS, params.durationMs * (1 - rate / current));
  const pausedUntil = Math.max(state.pausedUntil, now + pauseMs);
  const coolUntil = Math.max(pausedUntil, now + params.durationMs);
  return { state: { ...state, rate, since: coolUntil, pausedUntil, coolUntil }, pauseMs: pausedUntil - now, rate };
}
