// Call budgets per provider: every delete call and every read call takes a slot of its own budget,
// spaced so no sliding window holds more than the configured rate, lowered on throttling (AIMD-style)
// and recovered gradually. Shared through Redis across processes and pods; in memory for a dry run.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from './config.js';
import type { ProviderName } from './providers/catalog.js';
import { ProviderError } from './providers/provider.js';
import { budgetParamsFor, effectiveRate, onThrottled, perSecond, reserveSlot, type BudgetParams, type BudgetState } from './budget.js';
import { RedisBudgetStore } from './limiter-redis.js';
import { openRedis } from './redis.js';
import { watchRedisErrors } from './redis-errors.js';
import type { Rate } from './units.js';

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
  read(key: string, params: BudgetParams): Promise<BudgetState>;
  close(): Promise<void>;
}

/** A delete call never sits in a worker longer than this waiting for a slot; beyond it the job is re-queued. */
export const MAX_DELETE_WAIT_MS = 2_000;

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
          requestsOf(provider, kind).dropAhead();
          const result = await store.throttled(keyOf(provider, kind), params, retryAfterMs);
          remember(provider, kind, params, result.rate, Date.now() + result.pauseMs);
          return result.pauseMs;
        },
      };

      async function takeSlot(kind: CallKind, signal: AbortSignal | undefined): Promise<void> {
          const params = paramsOf(provider, kind);
          const deadline = kind === 'delete' ? Date.now() + MAX_DELETE_WAIT_MS : Number.POSITIVE_INFINITY;
          for (;;) {
            const slot = await requestsOf(provider, kind).take(deadline);
            if (slot.refused) {
              throw new ProviderError('throttled', `${provider} ${kind} calls are paused for ${Math.ceil(slot.waitMs)}ms after throttling; call not sent`, {
                code: 'JANITOR.PAUSED', retryAfterMs: Math.ceil(slot.waitMs),
              });
            }
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

/** The rates of every configured provider, as the config gives them. */
export function providerRatesOf(config: Config): ProviderRates[] {
  return config.providers.map((pc) => ({ provider: pc.name, delete: pc.rateLimit, read: pc.readRateLimit, readConcurrency: pc.listConcurrency }));
}

/** A caller's slot, with when (this machine's clock) the store's answer arrived. */
type TakenSlot = SlotAnswer & { readonly answeredAt: number };

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
class SlotRequests {
  private readonly queued: { deadline: number; resolve: (answer: TakenSlot) => void; reject: (err: unknown) => void }[] = [];
  private inFlight = false;
  private readonly ahead: TakenSlot[] = [];
  /** Slots per ms at the rate the store last answered with; 0 until it has. */
  private slotsPerMs = 0;
  private demand = { since: 0, takes: 0, perMs: 0 };

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

  read(key: string, params: BudgetParams) {
    const state = this.stateOf(key);
    return Promise.resolve({ ...state, rate: effectiveRate(state, params, this.now()) });
  }

  close() {
    return Promise.resolve();
  }
}
