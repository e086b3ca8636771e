// Lists each target page by page, applies the policy, claims and enqueues candidates with addBulk.
import type { Queue } from 'bullmq';
import type { Config, ProviderConfig } from './config.js';
import type { Logger } from './logger.js';
import { judgeTask, policyRuleFor } from './policy.js';
import { PROVIDER_FACTS } from './providers/catalog.js';
import type { CloudTask, Provider } from './providers/provider.js';
import type { RedisClient } from './redis.js';
import { claimKeyFor, DELETE_JOB_NAME, jobIdFor, jobOptionsFor, type DeleteJobData, type JobTask } from './queue.js';
import { scopeOf } from './scope.js';
import { countInto, newTargetStats, type TargetStats } from './summary.js';

export interface ProducerDeps {
  readonly config: Config;
  readonly provider: Provider;
  readonly providerConfig: ProviderConfig;
  readonly logger: Logger;
  readonly now: () => Date;
  readonly runId: string;
  /** Absent in a dry run: nothing is claimed or enqueued. */
  readonly queue?: Queue<DeleteJobData>;
  readonly redis?: RedisClient;
  readonly signal?: AbortSignal;
  /** Called with the ids of every job enqueued, as they are enqueued. */
  readonly onEnqueued?: (jobIds: readonly string[], stats: TargetStats) => void;
}

// A claim outlives any sane backlog; if it expires first, the worst case is a second delete that
// the API answers "not found", which counts as already gone.
export const CLAIM_TTL_MS = 7 * 86_400_000;
const ADD_BULK_CHUNK = 500;

/**
 * Lists and enqueues every target of one provider, up to P_LIST_CONCURRENCY targets side by side, in
 * the day's rotated order; list failures are recorded per target, not thrown. Stats keep the
 * configured order.
 */
export async function enqueueCandidates(deps: ProducerDeps): Promise<TargetStats[]> {
  const { targets, listConcurrency } = deps.providerConfig;
  const order = listingOrder(targets, deps.now());
  const done = new Map<string, TargetStats>();
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(listConcurrency, order.length) }, async () => {
    for (let target = order[next++]; target !== undefined && !deps.signal?.aborted; target = order[next++]) {
      done.set(target, await enqueueTarget(deps, target));
    }
  }));
  return targets.flatMap((t) => done.get(t) ?? []);
}

/**
 * The order targets are listed in: rotated by one each day, so that when the run deadline cuts a
 * listing short it is not the same project that is never reached, day after day.
 */
export function listingOrder<T>(targets: readonly T[], now: Date): T[] {
  if (targets.length === 0) return [];
  const start = Math.floor(now.getTime() / 86_400_000) % targets.length;
  return [...targets.slice(start), ...targets.slice(0, start)];
}

async function enqueueTarget(deps: ProducerDeps, target: string): Promise<TargetStats> {
  const { provider, providerConfig, logger } = deps;
  const stats = newTargetStats(provider.name, target, Date.now(), scopeOf(providerConfig.scopes, target));
  const rule = policyRuleFor(providerConfig);
  const log = logger.child({ provider: provider.name, target });
  try {
    for await (const page of provider.listTasks(target, deps.signal)) {
      stats.listed += page.length;
      const now = deps.now();
      const candidates: JobTask[] = [];
      for (const task of page) {
        const verdict = judgeTask(task, rule, now);
        if (verdict.candidate) {
          candidates.push(toJobTask(task, verdict.ageMs, now));
          if (!deps.queue) log.info({ taskId: task.id, state: task.states.join('+'), ageMs: verdict.ageMs, label: task.label }, 'task would be deleted');
        } else {
          countInto(stats.skipped, verdict.reason);
          log.debug({ taskId: task.id, reason: verdict.reason, detail: verdict.detail }, 'task kept');
        }
      }
      stats.candidates += candidates.length;
      if (deps.queue && deps.redis && candidates.length > 0) await enqueuePage(deps, deps.queue, deps.redis, target, candidates, stats, now);
    }
  } catch (err) {
    if (deps.signal?.aborted) {
      // Stopped by SIGTERM or JANITOR_MAX_RUNTIME, not by the provider: what was enqueued stands.
      stats.interrupted = true;
      log.warn('listing interrupted by shutdown or the run deadline');
    } else {
      stats.listError = (err as Error).message;
      log.error({ err }, 'listing failed');
    }
  }
  stats.listedAt = Date.now();
  log.info({ listed: stats.listed, candidates: stats.candidates, enqueued: stats.enqueued, alreadyQueued: stats.alreadyQueued, skipped: stats.skipped }, 'target listed');
  return stats;
}

function toJobTask(task: CloudTask, ageMs: number, now: Date): JobTask {
  // judgeTask only passes tasks whose reference parsed, so the age pins the exact instant.
  const at = new Date(now.getTime() - ageMs).toISOString();
  return {
    id: task.id, states: task.states, agedFrom: { field: task.agedFrom.field, at },
    ...(task.label ? { label: task.label } : {}), ...(task.lookup ? { lookup: task.lookup } : {}),
  };
}

async function enqueuePage(
  deps: ProducerDeps, queue: Queue<DeleteJobData>, redis: RedisClient, target: string, candidates: readonly JobTask[], stats: TargetStats, listedAt: Date,
): Promise<void> {
  const { provider, providerConfig, config, runId } = deps;
  const batchSize = PROVIDER_FACTS[provider.name].maxBatchSize;
  const batches: JobTask[][] = [];
  for (let i = 0; i < candidates.length; i += batchSize) batches.push(candidates.slice(i, i + batchSize));
  // All of a page's claims at once: ioredis pipelines them into few round trips.
  const jobs = (await Promise.all(batches.map(async (batch) => {
    const jobId = jobIdFor(provider.name, target, batch.map((t) => t.id), runId);
    const claimed = await claimTasks(deps, queue, redis, target, batch, jobId);
    stats.alreadyQueued += batch.length - claimed.length;
    return { name: DELETE_JOB_NAME, data: { provider: provider.name, target, runId, tasks: claimed, listedAt: listedAt.toISOString() }, opts: { ...jobOptionsFor(providerConfig, config), jobId } };
  }))).filter((job) => job.data.tasks.length > 0);
  for (let i = 0; i < jobs.length; i += ADD_BULK_CHUNK) {
    const chunk = jobs.slice(i, i + ADD_BULK_CHUNK);
    await queue.addBulk(chunk);
    stats.enqueued += chunk.reduce((n, j) => n + j.data.tasks.length, 0);
    deps.onEnqueued?.(chunk.map((j) => j.opts.jobId), stats);
  }
}

// Take over a claim only if it still names the settled job we checked (two producers racing).
const TAKE_OVER = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 end return 0`;
export const SETTLED = new Set(['completed', 'failed', 'unknown']);

/**
 * Claims each task for `jobId`. A task already claimed by a pending job is skipped; a claim left by a
 * job that has settled (deleted, failed for good, or removed) is taken over, so a later run retries.
 */
async function claimTasks(deps: ProducerDeps, queue: Queue<DeleteJobData>, redis: RedisClient, target: string, batch: readonly JobTask[], jobId: string): Promise<JobTask[]> {
  const prefix = deps.config.queuePrefix;
  const keys = batch.map((t) => claimKeyFor(prefix, deps.provider.name, target, t.id));
  const first = await Promise.all(keys.map((key) => redis.set(key, jobId, 'PX', CLAIM_TTL_MS, 'NX')));
  const claimed: JobTask[] = [];
  await Promise.all(batch.map(async (task, i) => {
    const key = keys[i] as string;
    if (first[i] === 'OK') return claimed.push(task);
    const holder = await redis.get(key);
    if (holder === null) {
      if ((await redis.set(key, jobId, 'PX', CLAIM_TTL_MS, 'NX')) === 'OK') claimed.push(task);
      return;
    }
    if (holder === jobId) return; // this very job already holds it (same run, same batch)
    if (!SETTLED.has(await queue.getJobState(holder))) return;
    if ((await redis.eval(TAKE_OVER, 1, key, holder, jobId, CLAIM_TTL_MS)) === 1) claimed.push(task);
  }));
  // Keep the listed order: the job's tasks are deleted in it.
  return batch.filter((t) => claimed.includes(t));
}
