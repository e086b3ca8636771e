// The CronJob flow: produce, work until every job this run enqueued has settled or the deadline, summarise.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Job, Queue, type Worker } from 'bullmq';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import type { RunObserver } from './observer.js';
import { enqueueCandidates } from './producer.js';
import type { ProviderName } from './providers/catalog.js';
import type { Provider } from './providers/provider.js';
import { queueNameFor, type DeleteJobData, type DeleteJobResult } from './queue.js';
import { assertRedisReachable, describeRedis, openRedis, workerConnection, type RedisClient } from './redis.js';
import type { Shutdown } from './shutdown.js';
import { countInto, exitCodeFor, type TargetStats } from './summary.js';
import { startDeleteWorker } from './worker.js';

export interface RunDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly providers: ReadonlyMap<ProviderName, Provider>;
  readonly shutdown: Shutdown;
  readonly now?: () => Date;
  /** Called about once a second while jobs settle, for a live display. */
  readonly onProgress?: (stats: readonly TargetStats[], pending: number) => void;
  /** Metrics and audit trail: told about workers, listings and the finished run. */
  readonly observer?: RunObserver;
}

export interface RunReport {
  readonly runId: string;
  readonly stats: readonly TargetStats[];
  readonly exitCode: 0 | 1 | 3;
}

export type Queues = ReadonlyMap<ProviderName, Queue<DeleteJobData>>;

/** Opens one queue per configured provider, with the provider's global concurrency cap. */
export async function openQueues(config: Config, redis: RedisClient, shutdown: Shutdown): Promise<Queues> {
  const queues = new Map<ProviderName, Queue<DeleteJobData>>();
  for (const pc of config.providers) {
    const queue = new Queue<DeleteJobData>(queueNameFor(pc.name), { connection: redis, prefix: config.queuePrefix });
    shutdown.onClose(`queue ${pc.name}`, () => queue.close());
    await queue.setGlobalConcurrency(pc.concurrency);
    queues.set(pc.name, queue);
  }
  return queues;
}

/** Starts one worker per provider; each closes gracefully (in-flight deletes finish) on shutdown. */
export function startWorkers(deps: RunDeps, queues: Queues): Worker[] {
  deps.observer?.queuesOpened?.(queues);
  // BullMQ duplicates this lazy template into each worker's own connections and closes those.
  const connection = workerConnection(deps.config.redis);
  deps.shutdown.onClose('worker connection template', () => Promise.resolve(connection.disconnect()));
  return deps.config.providers.map((pc) => {
    const worker = startDeleteWorker({
      config: deps.config, providerConfig: pc, provider: providerOf(deps, pc.name), queue: queues.get(pc.name) as Queue<DeleteJobData>,
      logger: deps.logger, now: deps.now ?? (() => new Date()), connection,
    });
    deps.shutdown.onClose(`worker ${pc.name}`, () => worker.close());
    deps.observer?.workerStarted?.(worker, pc);
    return worker;
  });
}

/** Connects to Redis (exit 3 within seconds if it is down) and registers its close. */
export async function connectRedis(config: Config, shutdown: Shutdown): Promise<RedisClient> {
  await assertRedisReachable(config.redis);
  const redis = openRedis(config.redis);
  redis.on('error', () => undefined); // surfaced by the commands that fail; ioredis keeps reconnecting
  shutdown.onClose('redis', () => redis.quit());
  return redis;
}

function providerOf(deps: RunDeps, name: ProviderName): Provider {
  const provider = deps.providers.get(name);
  if (!provider) throw new Error(`provider ${name} was not built`);
  return provider;
}

/**
 * `run` (produce + work until settled) or `produce` (enqueue only). A dry run touches no queue and
 * needs no Redis: it lists, judges and reports what would be deleted.
 */
export async function runCleanup(deps: RunDeps, mode: 'run' | 'produce', opened?: { readonly redis: RedisClient; readonly queues: Queues }): Promise<RunReport> {
  const { config, logger } = deps;
  const now = deps.now ?? (() => new Date());
  const startedAt = Date.now();
  const runId = `${startedAt.toString(36)}${randomBytes(3).toString('hex')}`;
  const abort = new AbortController();
  void deps.shutdown.signalled.then(() => abort.abort());
  const timer = setTimeout(() => abort.abort(), config.maxRuntimeMs);
  timer.unref();
  logger.info({ runId, mode, dryRun: config.dryRun, providers: config.providers.map((p) => p.name), redis: describeRedis(config.redis), queuePrefix: config.queuePrefix }, 'run started');

  let queues = opened?.queues;
  let redis = opened?.redis;
  if (!config.dryRun && !opened) {
    redis = await connectRedis(config, deps.shutdown);
    queues = await openQueues(config, redis, deps.shutdown);
    if (mode === 'run') startWorkers(deps, queues);
  }
  const pending = new Map<string, { queue: Queue<DeleteJobData>; stats: TargetStats }>();
  const perProvider = await Promise.all(config.providers.map((pc) => enqueueCandidates({
    config, provider: providerOf(deps, pc.name), providerConfig: pc, logger, now, runId, signal: abort.signal,
    ...(queues && redis ? { queue: queues.get(pc.name) as Queue<DeleteJobData>, redis } : {}),
    onEnqueued: (ids, stats) => { for (const id of ids) pending.set(id, { queue: queues?.get(pc.name) as Queue<DeleteJobData>, stats }); },
  })));
  const stats = perProvider.flat();
  for (const s of stats) deps.observer?.targetListed?.(s);

  if (mode === 'run' && !config.dryRun) {
    await waitUntilSettled(pending, stats, abort.signal, deps.onProgress);
    // `produce` leaves its jobs to the workers; only `run` owes their outcome.
    for (const { stats: s } of pending.values()) s.unsettled += 1;
  }
  clearTimeout(timer);
  const finishedAt = Date.now();
  for (const s of stats) s.finishedAt = finishedAt;
  const exitCode = exitCodeFor(stats);
  logger.info({ runId, exitCode, stats }, 'run finished');
  deps.observer?.runFinished?.({ runId, mode, stats, exitCode, durationMs: finishedAt - startedAt });
  return { runId, stats, exitCode };
}

/** Polls this run's jobs until each one has settled (completed, or failed for good), or `signal` (deadline or shutdown). */
async function waitUntilSettled(
  pending: Map<string, { queue: Queue<DeleteJobData>; stats: TargetStats }>, stats: readonly TargetStats[],
  signal: AbortSignal, onProgress: RunDeps['onProgress'],
): Promise<void> {
  let lastProgress = 0;
  while (pending.size > 0 && !signal.aborted) {
    const ids = [...pending.keys()].slice(0, 2_000);
    await Promise.all(ids.map(async (id) => {
      const entry = pending.get(id);
      if (!entry) return;
      const job = await Job.fromId<DeleteJobData, DeleteJobResult>(entry.queue, id).catch(() => null);
      if (job === null) return; // Redis hiccup: ask again next round
      if (job === undefined) {
        // Removed before we saw it settle (only possible with a tiny JANITOR_KEEP_FINISHED).
        countInto(entry.stats.failed, 'job removed before its outcome was read');
        pending.delete(id);
      } else if (job.finishedOn !== undefined) {
        recordOutcome(entry.stats, job);
        pending.delete(id);
      }
    }));
    if (onProgress && Date.now() - lastProgress >= 1_000) {
      onProgress(stats, pending.size);
      lastProgress = Date.now();
    }
    if (pending.size > 0) await sleep(200);
  }
  onProgress?.(stats, pending.size);
}

function recordOutcome(stats: TargetStats, job: Job<DeleteJobData, DeleteJobResult>): void {
  stats.retries += Math.max(0, job.attemptsMade - 1);
  const results = job.returnvalue?.results ?? (job.failedReason ? job.data.done ?? [] : []);
  for (const r of results) {
    if (r.result === 'deleted') stats.deleted += 1;
    else if (r.result === 'gone') stats.gone += 1;
    else countInto(stats.skipped, r.reason ?? 'changed-before-delete');
  }
  if (job.failedReason) {
    const settled = new Set(results.map((r) => r.id));
    const failed = job.data.tasks.filter((t) => !settled.has(t.id)).length;
    if (failed > 0) countInto(stats.failed, job.failedReason, failed);
  }
}
