// Runs the janitor in-process against a simulator, the way main.ts wires it, with a silent logger.
import { Writable } from 'node:stream';
import { Queue, QueueEvents } from 'bullmq';
import { afterEach } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { limiterFor } from '../../src/limiter.js';
import { createLogger } from '../../src/logger.js';
import type { ProviderName } from '../../src/providers/catalog.js';
import { createProviders } from '../../src/providers/registry.js';
import { queueNameFor, type DeleteJobData } from '../../src/queue.js';
import { dropQueuePrefix } from '../../src/redis.js';
import { connectRedis, openQueues, runCleanup, startWorkers, type RunReport } from '../../src/run.js';
import { createShutdown } from '../../src/shutdown.js';
import { simulatorEnvironment } from '../../src/simulator/env.js';
import { iotdaTime } from '../../src/simulator/iotda.js';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/server.js';
import { REDIS_URL, uniquePrefix } from './redis.js';

/** Environment that points the given providers at the simulator, signing with AK/SK. */
export function simulatorEnv(sim: Simulator, providers: readonly ProviderName[], prefix: string, extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {
    REDIS_URL, JANITOR_QUEUE_PREFIX: prefix, JANITOR_PROVIDERS: providers.join(','), JANITOR_DRY_RUN: 'false',
    JANITOR_BACKOFF: '1s', JANITOR_MAX_RUNTIME: '2m', LOG_LEVEL: 'silent',
    // work and daemon serve metrics: any free port, so test files running at once never collide.
    JANITOR_METRICS_PORT: '0',
    ...simulatorEnvironment(sim.url, providers),
  };
  for (const p of providers) {
    env[`${p.toUpperCase()}_RATE_LIMIT`] = '1000/s';
    env[`${p.toUpperCase()}_READ_RATE_LIMIT`] = '1000/s';
  }
  return { ...env, ...extra };
}

/** Per-file bookkeeping of what a test started; everything is released after each test. */
export interface SimulatorFixture {
  /** Starts a simulator that is closed after the test. */
  start(options?: SimulatorOptions): Promise<Simulator>;
  /** A fresh queue prefix whose Redis keys are dropped after the test. */
  prefix(label?: string): string;
  /** Runs `release` after the test, before anything registered earlier. */
  onCleanup(release: () => Promise<unknown>): void;
}

/**
 * Registers an `afterEach` that releases, last first, every simulator, queue prefix and cleanup
 * the test registered through the returned fixture. Call once per file (or describe block).
 */
export function useSimulators(label: string): SimulatorFixture {
  const releasers: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    // Release everything even when one step fails, then report the first failure.
    const failures: unknown[] = [];
    for (const release of releasers.splice(0).reverse()) await release().catch((err: unknown) => failures.push(err));
    if (failures.length > 0) throw failures[0];
  });
  return {
    async start(options) {
      const sim = await startSimulator(options);
      releasers.push(() => sim.close());
      return sim;
    },
    prefix(prefixLabel = label) {
      const prefix = uniquePrefix(prefixLabel);
      releasers.push(() => dropQueuePrefix(REDIS_URL, prefix));
      return prefix;
    },
    onCleanup(release) {
      releasers.push(release);
    },
  };
}

/**
 * Starts real workers for one provider on a fresh queue prefix and opens a raw handle on their
 * queue, for tests that push hand-made jobs straight into Redis. All of it closes after the test.
 */
export async function startWorkersWithQueue(
  fixture: SimulatorFixture, sim: Simulator, provider: ProviderName, prefixLabel: string, extra: Record<string, string>,
): Promise<{ queue: Queue<DeleteJobData>; events: QueueEvents }> {
  const prefix = fixture.prefix(prefixLabel);
  const config = loadConfig(simulatorEnv(sim, [provider], prefix, extra));
  const logger = createLogger('silent');
  const shutdown = createShutdown(logger, { graceMs: 5_000, handleSignals: false });
  fixture.onCleanup(() => shutdown.close());
  const limiter = limiterFor(config);
  shutdown.onClose('call limiter', () => limiter.close());
  const queues = await openQueues(config, await connectRedis(config, shutdown, logger), shutdown, logger);
  startWorkers({ config, logger, providers: createProviders(config, undefined, undefined, limiter), shutdown }, queues);
  const queue = new Queue<DeleteJobData>(queueNameFor(provider), { connection: { url: REDIS_URL }, prefix });
  const events = new QueueEvents(queueNameFor(provider), { connection: { url: REDIS_URL }, prefix });
  fixture.onCleanup(() => queue.close());
  fixture.onCleanup(() => events.close());
  await events.waitUntilReady();
  return { queue, events };
}

/**
 * Produces (lists and enqueues) on the given environment, without workers, and hands back what
 * `startWorkers` needs to work the queued jobs later: for tests that change tasks in between.
 * Everything closes after the test (or earlier, through the returned shutdown).
 */
export async function produceOnly(fixture: SimulatorFixture, env: Record<string, string>, options: { now?: () => Date } = {}) {
  const config = loadConfig(env);
  const logger = createLogger('silent');
  const shutdown = createShutdown(logger, { graceMs: 5_000, handleSignals: false });
  fixture.onCleanup(() => shutdown.close());
  const deps = { config, logger, providers: createProviders(config), shutdown, ...(options.now ? { now: options.now } : {}) };
  const redis = await connectRedis(config, shutdown, logger);
  const queues = await openQueues(config, redis, shutdown, logger);
  const report = await runCleanup(deps, 'produce', { redis, queues });
  // `workerNow`: the workers' own clock, for a worker on another machine than the producer.
  return { report, queues, shutdown, startWorkers: (workerNow?: () => Date) => startWorkers(workerNow ? { ...deps, now: workerNow } : deps, queues) };
}

/** Collects pino lines so tests can assert on log events. */
export function captureLogs(): { lines: Record<string, unknown>[]; stream: Writable } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, stream };
}

/** `now`: the janitor's clock (policy and re-check), for tests that let days pass between runs. */
export async function runJanitor(env: Record<string, string>, options: { mode?: 'run' | 'produce'; logs?: Writable; logLevel?: string; now?: () => Date } = {}): Promise<RunReport> {
  const config = loadConfig(env);
  const logger = createLogger(options.logLevel ?? (options.logs ? 'debug' : 'silent'), options.logs);
  const shutdown = createShutdown(logger, { graceMs: 10_000, handleSignals: false });
  // As main wires it: budgets shared through Redis (in memory for a dry run), closed after the workers.
  const limiter = limiterFor(config);
  shutdown.onClose('call limiter', () => limiter.close());
  try {
    return await runCleanup({ config, logger, providers: createProviders(config, undefined, undefined, limiter), shutdown, ...(options.now ? { now: options.now } : {}) }, options.mode ?? 'run');
  } finally {
    await shutdown.close();
  }
}

/** The ids a correct janitor deletes, computed from the seeder's own facts, not from our policy code. */
export function expectedDeletions(sim: Simulator, provider: ProviderName, project: string, deletable: readonly string[], retentionMs: number): string[] {
  return sim.expectedDeletions(provider, project, deletable, retentionMs);
}

/**
 * IoTDA tasks (createDevices) for the fault runs: 60 stale terminal ones in all four terminal states
 * (the oracle's set, sorted) and 10 that must stay, 5 running and 5 fresh terminal ones.
 */
export function seedStaleAndKept(sim: Simulator, project: string): { stale: string[]; kept: string[] } {
  const day = 86_400_000;
  const old = iotdaTime(new Date(Date.now() - 30 * day));
  const fresh = iotdaTime(new Date(Date.now() - day));
  let n = 0;
  const put = (status: string, createTime: string) => {
    const id = (++n).toString(16).padStart(24, '0');
    sim.put('iotda', project, { task_id: id, task_type: 'createDevices', status, create_time: createTime });
    return id;
  };
  const terminal = ['Success', 'Fail', 'PartialSuccess', 'Stopped'];
  const stale = Array.from({ length: 60 }, (_, i) => put(terminal[i % terminal.length] as string, old));
  const kept = [...Array.from({ length: 5 }, () => put('Processing', old)), ...Array.from({ length: 5 }, () => put('Success', fresh))];
  return { stale: stale.sort(), kept };
}
