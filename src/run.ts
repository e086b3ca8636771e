// The CronJob flow: produce, work until every job this run enqueued has settled or the deadline, summarise.
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue, type Worker } from 'bullmq';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import type { RunObserver } from './observer.js';
import { decideValves } from './caps.js';
import { deleteJobSlotsFor, DeletePermits } from './delete-permits.js';
import type { DecisionEvent, ProviderValves } from './judging.js';
import { enqueueCandidates, type HeldJob } from './producer.js';
import { createOutcomeTracker, type OutcomeTracker } from './tracker.js';
import type { ProviderName } from './providers/catalog.js';
import type { Provider } from './providers/provider.js';
import { concurrencyKeyFor, queueNameFor, type DeleteJobData, type DeleteJobResult } from './queue.js';
import { assertRedisReachable, createRedisClient, describeRedis, openRedis, workerConnection, type RedisClient } from './redis.js';
import { guardDeploymentScope } from './scope-guard.js';
import { redisCause, watchRedisErrors } from './redis-errors.js';
import { repeatLimitedLog } from './repeat-log.js';
import type { Shutdown } from './shutdown.js';
import { scopeOf } from './scope.js';
import { exitCodeFor, newTargetStats, type ExitCode, type TargetStats } from './summary.js';
import { startDeleteWorker } from './worker.js';

export interface RunDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly providers: ReadonlyMap<ProviderName, Provider>;
  readonly shutdown: Shutdown;
  readonly now?: () => Date;
  /** Called about once a second while jobs settle, for a live display. */
  readonly onProgress?: (stats: readonly TargetStats[], pendingTasks: number) => void;
  /** Metrics and audit trail: told about workers, listings and the finished run. */
  readonly observer?: RunObserver;
  /** Told of every listed task's decision (`plan`, `explain`). */
  readonly onDecision?: (event: DecisionEvent) => void;
  /** Awaited after each listed page's decisions (`plan` waits there for a slow reader of its output). */
  readonly afterPage?: () => Promise<void>;
  /** Handed the run's live report as it starts: what a forced exit (second signal, watchdog) prints. */
  readonly onRunStarted?: (snapshot: () => RunReport) => void;
}

export interface RunReport {
  readonly runId: string;
  readonly stats: readonly TargetStats[];
  readonly exitCode: ExitCode;
  /**
   * Set when a provider ages from observation (P_AGE_FROM=observed): its first sightings were
   * `recorded` (a real run), `read` (a dry run with Redis), or `unknown` (a dry run without Redis:
   * every terminal task counted as seen just now).
   */
  readonly sightings?: 'recorded' | 'read' | 'unknown';
}

export type Queues = ReadonlyMap<ProviderName, Queue<DeleteJobData>>;

/** Opens one queue per configured provider, with the provider's global cap on active delete jobs (src/delete-permits.ts). */
export async function openQueues(config: Config, redis: RedisClient, shutdown: Shutdown, logger: Logger): Promise<Queues> {
  const queues = new Map<ProviderName, Queue<DeleteJobData>>();
  for (const pc of config.providers) {
    const queue = new Queue<DeleteJobData>(queueNameFor(pc.name), { connection: redis, prefix: config.queuePrefix });
    const logError = repeatLimitedLog(logger, 'error');
    queue.on('error', (err) => logError(redisCause(err, redis), { provider: pc.name, redis: describeRedis(config.redis), cause: redisCause(err, redis) }, 'queue error'));
    shutdown.onClose(`queue ${pc.name}`, () => queue.close());
    const jobSlots = deleteJobSlotsFor(pc);
    const before = await queue.getGlobalConcurrency();
    if (before !== null && before !== jobSlots) {
      // The last process to start sets it, and each works its permits out from its own P: say so.
      const variable = `${pc.name.toUpperCase()}_CONCURRENCY`;
      logger.warn({ provider: pc.name, activeJobsBefore: before, activeJobsNow: jobSlots, [variable]: pc.concurrency },
        `${variable}: the queue allowed ${before} active delete jobs, set by another process on this queue prefix (another ${variable}, or an older version); now ${jobSlots} (${variable}=${pc.concurrency}). Give every process on the prefix the same value`);
    }
    await queue.setGlobalConcurrency(jobSlots);
    // The P that J came from, so that every worker on the prefix shares permits out by the same P and J.
    await redis.set(concurrencyKeyFor(config.queuePrefix, pc.name), String(pc.concurrency));
    queues.set(pc.name, queue);
  }
  await guardDeploymentScope(config, redis, queues, shutdown);
  return queues;
}

/** Starts one worker per provider; each closes gracefully (in-flight deletes finish) on shutdown. */
export function startWorkers(deps: RunDeps, queues: Queues): Worker<DeleteJobData, DeleteJobResult>[] {
  deps.observer?.queuesOpened?.(queues);
  // BullMQ duplicates this lazy template into each worker's own connections and closes those.
  const connection = workerConnection(deps.config.redis);
  deps.shutdown.onClose('worker connection template', () => Promise.resolve(connection.disconnect()));
  return deps.config.providers.map((pc) => {
    const permits = new DeletePermits(pc.concurrency, deleteJobSlotsFor(pc));
    const worker = startDeleteWorker({
      config: deps.config, providerConfig: pc, provider: providerOf(deps, pc.name), queue: queues.get(pc.name) as Queue<DeleteJobData>,
      logger: deps.logger, now: deps.now ?? (() => new Date()), connection, permits,
    });
    // A stop step: on shutdown every worker stops taking jobs at once; in-flight deletes finish within the grace.
    deps.shutdown.onStop(`worker ${pc.name}`, () => worker.close());
    deps.observer?.workerStarted?.(worker, pc, permits);
    return worker;
  });
}

/** Connects to Redis (exit 3 within seconds if it is down) and registers its close. */
export async function connectRedis(config: Config, shutdown: Shutdown, logger: Logger): Promise<RedisClient> {
  await assertRedisReachable(config.redis);
  const redis = openRedis(config.redis);
  // ioredis keeps reconnecting; the commands that fail say what they could not do, this says why.
  const logError = repeatLimitedLog(logger, 'warn');
  watchRedisErrors(redis, (err) => logError(redisCause(err), { redis: describeRedis(config.redis), cause: redisCause(err) }, 'Redis connection error'));
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
 * needs no Redis: it lists, judges and reports what would be deleted. A `run` owns every candidate it
 * finds, including those an earlier run's job still holds: it waits for their outcome too.
 */
export async function runCleanup(deps: RunDeps, mode: 'run' | 'produce', opened?: { readonly redis: RedisClient; readonly queues: Queues }): Promise<RunReport> {
  const { config, logger } = deps;
  const now = deps.now ?? (() => new Date());
  const startedAt = Date.now();
  const runId = `${startedAt.toString(36)}${randomBytes(3).toString('hex')}`;
  const abort = new AbortController();
  // Every list call in flight, or waiting for its place, listens for the abort and lets go when it
  // ends: P_LIST_CONCURRENCY above 10 is no leak, and Node's warning would only alarm the reader.
  setMaxListeners(0, abort.signal);
  void deps.shutdown.signalled.then(() => abort.abort());
  const timer = setTimeout(() => abort.abort(), config.maxRuntimeMs);
  timer.unref();
  // A run that opened its own connections is the process's job: its deadline starts the shutdown budget.
  if (!opened) abort.signal.addEventListener('abort', () => deps.shutdown.startGrace(), { once: true });
  logger.info({ runId, mode, dryRun: config.dryRun, providers: config.providers.map((p) => p.name), redis: describeRedis(config.redis), queuePrefix: config.queuePrefix }, 'run started');

  let queues = opened?.queues;
  let redis = opened?.redis;
  let workers: Worker<DeleteJobData, DeleteJobResult>[] = [];
  let tracker: OutcomeTracker | undefined;
  const started = new Map<string, TargetStats>();
  deps.onRunStarted?.(() => liveReport(runId, config, started, tracker));
  if (!config.dryRun && !opened) {
    redis = await connectRedis(config, deps.shutdown, logger);
    queues = await openQueues(config, redis, deps.shutdown, logger);
  }
  const sightings = config.dryRun ? await dryRunSightings(config, logger, opened?.redis) : redis && { redis, access: 'record' as const };
  if (mode === 'run' && queues && redis) {
    // Listening starts before anything is enqueued, so no outcome can slip past.
    tracker = await createOutcomeTracker({ config, redis, queues, logger });
    workers = startWorkers(deps, queues);
    for (const worker of workers) tracker.listen(worker);
  }
  // Caps need every candidate counted before the first enqueue: a counting listing first (only when a cap is set).
  const { valves, counted } = await decideValves(config, deps.providers, { now, signal: abort.signal, logger, ...(sightings ? { sightings } : {}) });
  const perProvider = await Promise.all(config.providers.map(async (pc) => refusedByCount(pc.name, valves.get(pc.name), counted, deps, (stats) => started.set(targetKey(stats), stats)) ?? enqueueCandidates({
    config, provider: providerOf(deps, pc.name), providerConfig: pc, logger, now, runId, signal: abort.signal, valves: valves.get(pc.name), ...(deps.onDecision ? { onDecision: deps.onDecision } : {}),
    ...(deps.afterPage ? { afterPage: deps.afterPage } : {}),
    onTargetStarted: (stats) => started.set(targetKey(stats), stats),
    ...(queues && redis ? { queue: queues.get(pc.name) as Queue<DeleteJobData>, redis } : {}),
    ...(sightings ? { sightings } : {}),
    ...(tracker ? { onJob: (job: HeldJob, stats: TargetStats) => tracker.track(pc.name, job, stats), onJobNotAdded: (id: string) => tracker.untrack(id), onJobsAdded: (ids: readonly string[]) => tracker.added(ids) } : {}),
  })));
  const stats = perProvider.flat();
  for (const s of stats) deps.observer?.targetListed?.(s);

  if (tracker) {
    await tracker.waitUntilSettled(abort.signal, deps.onProgress && ((pending) => deps.onProgress?.(stats, pending)));
    // Stop taking jobs and let in-flight deletes finish, within what is left of the one shutdown budget,
    // so the summary counts what they did.
    if (!opened) deps.shutdown.startGrace();
    await stopWorkers(workers, deps.shutdown.graceLeftMs(), logger);
    await tracker.finish(deps.shutdown.graceLeftMs());
  }
  clearTimeout(timer);
  if (sightings && sightings.redis !== redis) sightings.redis.disconnect();
  const finishedAt = Date.now();
  for (const s of stats) s.finishedAt = finishedAt;
  const exitCode = exitCodeFor(stats);
  logger.info({ runId, exitCode, stats }, 'run finished');
  deps.observer?.runFinished?.({ runId, mode, stats, exitCode, durationMs: finishedAt - startedAt });
  const observed = config.providers.some((p) => p.ageFrom === 'observed');
  const sightingsUsed = sightings === undefined ? 'unknown' : sightings.access === 'record' ? 'recorded' : 'read';
  return { runId, stats, exitCode, ...(observed ? { sightings: sightingsUsed } : {}) };
}

/**
 * A dry run writes no sightings (a real run's clock must not start from a run that deleted nothing),
 * but with observed-mode providers it reads those real runs recorded, when Redis answers. Without
 * Redis every terminal task of such a provider counts as seen just now: kept, and said so.
 */
async function dryRunSightings(config: Config, logger: Logger, opened: RedisClient | undefined): Promise<{ redis: RedisClient; access: 'read' } | undefined> {
  const observed = config.providers.filter((p) => p.ageFrom === 'observed').map((p) => p.name);
  if (observed.length === 0) return undefined;
  if (opened) return { redis: opened, access: 'read' };
  try {
    await assertRedisReachable(config.redis);
  } catch (err) {
    logger.warn({ providers: observed, redis: describeRedis(config.redis), reason: (err as Error).message },
      'dry run without Redis: no first sightings can be read, so every terminal task of these observed-mode providers counts as observed just now and is kept');
    return undefined;
  }
  const redis = createRedisClient(config.redis, 'admin');
  redis.on('error', () => undefined); // surfaced by the reads that fail
  logger.info({ providers: observed }, 'dry run reads the first sightings real runs recorded, and records none');
  return { redis, access: 'read' };
}

const targetKey = (s: Pick<TargetStats, 'provider' | 'target'>) => `${s.provider}\n${s.target}`;

/**
 * The report of a run that has to end before it finished (a second signal, the watchdog): every
 * configured target, listed or not, with what it has done so far and what is still pending.
 */
function liveReport(runId: string, config: Config, started: ReadonlyMap<string, TargetStats>, tracker: OutcomeTracker | undefined): RunReport {
  const pending = tracker?.pendingByTarget() ?? new Map<TargetStats, { own: number; other: number }>();
  const now = Date.now();
  const stats = config.providers.flatMap((pc) => pc.targets.map((target): TargetStats => {
    const live = started.get(targetKey({ provider: pc.name, target }));
    if (!live) return { ...newTargetStats(pc.name, target, now, scopeOf(pc.scopes, target)), notReached: true, finishedAt: now };
    const copy = structuredClone(live);
    const waiting = pending.get(live);
    copy.unsettled += waiting?.own ?? 0;
    copy.otherRuns.pending += waiting?.other ?? 0;
    if (copy.listedAt === undefined) copy.interrupted = true;
    copy.finishedAt = now;
    return copy;
  }));
  return { runId, stats, exitCode: exitCodeFor(stats) };
}

/**
 * The report of a provider the caps refused on its counting listing: nothing of it would be enqueued,
 * so it is not listed again. `plan` (onDecision) still lists it again, to give every task its row.
 */
function refusedByCount(
  name: ProviderName, valves: ProviderValves | undefined, counted: ReadonlyMap<ProviderName, readonly TargetStats[]>, deps: RunDeps, onTargetStarted: (stats: TargetStats) => void,
): TargetStats[] | undefined {
  const refused = valves?.refusedBecause;
  const stats = counted.get(name);
  if (refused === undefined || stats === undefined || deps.onDecision) return undefined;
  const report = stats.map((s) => ({ ...s, refused, heldBack: s.candidates }));
  for (const s of report) onTargetStarted(s);
  return report;
}

/** Closes the run's own workers within `graceMs` (in-flight deletes finish; no new job is taken). */
async function stopWorkers(workers: readonly Worker[], graceMs: number, logger: Logger): Promise<void> {
  const stop = new AbortController();
  const closing = Promise.all(workers.map((w) => w.close().catch((err: unknown) => logger.warn({ err }, 'worker close failed'))));
  await Promise.race([closing, sleep(graceMs, undefined, { signal: stop.signal }).catch(() => undefined)]);
  stop.abort();
}
