// Call budgets per provider: every delete call and every read call takes a slot of its own budget,
// spaced so no sliding window holds more than the configured rate, lowered on throttling (AIMD-style)
// and recovered gradually. Shared through Redis across processes and pods; in memory for a dry run.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from './config.js';
import type { ProviderName } from './providers/catalog.js';
import { ProviderError } from './providers/provider.js';
import { budgetParamsFor, perSecond, type BudgetParams, type BudgetState } from './budget.js';
import { MemoryBudgetStore } from './limiter-memory.js';
import { RedisBudgetStore } from './limiter-redis.js';
import { openRedis } from './redis.js';
import { SlotRequests } from './slot-requests.js';
import { watchRedisErrors } from './redis-errors.js';
import { isPaced, type Rate } from './units.js';

/** Which budget a call draws on: providers meter their delete and read APIs separately. */
export type CallKind = 'delete' | 'read';

/** Ends a call: frees its place among the read calls in flight. */
export type ReleaseCall = () => void;

/** What a provider adapter holds: take a slot before each call, report each throttled answer. */
export interface CallBudget {
  /**
   * Waits for the next slot of this provider's `kind` budget; call the returned function when the
   * call has completed. A listing's read call first waits for one of P_LIST_CONCURRENCY places in
   * flight (in this process), then for its slot (until `signal`); a worker's re-read (`listing:
   * false`) takes only the slot, as P_CONCURRENCY already bounds the tasks making one. A delete call
   * waits at most a few seconds: while the provider is paused for longer it throws a throttled
   * ProviderError (not sent), which the worker turns into BullMQ's rate-limit path.
   */
  take(kind: CallKind, signal?: AbortSignal, options?: { readonly listing?: boolean }): Promise<ReleaseCall>;
  /** The provider answered a call with throttling: pause it, lower its effective rate. Returns the pause in ms. */
  throttled(kind: CallKind, retryAfterMs?: number): Promise<number>;
}

/** The limiter's view of one budget, for metrics and status. */
export interface BudgetStatus {
  readonly provider: ProviderName;
  readonly kind: CallKind;
  /** Configured calls per second (P_RATE_LIMIT or P_READ_RATE_LIMIT, converted). */
  readonly configuredPerSecond: number;
  /** Calls per second the limiter currently allows, after throttling lowered it. */
  readonly effectivePerSecond: number;
  /** Until when (epoch ms) the provider's calls of this kind are paused; 0 when not paused. */
  readonly pausedUntil: number;
}

/** Calls per second a budget lets through at `now`: its effective rate, or 0 while it is paused. */
export function allowedPerSecond(budget: BudgetStatus, now = Date.now()): number {
  return budget.pausedUntil > now ? 0 : budget.effectivePerSecond;
}

/** One caller's answer from a reservation. */
export interface SlotAnswer {
  readonly slot: number;
  readonly waitMs: number;
  readonly refused: boolean;
}

/** A store's answer to one reservation. */
export interface Reservation {
  readonly rate: number;
  /** How long the budget stays paused after throttling (ms from the answer), 0 when it is not. */
  readonly pausedMs: number;
  readonly slots: readonly SlotAnswer[];
}

/** Where budget state lives: one Redis for every process, or this process's memory. */
export interface BudgetStore {
  /**
   * Reserves the next slots, one per caller in `maxWaitsMs` order, spaced as if each caller had
   * reserved alone: each slot's instant on the store's clock and the wait until it (ms); `refused`
   * (nothing reserved for that caller) when its wait would exceed its own max wait. With the
   * effective rate they were spaced by, and how long the budget stays paused (ms, 0 when it is not).
   */
  reserve(key: string, params: BudgetParams, maxWaitsMs: readonly number[]): Promise<Reservation>;
  throttled(key: string, params: BudgetParams, retryAfterMs: number | undefined): Promise<{ pauseMs: number; rate: number }>;
  /** An unpaced budget (`none`) was throttled: pauses it for at least `pauseMs`; returns the pause left (ms). */
  pause(key: string, pauseMs: number): Promise<number>;
  read(key: string, params: BudgetParams): Promise<BudgetState>;
  close(): Promise<void>;
}

/** A delete call never sits in a worker longer than this waiting for a slot; beyond it the job is re-queued. */
export const MAX_DELETE_WAIT_MS = 2_000;

/** An unpaced budget (`none`) throttled without Retry-After pauses for the rest of the provider's second. */
export const UNPACED_PAUSE_MS = 1_000;

/** How stale this process's view of an unpaced budget's pause may be: it reads Redis at most this often. */
export const UNPACED_PAUSE_POLL_MS = 100;

export interface CallLimiter {
  budgetFor(provider: ProviderName): CallBudget;
  /** The last known state of every budget (updated by each call in this process). */
  status(): readonly BudgetStatus[];
  /** The state of every budget as Redis holds it now (all processes). */
  readStatus(): Promise<readonly BudgetStatus[]>;
  close(): Promise<void>;
}

/** Rate limits of one provider's two budgets, and how many of its read calls may be in flight at once. */
export interface ProviderRates {
  readonly provider: ProviderName;
  readonly delete: Rate;
  readonly read: Rate;
  readonly readConcurrency: number;
}

/**
 * The limiter of a process: budgets shared through Redis (its own connection, opened lazily), or in
 * memory for a dry run, which needs no Redis. Close it after the workers.
 */
export function limiterFor(config: Config): CallLimiter {
  const rates = providerRatesOf(config);
  if (config.dryRun) return createCallLimiter(rates, { store: new MemoryBudgetStore(), keyPrefix: config.queuePrefix });
  const redis = openRedis(config.redis);
  watchRedisErrors(redis, () => undefined); // named by the calls that wait on it
  return createCallLimiter(rates, { store: new RedisBudgetStore(redis, { owned: true }), keyPrefix: config.queuePrefix });
}

/** Builds a limiter over a store: `new RedisBudgetStore(redis)` to share it, `new MemoryBudgetStore()` for one process. */
export function createCallLimiter(rates: readonly ProviderRates[], options: { readonly store: BudgetStore; readonly keyPrefix: string }): CallLimiter {
  const { store } = options;
  const known = new Map<string, BudgetStatus>();
  const paramsOf = (provider: ProviderName, kind: CallKind): BudgetParams => {
    const rate = rates.find((r) => r.provider === provider)?.[kind];
    if (!rate) throw new Error(`no call budget configured for provider ${provider}`);
    return budgetParamsFor(rate);
  };
  const keyOf = (provider: ProviderName, kind: CallKind) => `${options.keyPrefix}:limiter:${provider}:${kind}`;
  // A pause only ever grows: an answer computed before this process reported throttling must not end it.
  const remember = (provider: ProviderName, kind: CallKind, params: BudgetParams, rate: number, pausedUntil = 0) => {
    const previous = known.get(keyOf(provider, kind));
    known.set(keyOf(provider, kind), {
      provider, kind, configuredPerSecond: perSecond(params, params.max), effectivePerSecond: perSecond(params, rate),
      pausedUntil: Math.max(pausedUntil, previous?.pausedUntil ?? 0),
    });
  };
  /** Until when this process knows the budget to be paused (it was throttled here, or a reservation said so). */
  const pausedUntilOf = (provider: ProviderName, kind: CallKind) => known.get(keyOf(provider, kind))?.pausedUntil ?? 0;
  for (const r of rates) for (const kind of ['delete', 'read'] as const) remember(r.provider, kind, paramsOf(r.provider, kind), paramsOf(r.provider, kind).max);

  const readPlaces = new Map(rates.map((r) => [r.provider, new Places(r.readConcurrency)]));
  const requests = new Map<string, SlotRequests>();
  const requestsOf = (provider: ProviderName, kind: CallKind) => {
    const key = keyOf(provider, kind);
    let queue = requests.get(key);
    if (!queue) {
      const params = paramsOf(provider, kind);
      queue = new SlotRequests(async (maxWaitsMs) => {
        const answer = await store.reserve(key, params, maxWaitsMs);
        remember(provider, kind, params, answer.rate, answer.pausedMs > 0 ? Date.now() + answer.pausedMs : 0);
        return answer;
      }, params);
      requests.set(key, queue);
    }
    return queue;
  };
  const noop: ReleaseCall = () => undefined;
  // Unpaced budgets: when this process last read each one's pause from the store, and the read in flight.
  const pauseReads = new Map<string, { at: number; reading?: Promise<void> }>();
  /** Reads an unpaced budget's pause from the store once the last read is older than UNPACED_PAUSE_POLL_MS; callers meanwhile wait for that read. */
  const pauseKnown = (provider: ProviderName, kind: CallKind): Promise<void> => {
    const key = keyOf(provider, kind);
    const last = pauseReads.get(key) ?? { at: 0 };
    pauseReads.set(key, last);
    if (last.reading) return last.reading;
    if (Date.now() - last.at < UNPACED_PAUSE_POLL_MS) return Promise.resolve();
    const params = paramsOf(provider, kind);
    last.reading = store.read(key, params)
      .then((state) => remember(provider, kind, params, params.max, state.pausedUntil))
      .finally(() => {
        last.at = Date.now();
        delete last.reading;
      });
    return last.reading;
  };

  return {
    budgetFor(provider) {
      return {
        async take(kind, signal, options) {
          const places = kind === 'read' && options?.listing !== false ? readPlaces.get(provider) : undefined;
          const release = places ? await places.acquire(signal) : noop;
          try {
            await takeSlot(kind, signal);
          } catch (err) {
            release();
            throw err;
          }
          return release;
        },
        async throttled(kind, retryAfterMs) {
          const params = paramsOf(provider, kind);
          if (!isPaced(params)) {
            // No rate to lower: every process pauses as the provider asks (Retry-After), or for a second.
            const pauseMs = await store.pause(keyOf(provider, kind), retryAfterMs ?? UNPACED_PAUSE_MS);
            remember(provider, kind, params, params.max, Date.now() + pauseMs);
            return pauseMs;
          }
          requestsOf(provider, kind).dropAhead();
          const result = await store.throttled(keyOf(provider, kind), params, retryAfterMs);
          remember(provider, kind, params, result.rate, Date.now() + result.pauseMs);
          return result.pauseMs;
        },
      };

      async function takeSlot(kind: CallKind, signal: AbortSignal | undefined): Promise<void> {
          const params = paramsOf(provider, kind);
          if (!isPaced(params)) return await waitOutPause(kind, signal);
          const deadline = kind === 'delete' ? Date.now() + MAX_DELETE_WAIT_MS : Number.POSITIVE_INFINITY;
          for (;;) {
            const slot = await requestsOf(provider, kind).take(deadline);
            if (slot.refused) throw pausedError(provider, kind, slot.waitMs);
            // The slot on this machine's clock: from when the store's answer arrived, not from when this
            // caller got to run (callers sharing an answer run one after another).
            const at = slot.answeredAt + slot.waitMs;
            if (at - Date.now() >= 1) await sleep(at - Date.now(), undefined, signal ? { signal } : undefined);
            // Slots are spaced so that a call sent up to guardMs after its slot still keeps every
            // window at the rate. A wake-up later than that (a busy event loop) would bunch this call
            // with the next ones: give the slot up and take a new one rather than send it late.
            // Nor is a slot that lies within a pause sent: given before the provider throttled (this
            // process was throttled, or a later reservation here said so), it is replaced by one after
            // the pause. A guard time of tolerance: the pause's end is known here only as late as its
            // answer arrived, which a busy event loop delays.
            if (Date.now() - at <= params.guardMs && at >= pausedUntilOf(provider, kind) - params.guardMs) return;
          }
      }

      /**
       * An unpaced budget (`none`): no slot, no Redis round trip per call. The call only waits out a
       * pause after throttling, which this process learns at once when it is the one throttled, and
       * from Redis within UNPACED_PAUSE_POLL_MS when another process was.
       */
      async function waitOutPause(kind: CallKind, signal: AbortSignal | undefined): Promise<void> {
        for (;;) {
          await pauseKnown(provider, kind);
          const waitMs = pausedUntilOf(provider, kind) - Date.now();
          if (waitMs <= 0) return;
          if (kind === 'delete' && waitMs > MAX_DELETE_WAIT_MS) throw pausedError(provider, kind, waitMs);
          await sleep(waitMs, undefined, signal ? { signal } : undefined);
        }
      }
    },
    status: () => [...known.values()],
    async readStatus() {
      const out: BudgetStatus[] = [];
      for (const r of rates) {
        for (const kind of ['delete', 'read'] as const) {
          const params = paramsOf(r.provider, kind);
          const state = await store.read(keyOf(r.provider, kind), params);
          out.push({
            provider: r.provider, kind, configuredPerSecond: perSecond(params, params.max),
            effectivePerSecond: perSecond(params, state.rate ?? params.max), pausedUntil: state.pausedUntil,
          });
        }
      }
      return out;
    },
    close: () => store.close(),
  };
}

function pausedError(provider: ProviderName, kind: CallKind, waitMs: number): ProviderError {
  return new ProviderError('throttled', `${provider} ${kind} calls are paused for ${Math.ceil(waitMs)}ms after throttling; call not sent`, {
    code: 'JANITOR.PAUSED', retryAfterMs: Math.ceil(waitMs),
  });
}

/** The rates of every configured provider, as the config gives them. */
export function providerRatesOf(config: Config): ProviderRates[] {
  return config.providers.map((pc) => ({ provider: pc.name, delete: pc.rateLimit, read: pc.readRateLimit, readConcurrency: pc.listConcurrency }));
}

/** A counting semaphore: at most `size` holders; waiters are served first come, first served. */
class Places {
  private free: number;
  private readonly waiting: (() => void)[] = [];

  constructor(size: number) {
    this.free = size;
  }

  async acquire(signal?: AbortSignal): Promise<ReleaseCall> {
    if (this.free > 0) {
      this.free -= 1;
    } else {
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          const at = this.waiting.indexOf(grant);
          if (at >= 0) this.waiting.splice(at, 1);
          reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
        };
        const grant = () => { signal?.removeEventListener('abort', onAbort); resolve(); };
        if (signal?.aborted) return onAbort();
        signal?.addEventListener('abort', onAbort, { once: true });
        this.waiting.push(grant);
      });
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.free += 1;
    };
  }
}
