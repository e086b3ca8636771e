// `task-janitor status`: what the queues in Redis say right now, per provider: job counts, workers,
// throttling, recent throughput and the latest failures with the provider's code and message.
import type { Job, Queue } from 'bullmq';
import type { RedisClient } from './redis.js';
import { splitProviderError } from './audit.js';
import type { Config } from './config.js';
import { deleteJobSlotsFor, queueShareOf } from './delete-permits.js';
import type { ProviderName } from './providers/catalog.js';
import { perSecond } from './budget.js';
import { allowedPerSecond, createCallLimiter, providerRatesOf } from './limiter.js';
import { RedisBudgetStore } from './limiter-redis.js';
import { concurrencyKeyFor, PAUSE_ONLY_LIMITER, type DeleteJobData } from './queue.js';
import { formatDuration } from './units.js';

const COUNTED = ['waiting', 'active', 'delayed', 'prioritized', 'failed', 'completed'] as const;
const RECENT_WINDOW_MS = 5 * 60_000;
const LATEST_FAILURES = 5;

export interface FailureReport {
  readonly at: string | null;
  readonly jobId: string;
  readonly target: string;
  readonly taskIds: readonly string[];
  readonly attempts: number;
  readonly code: string | null;
  readonly message: string;
}

export interface ProviderStatus {
  readonly provider: ProviderName;
  readonly counts: Record<(typeof COUNTED)[number], number>;
  /** Workers connected to the queue (any process). */
  readonly workers: number;
  /** P_CONCURRENCY as this process is configured: tasks in flight across all workers. */
  readonly concurrency: number;
  /** Delete jobs the queue lets be active at once (BullMQ's global concurrency), as the last worker or producer to start set it; null when none has. */
  readonly activeJobsCap: number | null;
  /** What this configuration would set it to: a different cap was set from another P_CONCURRENCY. */
  readonly expectedActiveJobsCap: number;
  /** The P_CONCURRENCY the last process to start stored beside the cap, which every worker follows; null when none has (or an older version started last). */
  readonly queueConcurrency: number | null;
  /** The configured delete rate, per second; null for `none` (not paced). */
  readonly rateLimitPerSecond: number | null;
  /** The delete rate the shared limiter allows now: lowered after throttling, 0 while paused; null while not paced. */
  readonly effectiveRatePerSecond: number | null;
  /** How long the queue still waits out a provider's throttling answer (0: not throttled now). */
  readonly throttledForMs: number;
  /** Jobs finished in the last five minutes, per second: the rate actually achieved. */
  readonly recentJobsPerSecond: number;
  readonly latestFailures: readonly FailureReport[];
}

export interface StatusReport {
  readonly at: string;
  readonly queuePrefix: string;
  readonly providers: readonly ProviderStatus[];
}

/** Reads every configured provider's queue; nothing is written. */
export async function readStatus(config: Config, redis: RedisClient, queues: ReadonlyMap<ProviderName, Queue<DeleteJobData>>, now = new Date()): Promise<StatusReport> {
  // The budgets every worker shares, read (never reserved from) through this connection.
  const budgets = await createCallLimiter(providerRatesOf(config), { store: new RedisBudgetStore(redis), keyPrefix: config.queuePrefix }).readStatus();
  const providers = await Promise.all(config.providers.map(async (pc): Promise<ProviderStatus> => {
    const budget = budgets.find((b) => b.provider === pc.name && b.kind === 'delete');
    const queue = queues.get(pc.name);
    if (!queue) throw new Error(`queue ${pc.name} was not opened`);
    const [counts, workers, activeJobsCap, stored, throttledForMs, recent, failed] = await Promise.all([
      queue.getJobCounts(...COUNTED),
      queue.getWorkersCount(),
      queue.getGlobalConcurrency(),
      redis.get(concurrencyKeyFor(config.queuePrefix, pc.name)),
      // With the pause-only max, only a real pause counts: the ordinary per-second counter's TTL
      // (up to a second after the last job) is not throttling.
      queue.getRateLimitTtl(PAUSE_ONLY_LIMITER.max),
      // The completed set is scored by finish time.
      redis.zcount(queue.toKey('completed'), now.getTime() - RECENT_WINDOW_MS, '+inf'),
      queue.getJobs(['failed'], 0, LATEST_FAILURES - 1, false) as Promise<Job<DeleteJobData>[]>,
    ]);
    return {
      provider: pc.name,
      counts: Object.fromEntries(COUNTED.map((state) => [state, counts[state] ?? 0])) as ProviderStatus['counts'],
      workers,
      concurrency: pc.concurrency,
      activeJobsCap,
      expectedActiveJobsCap: deleteJobSlotsFor(pc),
      queueConcurrency: queueShareOf(stored, pc)?.total ?? null,
      rateLimitPerSecond: finiteOrNull(perSecond(pc.rateLimit, pc.rateLimit.max)),
      effectiveRatePerSecond: budget ? finiteOrNull(Math.round(allowedPerSecond(budget) * 100) / 100) : 0,
      throttledForMs: Math.max(0, throttledForMs),
      // Three decimals: a job carries up to ten tasks, so job rates run ten times below task rates.
      recentJobsPerSecond: Math.round((recent / (RECENT_WINDOW_MS / 1000)) * 1000) / 1000,
      latestFailures: failed.filter((job): job is Job<DeleteJobData> => job !== undefined).map(failureOf),
    };
  }));
  return { at: now.toISOString(), queuePrefix: config.queuePrefix, providers };
}

function failureOf(job: Job<DeleteJobData>): FailureReport {
  const reason = job.failedReason ?? '';
  const split = splitProviderError(reason);
  const settled = new Set((job.data.done ?? []).map((d) => d.id));
  return {
    at: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
    jobId: job.id ?? '',
    target: job.data.target,
    taskIds: job.data.tasks.map((t) => t.id).filter((id) => !settled.has(id)),
    attempts: job.attemptsMade,
    code: split.code ?? null,
    message: split.code ? reason.slice(split.code.length + 2) : reason,
  };
}

/** The human form: one block per provider. */
export function renderStatus(report: StatusReport): string {
  const lines = [`task-janitor status at ${report.at} (queue prefix ${report.queuePrefix})`];
  for (const p of report.providers) {
    const c = p.counts;
    lines.push(`${p.provider}: waiting ${c.waiting + c.prioritized}, active ${c.active}, delayed ${c.delayed}, failed ${c.failed}, completed ${c.completed}; workers ${p.workers}`);
    const variable = `${p.provider.toUpperCase()}_CONCURRENCY`;
    const cap = p.activeJobsCap === null ? 'not set yet (no worker or producer has started)' : `at most ${p.activeJobsCap} jobs active`;
    // The workers follow the P stored by the process that started last: name it when it is not this one.
    const mismatch = p.queueConcurrency !== null && p.queueConcurrency !== p.concurrency
      ? ` (set by a process with ${variable}=${p.queueConcurrency}, which every worker follows: here it would be ${p.expectedActiveJobsCap})`
      : p.activeJobsCap !== null && p.activeJobsCap !== p.expectedActiveJobsCap ? ` (set from another ${variable}: here it would be ${p.expectedActiveJobsCap})` : '';
    lines.push(`  concurrency: ${variable}=${p.concurrency} tasks in flight, ${cap}${mismatch}`);
    const rateText = (rate: number | null) => (rate === null ? 'none' : `${rate}/s`);
    lines.push(`  rate: limit ${rateText(p.rateLimitPerSecond)}, effective ${rateText(p.effectiveRatePerSecond)}, last 5 min ${p.recentJobsPerSecond} jobs/s${p.throttledForMs > 0 ? `, THROTTLED by the provider for another ${formatDuration(p.throttledForMs)}` : ''}`);
    if (p.latestFailures.length > 0) lines.push(`  latest failures (newest first; \`task-janitor retry-failed ${p.provider}\` re-enqueues them):`);
    for (const f of p.latestFailures) {
      const tasks = f.taskIds.length === 1 ? `task ${f.taskIds[0]}` : `${f.taskIds.length} tasks (${f.taskIds.slice(0, 3).join(', ')}${f.taskIds.length > 3 ? ', …' : ''})`;
      lines.push(`    ${f.at ?? '?'} ${f.target} ${tasks}, ${f.attempts} attempt(s): ${f.code ? `${f.code}: ` : ''}${f.message}`);
    }
  }
  return lines.join('\n');
}

/** JSON has no infinity: an unpaced rate (`none`) is null. */
function finiteOrNull(rate: number): number | null {
  return Number.isFinite(rate) ? rate : null;
}
