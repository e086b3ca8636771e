// The run's tracker: learns the outcome of every job holding a candidate of this run from events (in-process workers, then
// QueueEvents for jobs settled elsewhere), with a bounded reconcile only when events have gone quiet.
import { setTimeout as sleep } from 'node:timers/promises';
import { Job, QueueEvents, type Queue, type Worker } from 'bullmq';
import { PROVISIONAL_CLAIM_MS } from './claims.js';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import { workerConnection, type RedisClient } from './redis.js';
import { redisCause } from './redis-errors.js';
import { repeatLimitedLog } from './repeat-log.js';
import type { HeldJob } from './producer.js';
import type { ProviderName } from './providers/catalog.js';
import { watchAttempts } from './outcomes.js';
import { queueNameFor, type DeleteJobData, type DeleteJobResult, type TaskResult } from './queue.js';
import { countInto, type TargetStats } from './summary.js';

/** What the tracker keeps per pending job: a reference to its target's counters and a task count. */
interface Entry {
  readonly provider: ProviderName;
  readonly stats: TargetStats;
  readonly own: boolean;
  tasks: number;
  /** Other runs' jobs: which of their tasks this run found (a batch may hold more; pages that shifted show it more than once). */
  taskIds?: readonly string[];
  /** An own job known to be in Redis (addBulk succeeded): missing from Redis now means lost, not "being added". */
  added?: boolean;
  missingSince?: number;
}

interface Outcome {
  readonly results: readonly TaskResult[];
  readonly taskIds: readonly string[];
  readonly attemptsMade: number;
  readonly failedReason?: string;
}

export interface OutcomeTracker {
  track(provider: ProviderName, job: HeldJob, stats: TargetStats): void;
  untrack(jobId: string): void;
  /** Own jobs now in Redis (see Entry.added). */
  added(jobIds: readonly string[]): void;
  /** Learns outcomes straight from a worker of this process, and what each of its attempts settled (counted even if Redis loses it). */
  listen(worker: Worker<DeleteJobData, DeleteJobResult>): void;
  /** Resolves when every tracked job has settled, or when `signal` aborts. */
  waitUntilSettled(signal: AbortSignal, onProgress?: (pendingTasks: number) => void): Promise<void>;
  /** Counts what is still pending, in tasks, into each target's stats, then stops listening (within `budgetMs`). */
  finish(budgetMs?: number): Promise<void>;
  /** Tasks still pending per target's counters (this run's own, and other runs' jobs it waits for). */
  pendingByTarget(): Map<TargetStats, { own: number; other: number }>;
}

// Quiet this long with jobs outstanding: ask Redis once (an event may have been missed in a reconnect).
const RECONCILE_IDLE_MS = 5_000;
const RECONCILE_BATCH = 1_000;
const REDIS_WAIT_MS = 5_000;
// Ids settled elsewhere before this run tracked them (a race of a few milliseconds): a bounded memory.
const RECENT_LIMIT = 10_000;

/** Opens one QueueEvents per provider queue (ready before anything is enqueued) and returns the tracker. */
export async function createOutcomeTracker(deps: {
  readonly config: Config; readonly redis: RedisClient; readonly queues: ReadonlyMap<ProviderName, Queue<DeleteJobData>>; readonly logger: Logger;
}): Promise<OutcomeTracker> {
  const { config, redis, queues, logger } = deps;
  const tracked = new Map<string, Entry>();
  const recentlySettled = new Set<string>();
  // Other runs' jobs this run has counted, and the tasks counted: a later page may find more of one.
  const countedOthers = new Map<string, { readonly entry: Entry; readonly outcome: Outcome }>();
  // Per job, the tasks this process's workers settled: Redis may lose them (restarted empty, or an attempt whose
  // outcome could not be written), and a redone attempt reads this process's own deletions as "already gone".
  const settledHere = new Map<string, readonly TaskResult[]>();
  let lastSettledAt = Date.now();
  let lastReconcileAt = Date.now();

  const settle = (jobId: string, fromRedis: Outcome) => {
    const here = settledHere.get(jobId);
    settledHere.delete(jobId);
    const entry = tracked.get(jobId);
    if (!entry) return;
    tracked.delete(jobId);
    lastSettledAt = Date.now();
    const outcome = { ...fromRedis, results: withSettledHere(fromRedis.results, here) };
    if (entry.own) {
      recordOwn(entry.stats, outcome);
    } else {
      recordOther(entry, outcome);
      // A job is met again within a page or two: the latest ones are enough (bounded memory).
      countedOthers.set(jobId, { entry, outcome });
      if (countedOthers.size > RECENT_LIMIT) countedOthers.delete(countedOthers.keys().next().value as string);
    }
  };
  const fetchAndSettle = async (jobId: string): Promise<void> => {
    const entry = tracked.get(jobId);
    const queue = entry && queues.get(entry.provider);
    if (!queue) return;
    const job = await bounded(Job.fromId<DeleteJobData, DeleteJobResult>(queue, jobId));
    if (job?.finishedOn !== undefined) settle(jobId, outcomeOf(job, job.returnvalue, job.failedReason));
  };

  const events: QueueEvents[] = [];
  // A lazy template BullMQ duplicates for each QueueEvents; closed after them.
  const connection = workerConnection(config.redis);
  for (const provider of queues.keys()) {
    const queueEvents = new QueueEvents(queueNameFor(provider), { connection: connection, prefix: config.queuePrefix });
    const logError = repeatLimitedLog(logger, 'warn');
    queueEvents.on('error', (err) => logError(redisCause(err), { provider, cause: redisCause(err) }, 'job events unavailable; outcomes will be reconciled'));
    // Only jobs no worker of this process settled reach the fetch: one read per job, never a poll.
    const onFinal = ({ jobId }: { jobId: string }) => {
      if (tracked.has(jobId)) void fetchAndSettle(jobId).catch(() => undefined);
      else remember(jobId);
    };
    queueEvents.on('completed', onFinal);
    queueEvents.on('failed', onFinal);
    await bounded(queueEvents.waitUntilReady());
    events.push(queueEvents);
  }

  function remember(jobId: string) {
    recentlySettled.add(jobId);
    if (recentlySettled.size > RECENT_LIMIT) recentlySettled.delete(recentlySettled.values().next().value as string);
  }

  async function reconcile(): Promise<void> {
    const now = Date.now();
    const batch = [...takeFirst(tracked, RECONCILE_BATCH)];
    const keyOf = (jobId: string, entry: Entry) => `${config.queuePrefix}:${queueNameFor(entry.provider)}:${jobId}`;
    const pipeline = redis.pipeline();
    for (const [jobId, entry] of batch) pipeline.hget(keyOf(jobId, entry), 'finishedOn').exists(keyOf(jobId, entry));
    const answers = await bounded(pipeline.exec());
    if (!answers) return;
    await Promise.all(batch.map(async ([jobId, entry], i) => {
      const [finishedErr, finishedOn] = answers[2 * i] ?? [];
      const [existsErr, exists] = answers[2 * i + 1] ?? [];
      if (finishedErr || existsErr) return;
      if (finishedOn !== null) return fetchAndSettle(jobId);
      if (exists === 1) {
        delete entry.missingSince;
      } else if (entry.missingSince === undefined) {
        entry.missingSince = now;
      } else if (now - entry.missingSince > (entry.added ? 0 : PROVISIONAL_CLAIM_MS)) {
        // Never added (its producer died before addBulk), removed before anyone read it, or lost with Redis
        // (restarted empty): missing at two reconciles in a row once added, else past the provisional claim's life.
        tracked.delete(jobId);
        const here = settledHere.get(jobId) ?? [];
        settledHere.delete(jobId);
        if (entry.own) {
          recordOwn(entry.stats, { results: here, taskIds: [], attemptsMade: 0 });
          if (entry.tasks > here.length) countInto(entry.stats.failed, 'job vanished from Redis before its outcome was read', entry.tasks - here.length);
        } else {
          entry.stats.otherRuns.pending += entry.tasks - countOthers(entry, here);
        }
        return;
      }
      // Rotate: the next reconcile looks at other jobs first.
      if (tracked.delete(jobId)) tracked.set(jobId, entry);
    }));
  }

  return {
    track(provider, job, stats) {
      const known = tracked.get(job.id) ?? countedOthers.get(job.id)?.entry;
      if (known) {
        // Another run's job met again on a later page (pages shift while deleting): the tasks found there count too.
        const found = new Set(known.taskIds);
        const more = job.own ? [] : job.taskIds.filter((id) => !found.has(id));
        if (more.length === 0) return;
        known.taskIds = [...(known.taskIds ?? []), ...more];
        known.tasks += more.length;
        const counted = countedOthers.get(job.id);
        if (counted && !tracked.has(job.id)) recordOther({ ...known, taskIds: more, tasks: more.length }, counted.outcome);
        return;
      }
      tracked.set(job.id, { provider, stats, own: job.own, tasks: job.taskIds.length, ...(job.own ? {} : { taskIds: job.taskIds }) });
      if (recentlySettled.delete(job.id)) void fetchAndSettle(job.id).catch(() => undefined);
    },
    untrack(jobId) {
      tracked.delete(jobId);
    },
    added(jobIds) {
      for (const jobId of jobIds) {
        const entry = tracked.get(jobId);
        if (entry) entry.added = true;
      }
    },
    listen(worker) {
      watchAttempts(worker, (job, settled) => {
        if (job.id) settledHere.set(job.id, withSettledHere(settledHere.get(job.id) ?? [], settled));
      });
      worker.on('completed', (job, result) => { if (job.id) settle(job.id, outcomeOf(job, result, undefined)); });
      worker.on('failed', (job, err) => {
        // Only a final failure settles a job; a failed attempt with attempts left is retried.
        if (job?.id && job.finishedOn !== undefined) settle(job.id, outcomeOf(job, undefined, err.message));
      });
    },
    async waitUntilSettled(signal, onProgress) {
      let lastProgress = 0;
      while (tracked.size > 0 && !signal.aborted) {
        await sleep(200, undefined, { signal }).catch(() => undefined);
        const now = Date.now();
        if (onProgress && now - lastProgress >= 1_000) {
          onProgress(pendingTasks());
          lastProgress = now;
        }
        if (tracked.size > 0 && !signal.aborted && now - lastSettledAt >= RECONCILE_IDLE_MS && now - lastReconcileAt >= RECONCILE_IDLE_MS) {
          lastReconcileAt = now;
          await reconcile().catch((err: unknown) => logger.warn({ err }, 'could not reconcile job outcomes; will retry'));
        }
      }
      onProgress?.(pendingTasks());
    },
    async finish(budgetMs = REDIS_WAIT_MS) {
      // A job of several tasks may have settled some before it went back to the queue (throttled, run closing): count those.
      const progress = await progressOfUnsettled(Math.min(budgetMs, REDIS_WAIT_MS)).catch(() => new Map<string, readonly TaskResult[]>());
      // Counted before the events close: an outcome that arrives meanwhile must not change a finished count.
      for (const [jobId, entry] of tracked) recordUnsettled(entry, withSettledHere(progress.get(jobId) ?? [], settledHere.get(jobId)));
      tracked.clear();
      settledHere.clear();
      countedOthers.clear();
      await Promise.all(events.map((e) => bounded(e.close(), Math.min(budgetMs, REDIS_WAIT_MS)).catch(() => undefined)));
      connection.disconnect();
    },
    pendingByTarget() {
      const pending = new Map<TargetStats, { own: number; other: number }>();
      for (const entry of tracked.values()) {
        const counts = pending.get(entry.stats) ?? { own: 0, other: 0 };
        if (entry.own) counts.own += entry.tasks;
        else counts.other += entry.tasks;
        pending.set(entry.stats, counts);
      }
      return pending;
    },
  };

  /** The tasks each still-tracked job has settled so far (its `done`), read in bounded batches; a job not read counts as not started. */
  async function progressOfUnsettled(budgetMs: number): Promise<Map<string, readonly TaskResult[]>> {
    const progress = new Map<string, readonly TaskResult[]>();
    const entries = [...tracked];
    const until = Date.now() + budgetMs;
    for (let i = 0; i < entries.length && Date.now() < until; i += RECONCILE_BATCH) {
      const batch = entries.slice(i, i + RECONCILE_BATCH);
      const pipeline = redis.pipeline();
      for (const [jobId, entry] of batch) pipeline.hget(`${config.queuePrefix}:${queueNameFor(entry.provider)}:${jobId}`, 'data');
      const answers = await bounded(pipeline.exec(), Math.max(1, until - Date.now()));
      if (!answers) break;
      batch.forEach(([jobId], k) => {
        const [err, text] = answers[k] ?? [];
        if (err || typeof text !== 'string') return;
        const done = (JSON.parse(text) as Partial<DeleteJobData>).done;
        if (done && done.length > 0) progress.set(jobId, done);
      });
    }
    return progress;
  }

  function pendingTasks(): number {
    let n = 0;
    for (const entry of tracked.values()) n += entry.tasks;
    return n;
  }
}

/**
 * A job's results as Redis has them, completed by what this process's workers settled: a task this
 * process deleted counts as deleted, even where a later attempt (its first one's outcome lost) read it
 * as already gone, and a task Redis has no result for keeps this process's.
 */
export function withSettledHere(fromRedis: readonly TaskResult[], here: readonly TaskResult[] | undefined): readonly TaskResult[] {
  if (!here || here.length === 0) return fromRedis;
  const byId = new Map(fromRedis.map((r) => [r.id, r]));
  for (const r of here) if (r.result === 'deleted' || !byId.has(r.id)) byId.set(r.id, r);
  return [...byId.values()];
}

function outcomeOf(job: Job<DeleteJobData>, result: DeleteJobResult | undefined, failedReason: string | undefined): Outcome {
  const results = result?.results ?? (failedReason !== undefined ? job.data.done ?? [] : []);
  return { results, taskIds: job.data.tasks.map((t) => t.id), attemptsMade: job.attemptsMade, ...(failedReason !== undefined ? { failedReason } : {}) };
}

function recordOwn(stats: TargetStats, outcome: Outcome): void {
  stats.retries += Math.max(0, outcome.attemptsMade - 1);
  for (const r of outcome.results) {
    if (r.result === 'deleted') stats.deleted += 1;
    else if (r.result === 'gone') stats.gone += 1;
    else countInto(stats.skipped, r.reason ?? 'changed-before-delete');
  }
  if (outcome.failedReason !== undefined) {
    const settled = new Set(outcome.results.map((r) => r.id));
    const failed = outcome.taskIds.filter((id) => !settled.has(id)).length;
    if (failed > 0) countInto(stats.failed, outcome.failedReason, failed);
  }
}

/** Another run's job: only the tasks this run found count, under `otherRuns`, never as this run's deletions. */
function recordOther(entry: Entry, outcome: Outcome): void {
  entry.stats.otherRuns.failed += (entry.taskIds?.length ?? 0) - countOthers(entry, outcome.results);
}

/** Counts the results of this run's candidates among another run's job's results; returns how many there were. */
function countOthers(entry: Entry, results: readonly TaskResult[]): number {
  const mine = new Set(entry.taskIds);
  const o = entry.stats.otherRuns;
  let counted = 0;
  for (const r of results) {
    if (!mine.has(r.id)) continue;
    counted += 1;
    if (r.result === 'deleted') o.deleted += 1;
    else if (r.result === 'gone') o.gone += 1;
    else o.skipped += 1;
  }
  return counted;
}

/** A job still pending when the run ends: what it settled so far counts as settled, the rest as pending. */
function recordUnsettled(entry: Entry, done: readonly TaskResult[]): void {
  if (entry.own) {
    recordOwn(entry.stats, { results: done, taskIds: [], attemptsMade: 0 });
    entry.stats.unsettled += entry.tasks - done.length;
    return;
  }
  entry.stats.otherRuns.pending += entry.tasks - countOthers(entry, done);
}

function* takeFirst<K, V>(map: Map<K, V>, n: number): Generator<[K, V]> {
  let i = 0;
  for (const item of map) {
    if (i++ >= n) return;
    yield item;
  }
}

/** A Redis wait the deadline must be able to end: undefined after `ms`. */
async function bounded<T>(promise: Promise<T>, ms = REDIS_WAIT_MS): Promise<T | undefined> {
  const timeout = new AbortController();
  try {
    return await Promise.race([promise, sleep(ms, undefined, { signal: timeout.signal }).catch(() => undefined)]);
  } finally {
    timeout.abort();
  }
}
