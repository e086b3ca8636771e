// Call budgets shared through a real Redis, as two pods would share them (two connections, two limiters).
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { budgetParamsFor } from '../src/budget.js';
import { loadConfig } from '../src/config.js';
import { createCallLimiter, UNPACED_PAUSE_MS, UNPACED_PAUSE_POLL_MS, type ProviderRates } from '../src/limiter.js';
import { MemoryBudgetStore } from '../src/limiter-memory.js';
import { RedisBudgetStore } from '../src/limiter-redis.js';
import { createMetrics } from '../src/metrics.js';
import { ProviderError } from '../src/providers/provider.js';
import { dropQueuePrefix } from '../src/redis.js';
import { UNPACED } from '../src/units.js';
import { REDIS_URL, uniquePrefix } from './helpers/redis.js';

const prefix = uniquePrefix('limiter');
const connections = [new Redis(REDIS_URL), new Redis(REDIS_URL)] as const;
afterAll(async () => {
  await dropQueuePrefix(REDIS_URL, prefix);
  for (const c of connections) c.disconnect();
});

const rates = (deletePerSecond: number, readPerSecond = 50): ProviderRates[] => ['iotda', 'mpc'].map((provider) => ({
  provider: provider as 'iotda' | 'mpc', delete: { max: deletePerSecond, durationMs: 1_000 }, read: { max: readPerSecond, durationMs: 1_000 }, readConcurrency: 3,
}));

/** Two pods: separate connections, separate limiter objects, one Redis. */
function twoPods(keyPrefix: string, deletePerSecond: number) {
  return connections.map((c) => createCallLimiter(rates(deletePerSecond), { store: new RedisBudgetStore(c), keyPrefix }));
}

describe('call budgets shared through Redis', () => {
  it('gives two processes together no more than the rate in any sliding window', async () => {
    const key = `${prefix}:window`;
    const params = budgetParamsFor({ max: 20, durationMs: 1_000 });
    const stores = connections.map((c) => new RedisBudgetStore(c));
    // 60 reservations at once from both processes: three seconds' worth of slots.
    const slots = (await Promise.all(Array.from({ length: 60 }, (_, i) => (stores[i % 2] as RedisBudgetStore).reserve(key, params, [Number.POSITIVE_INFINITY]))))
      .map((r) => r.slots[0]?.slot ?? Number.NaN).sort((a, b) => a - b);
    let most = 0;
    for (let i = 0, j = 0; i < slots.length; i++) {
      while ((slots[i] ?? 0) - (slots[j] ?? 0) >= 1_000) j++;
      most = Math.max(most, i - j + 1);
    }
    expect(most).toBeLessThanOrEqual(20);
    const achieved = ((slots.length - 1) * 1_000) / ((slots.at(-1) ?? 0) - (slots[0] ?? 0));
    expect(achieved).toBeGreaterThanOrEqual(20 * 0.98);
  });

  it('lets every process learn one process\'s throttling, and leaves other providers at full speed', async () => {
    const [podA, podB] = twoPods(`${prefix}-learn`, 50);
    const iotdaA = podA?.budgetFor('iotda');
    const iotdaB = podB?.budgetFor('iotda');
    const mpcB = podB?.budgetFor('mpc');
    for (let i = 0; i < 10; i++) await iotdaA?.take('delete');
    const pauseMs = await iotdaA?.throttled('delete', 1_000);
    expect(pauseMs).toBeGreaterThan(900);
    const seenByB = (await podB?.readStatus())?.find((s) => s.provider === 'iotda' && s.kind === 'delete');
    expect(seenByB?.effectivePerSecond).toBeLessThan(50 * 0.9 + 1e-9);
    expect(seenByB?.pausedUntil).toBeGreaterThan(Date.now() + 500);
    // Pod B's next IoTDA delete call waits out the pause that pod A was told about.
    const started = performance.now();
    await iotdaB?.take('delete');
    expect(performance.now() - started).toBeGreaterThan(500);
    // MPC's budgets and IoTDA's read budget are untouched.
    const status = await podB?.readStatus();
    expect(status?.find((s) => s.provider === 'mpc' && s.kind === 'delete')?.effectivePerSecond).toBe(50);
    expect(status?.find((s) => s.provider === 'iotda' && s.kind === 'read')).toMatchObject({ effectivePerSecond: 50, pausedUntil: 0 });
    const mpcSlot = await new RedisBudgetStore(connections[1]).reserve(`${prefix}-learn:limiter:mpc:delete`, budgetParamsFor({ max: 50, durationMs: 1_000 }), [0]);
    expect(mpcSlot).toMatchObject({ rate: 50, slots: [{ refused: false, waitMs: 0 }] });
    await mpcB?.take('delete');
  });

  it('does not send a delete call while the provider is paused for long; it says how long to wait instead', async () => {
    const [pod] = twoPods(`${prefix}-paused`, 50);
    const budget = pod?.budgetFor('iotda');
    await budget?.throttled('delete', 30_000);
    const refused = await budget?.take('delete').then(() => undefined, (err: unknown) => err);
    expect(refused).toBeInstanceOf(ProviderError);
    expect(refused).toMatchObject({ kind: 'throttled', details: { code: 'JANITOR.PAUSED' } });
    expect((refused as ProviderError).details.retryAfterMs).toBeGreaterThan(25_000);
    expect(pod?.status().find((s) => s.provider === 'iotda' && s.kind === 'delete')?.effectivePerSecond).toBeLessThan(50);
  });
});

describe('callers asking together', () => {
  it('share one reservation per round trip, and the slots keep every window of two pods at the rate', async () => {
    const keyPrefix = `${prefix}-together`;
    let storeCalls = 0;
    const granted: number[] = [];
    const pods = connections.map((c) => {
      const store = new RedisBudgetStore(c);
      const counting = Object.assign(Object.create(store) as RedisBudgetStore, {
        reserve: async (...args: Parameters<RedisBudgetStore['reserve']>) => {
          storeCalls += 1;
          const answer = await store.reserve(...args);
          granted.push(...answer.slots.filter((s) => !s.refused).map((s) => s.slot));
          return answer;
        },
      });
      return createCallLimiter(rates(50), { store: counting, keyPrefix });
    });
    // 40 delete calls at once from each pod (a worker at concurrency 40): 1.6 s of slots at 50/s.
    const started = Date.now();
    await Promise.all(pods.flatMap((pod) => Array.from({ length: 40 }, () => pod.budgetFor('iotda').take('delete'))));
    expect(storeCalls).toBeLessThanOrEqual(8); // one round trip each would be 80
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_500); // the calls waited for their slots
    // The slots handed out (on Redis's clock; a slot given up late is followed by a new one): never
    // more than the rate in any sliding second, and the rate is used.
    granted.sort((a, b) => a - b);
    let most = 0;
    for (let i = 0, j = 0; i < granted.length; i++) {
      while ((granted[i] ?? 0) - (granted[j] ?? 0) >= 1_000) j++;
      most = Math.max(most, i - j + 1);
    }
    expect(granted.length).toBeGreaterThanOrEqual(80);
    expect(most).toBeLessThanOrEqual(50);
    expect(((granted.length - 1) * 1_000) / ((granted.at(-1) ?? 0) - (granted[0] ?? 0))).toBeGreaterThanOrEqual(50 * 0.95);
  });

  it('get the same slots from the Redis script as from the in-memory arithmetic, each within its own max wait', async () => {
    const params = budgetParamsFor({ max: 10, durationMs: 1_000 });
    // Deletes may wait 250 ms, reads without limit: at 10/s the third delete's slot lies too far ahead.
    const waits = [250, Number.POSITIVE_INFINITY, 250, 250, Number.POSITIVE_INFINITY];
    const shared = await new RedisBudgetStore(connections[0]).reserve(`${prefix}:batch`, params, waits);
    const local = await new MemoryBudgetStore().reserve('batch', params, waits);
    for (const answer of [shared, local]) {
      expect(answer.rate).toBe(10);
      expect(answer.slots.map((s) => s.refused)).toEqual([false, false, false, true, false]);
      const granted = answer.slots.filter((s) => !s.refused).map((s) => s.waitMs);
      expect(granted[0]).toBeLessThan(1);
      // Spaced by (window + guard) / rate, refused callers taking no slot.
      for (let i = 1; i < granted.length; i++) expect((granted[i] ?? 0) - (granted[i - 1] ?? 0)).toBeCloseTo(101.5, 0);
    }
  });
});

describe('read calls in flight', () => {
  it('never has more read calls of one provider in flight than its listing concurrency, and frees places on abort', async () => {
    const limiter = createCallLimiter(rates(1000, 1000), { store: new MemoryBudgetStore(), keyPrefix: 'places' });
    const budget = limiter.budgetFor('iotda');
    let inFlight = 0;
    let most = 0;
    await Promise.all(Array.from({ length: 20 }, async () => {
      const release = await budget.take('read');
      inFlight += 1;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight -= 1;
      release();
    }));
    expect(most).toBe(3);
    // Three places held; a fourth waiter gives up on abort and takes no place.
    const held = await Promise.all([budget.take('read'), budget.take('read'), budget.take('read')]);
    const abort = new AbortController();
    const waiting = budget.take('read', abort.signal);
    abort.abort();
    await expect(waiting).rejects.toThrow();
    for (const release of held) release();
    const again = await Promise.all([budget.take('read'), budget.take('read'), budget.take('read')]);
    for (const release of again) release();
    // Deletes are not counted here (the workers' delete permits cap them).
    const deletes = await Promise.all(Array.from({ length: 5 }, () => budget.take('delete')));
    expect(deletes).toHaveLength(5);
    // Nor are the workers' re-reads (P_CONCURRENCY caps the tasks making them): with every listing
    // place held, a re-read still gets its slot at once.
    const listing = await Promise.all([budget.take('read'), budget.take('read'), budget.take('read')]);
    const rereads = await Promise.race([
      Promise.all(Array.from({ length: 5 }, () => budget.take('read', undefined, { listing: false }))),
      new Promise<'blocked'>((r) => setTimeout(() => r('blocked'), 2_000)),
    ]);
    expect(rereads).toHaveLength(5);
    for (const release of listing) release();
  });
});

describe('call budgets in memory (dry run)', () => {
  it('spaces one process\'s calls to the rate and pauses on throttling like the shared store', async () => {
    const limiter = createCallLimiter(rates(10), { store: new MemoryBudgetStore(), keyPrefix: 'dry' });
    const budget = limiter.budgetFor('iotda');
    const started = performance.now();
    for (let i = 0; i < 4; i++) await budget.take('delete');
    // Four slots at 10/s: the last one comes three intervals after the first.
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    const pauseMs = await budget.throttled('read', 200);
    expect(pauseMs).toBe(200);
    expect(limiter.status().find((s) => s.kind === 'read' && s.provider === 'iotda')?.effectivePerSecond).toBeLessThan(50);
    expect(limiter.status().find((s) => s.kind === 'delete' && s.provider === 'iotda')?.effectivePerSecond).toBe(10);
  });
});

describe('the effective-rate metric', () => {
  it('reads the shared limiter at scrape time: 0 while the provider is paused, then the lowered rate, not the configured one', async () => {
    const env = { JANITOR_PROVIDERS: 'iotda', IOTDA_REGION: 'cn-north-4', IOTDA_PROJECT_ID: '0123456789abcdef0123456789abcdef', IOTDA_RATE_LIMIT: '40/s', HUAWEICLOUD_SDK_AK: 'ak', HUAWEICLOUD_SDK_SK: 'sk' };
    const keyPrefix = `${prefix}:metric`;
    // One process throttled, another one scrapes: the gauge shows what they share.
    const [throttledPod, scrapingPod] = connections.map((c) => createCallLimiter(rates(40), { store: new RedisBudgetStore(c), keyPrefix }));
    const metrics = createMetrics(loadConfig(env), { version: '0.0.0', processMetrics: false, limiter: scrapingPod });
    const gauge = async () => Number(/^janitor_effective_rate_per_second\{provider="iotda"\} (\S+)$/m.exec(await metrics.registry.metrics())?.[1]);

    expect(await gauge()).toBe(40);
    await throttledPod?.budgetFor('iotda').throttled('delete', 300);
    expect(await gauge()).toBe(0);
    await sleep(350);
    const lowered = await gauge();
    expect(lowered).toBeGreaterThan(0);
    expect(lowered).toBeLessThan(40);
  });
});

describe('a slot woken up late', () => {
  it('is given up and a new one taken, rather than sent bunched with the next calls', async () => {
    const store = new MemoryBudgetStore();
    let reservations = 0;
    const counting = Object.assign(Object.create(store) as MemoryBudgetStore, {
      reserve: (...args: Parameters<MemoryBudgetStore['reserve']>) => { reservations += 1; return store.reserve(...args); },
    });
    const limiter = createCallLimiter(rates(20), { store: counting, keyPrefix: 'late' });
    const budget = limiter.budgetFor('iotda');
    await budget.take('delete'); // the first slot is now; the next one 50 ms later
    expect(reservations).toBe(1);
    // Block the event loop well past the next slot and its 15 ms guard while the call waits for it.
    setTimeout(() => { const until = Date.now() + 120; while (Date.now() < until) { /* a stalled process */ } }, 5);
    await budget.take('delete');
    expect(reservations).toBeGreaterThanOrEqual(3);
  });
});

describe('a dense budget (a rate far above what the workers use)', () => {
  /** Two pods on one Redis, counting the store's reservations and keeping every slot it granted (Redis's clock, ms). */
  function countedPods(keyPrefix: string, deletePerSecond: number) {
    const seen = { reservations: 0, granted: [] as number[] };
    const pods = connections.map((c) => {
      const store = new RedisBudgetStore(c);
      const counting = Object.assign(Object.create(store) as RedisBudgetStore, {
        reserve: async (...args: Parameters<RedisBudgetStore['reserve']>) => {
          seen.reservations += 1;
          const answer = await store.reserve(...args);
          seen.granted.push(...answer.slots.filter((s) => !s.refused).map((s) => s.slot));
          return answer;
        },
      });
      return createCallLimiter(rates(deletePerSecond), { store: counting, keyPrefix });
    });
    return { pods, seen };
  }

  it('keeps slots reserved ahead: far fewer Redis round trips than calls, and every call sent within its slot\'s guard time', async () => {
    const { pods, seen } = countedPods(`${prefix}-ahead`, 20_000);
    const sent: number[] = [];
    // 8 callers per pod, each making a "call" of 1 to 4 ms after its slot, for 400 ms.
    const until = Date.now() + 400;
    await Promise.all(pods.flatMap((pod) => Array.from({ length: 8 }, async (_, caller) => {
      const budget = pod.budgetFor('iotda');
      for (let call = 0; Date.now() < until; call++) {
        await budget.take('delete');
        sent.push(Date.now());
        await sleep(1 + ((caller + call) % 4));
      }
    })));
    expect(sent.length).toBeGreaterThan(200);
    // One reservation per call shared by the callers waiting would be about half the calls.
    expect(seen.reservations).toBeLessThan(sent.length / 4);
    // Each call went out at a slot granted to it (a slot less than 1 ms ahead is not waited for, and
    // Date.now() has whole ms) and within the guard time after it (15 ms, plus 5 ms for the callback
    // to run): match sends to granted slots in order.
    const guard = budgetParamsFor({ max: 20_000, durationMs: 1_000 }).guardMs;
    const slots = [...seen.granted].sort((a, b) => a - b);
    let next = 0;
    for (const at of [...sent].sort((a, b) => a - b)) {
      while (next < slots.length && (slots[next] ?? 0) + guard + 5 < at) next++; // given up, never sent
      expect(slots[next]).toBeDefined();
      expect(slots[next] ?? Number.NaN).toBeLessThanOrEqual(at + 2);
      next++;
    }
  });

  it('drops its slots reserved ahead on throttling: no call is sent during the pause', async () => {
    const { pods } = countedPods(`${prefix}-ahead-throttled`, 20_000);
    const budget = pods[0]?.budgetFor('iotda');
    // A busy caller group fills the slots reserved ahead.
    const until = Date.now() + 250;
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (Date.now() < until) {
        await budget?.take('delete');
        await sleep(1);
      }
    }));
    await budget?.throttled('delete', 400);
    const started = performance.now();
    await budget?.take('delete');
    expect(performance.now() - started).toBeGreaterThan(300);
  });
});

describe('calls already waiting for their slot when the provider throttles', () => {
  /** `count` delete calls of one pod waiting at once; each records when it was let through. */
  function waitingCalls(budget: ReturnType<ReturnType<typeof createCallLimiter>['budgetFor']>, count: number, sent: number[]) {
    return Array.from({ length: count }, () => budget.take('delete').then(() => { sent.push(Date.now()); }, () => undefined));
  }

  it('are not sent during the pause this process was told about', async () => {
    const [pod] = twoPods(`${prefix}-waiting`, 20);
    const budget = pod?.budgetFor('iotda');
    if (!budget) throw new Error('no pod');
    const sent: number[] = [];
    // Ten calls at 20/s: slots over the next 450 ms, each call sleeping until its own.
    const calls = waitingCalls(budget, 10, sent);
    await sleep(60);
    await budget.throttled('delete', 700);
    const pausedAt = Date.now();
    await Promise.all(calls);
    const duringPause = sent.filter((at) => at > pausedAt + 5 && at < pausedAt + 650);
    expect(duringPause).toEqual([]);
    // The others went after the pause, or (the throttling also lowered the rate) gave up at a
    // delete's 2 s wait and went back to the queue.
    expect(sent.filter((at) => at >= pausedAt + 650).length).toBeGreaterThan(0);
  });

  it('are not sent during a pause another pod was told about, once this pod has heard of it', async () => {
    const [podA, podB] = twoPods(`${prefix}-waiting-b`, 20);
    const budgetA = podA?.budgetFor('iotda');
    const budgetB = podB?.budgetFor('iotda');
    if (!budgetA || !budgetB) throw new Error('no pods');
    const sent: number[] = [];
    const calls = waitingCalls(budgetB, 10, sent);
    await sleep(60);
    await budgetA.throttled('delete', 700);
    const pausedAt = Date.now();
    // Pod B asks for another slot: its answer carries the pause.
    calls.push(...waitingCalls(budgetB, 1, sent));
    await Promise.all(calls);
    const duringPause = sent.filter((at) => at > pausedAt + 50 && at < pausedAt + 650);
    expect(duringPause).toEqual([]);
  });
});

describe('an unpaced budget (P_RATE_LIMIT=none)', () => {
  /** Two pods on one Redis with no delete rate; counts what each store is asked. */
  function unpacedPods(keyPrefix: string) {
    const asked = { reserve: 0, read: 0 };
    const pods = connections.map((c) => {
      const store = new RedisBudgetStore(c);
      const counting = Object.assign(Object.create(store) as RedisBudgetStore, {
        reserve: (...args: Parameters<RedisBudgetStore['reserve']>) => { asked.reserve += 1; return store.reserve(...args); },
        read: (...args: Parameters<RedisBudgetStore['read']>) => { asked.read += 1; return store.read(...args); },
      });
      const unpaced = rates(1).map((r) => ({ ...r, delete: UNPACED }));
      return createCallLimiter(unpaced, { store: counting, keyPrefix });
    });
    return { pods, asked };
  }

  it('sends calls without a slot: no reservation, and at most one read of its pause per 100 ms', async () => {
    const { pods, asked } = unpacedPods(`${prefix}-unpaced`);
    const budget = pods[0]?.budgetFor('iotda');
    let calls = 0;
    const started = Date.now();
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (Date.now() - started < 300) {
        await budget?.take('delete');
        calls += 1;
        await sleep(1);
      }
    }));
    expect(calls).toBeGreaterThan(100);
    expect(asked.reserve).toBe(0);
    expect(asked.read).toBeGreaterThanOrEqual(1);
    expect(asked.read).toBeLessThanOrEqual(Math.ceil((Date.now() - started) / UNPACED_PAUSE_POLL_MS) + 1);
    // Nor is the listing's read budget touched: it keeps its own rate.
    expect(pods[0]?.status().find((b) => b.provider === 'iotda' && b.kind === 'delete')?.effectivePerSecond).toBe(Number.POSITIVE_INFINITY);
  });

  it('pauses every pod when one is throttled: as the provider asks (Retry-After), or for a second', async () => {
    const { pods } = unpacedPods(`${prefix}-unpaced-throttled`);
    const [a, b] = pods.map((pod) => pod.budgetFor('iotda'));
    await a?.take('delete');
    await b?.take('delete');
    const pauseMs = await a?.throttled('delete', 600) ?? 0;
    const pauseEnds = Date.now() + pauseMs;
    expect(pauseMs).toBeGreaterThan(590);
    // The pod that was throttled waits at once; the other once its next read of the pause (one poll
    // interval after its last) has told it. Neither call goes out before the pause ends.
    const sentAt = async (budget: typeof a) => {
      await budget?.take('delete');
      return Date.now();
    };
    const [sentA, sentB] = await Promise.all([sentAt(a), sleep(UNPACED_PAUSE_POLL_MS + 10).then(() => sentAt(b))]);
    expect(sentA).toBeGreaterThanOrEqual(pauseEnds - 20);
    expect(sentB).toBeGreaterThanOrEqual(pauseEnds - 20);
    // A delete call paused for longer than a worker waits is not sent: the job is re-queued.
    expect(await a?.throttled('delete', 5_000)).toBeGreaterThan(4_900);
    await expect(a?.take('delete')).rejects.toMatchObject({ kind: 'throttled', details: { code: 'JANITOR.PAUSED' } });
    // Without Retry-After: a second.
    const { pods: others } = unpacedPods(`${prefix}-unpaced-no-retry-after`);
    const pause = await others[0]?.budgetFor('iotda').throttled('delete');
    expect(pause).toBeGreaterThan(UNPACED_PAUSE_MS - 20);
    expect(pause).toBeLessThanOrEqual(UNPACED_PAUSE_MS);
  });
});
