// `task-janitor retry-failed [provider]`: moves failed delete jobs back to waiting, after the operator
// fixed the cause. The workers re-check every task against fresh state before deleting, as always.
import type { Job, Queue } from 'bullmq';
import type { RedisClient } from './redis.js';
import type { Config } from './config.js';
import { reclaimTasks } from './claims.js';
import { isRedisError } from './redis-errors.js';
import type { ProviderName } from './providers/catalog.js';
import type { DeleteJobData } from './queue.js';

const PAGE = 500;

export interface RetryReport {
  readonly providers: readonly {
    readonly provider: ProviderName;
    readonly retriedJobs: number;
    readonly retriedTasks: number;
    /** Jobs left failed, and why (a later run already queued their tasks again). */
    readonly skipped: readonly { readonly jobId: string; readonly reason: string }[];
  }[];
}

/** Retries every failed job of the given providers, oldest first. */
export async function retryFailed(config: Config, redis: RedisClient, queues: ReadonlyMap<ProviderName, Queue<DeleteJobData>>, only: ProviderName | undefined): Promise<RetryReport> {
  const providers = [];
  for (const pc of config.providers.filter((p) => only === undefined || p.name === only)) {
    const queue = queues.get(pc.name);
    if (!queue) throw new Error(`queue ${pc.name} was not opened`);
    let retriedJobs = 0;
    let retriedTasks = 0;
    const skipped: { jobId: string; reason: string }[] = [];
    // Retried jobs leave the failed set and skipped ones stay at its (oldest) front: page past those.
    for (;;) {
      const page = (await queue.getJobs(['failed'], skipped.length, skipped.length + PAGE - 1, true) as (Job<DeleteJobData> | undefined)[])
        .filter((job): job is Job<DeleteJobData> => job !== undefined);
      if (page.length === 0) break;
      for (const job of page) {
        const reason = await retryOne(config, redis, job);
        if (reason === undefined) {
          retriedJobs += 1;
          retriedTasks += pendingTasks(job).length;
        } else {
          skipped.push({ jobId: job.id ?? '', reason });
        }
      }
    }
    providers.push({ provider: pc.name, retriedJobs, retriedTasks, skipped });
  }
  return { providers };
}

function pendingTasks(job: Job<DeleteJobData>): string[] {
  const settled = new Set((job.data.done ?? []).map((d) => d.id));
  return job.data.tasks.map((t) => t.id).filter((id) => !settled.has(id));
}

/**
 * Re-claims the job's unsettled tasks and moves it to waiting with fresh attempts. Undefined when
 * retried; otherwise why not. A task claimed meanwhile by a pending job of a later run stays with it.
 */
async function retryOne(config: Config, redis: RedisClient, job: Job<DeleteJobData>): Promise<string | undefined> {
  const jobId = job.id ?? '';
  const ids = pendingTasks(job);
  try {
    // One atomic script: every claim taken for this job, or none when a later run's job holds one.
    const held = await reclaimTasks(redis, config.queuePrefix, job.data.provider, job.data.target, ids, jobId);
    if (held !== undefined) return `task ${held.taskId} is queued again by job ${held.holder}`;
    // The operator fixed the cause: the tasks refused for good are tried again too.
    if (job.data.failures?.some((f) => f.permanent)) {
      await job.updateData({ ...job.data, failures: job.data.failures.map(({ id, code, requestId }) => ({ id, ...(code ? { code } : {}), ...(requestId ? { requestId } : {}) })) });
    }
    await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
    return undefined;
  } catch (err) {
    // Redis refusing writes (a read-only replica, out of memory) fails every job alike: the command
    // stops and names it, rather than reporting each job as left.
    if (isRedisError(err)) throw err;
    return `not retried: ${(err as Error).message}`;
  }
}

export function renderRetryReport(report: RetryReport): string {
  const lines: string[] = [];
  for (const p of report.providers) {
    lines.push(`${p.provider}: re-enqueued ${p.retriedJobs} failed job(s) (${p.retriedTasks} task(s)); left ${p.skipped.length}`);
    for (const s of p.skipped.slice(0, 20)) lines.push(`  left ${s.jobId}: ${s.reason}`);
    if (p.skipped.length > 20) lines.push(`  … and ${p.skipped.length - 20} more`);
  }
  if (report.providers.some((p) => p.retriedJobs > 0)) lines.push('Running workers (work, daemon, or the next run) pick them up; each task is re-checked before it is deleted.');
  return lines.join('\n');
}
