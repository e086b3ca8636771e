// The producer<->worker contract: queue names, the job payload, job ids and job options.
import { createHash } from 'node:crypto';
import type { Config, ProviderConfig } from './config.js';
import type { ProviderName } from './providers/catalog.js';

/** One task inside a delete job: the listed snapshot the worker re-checks before deleting. */
export interface JobTask {
  readonly id: string;
  readonly states: readonly string[];
  /** The timestamp field and value the age was measured from (ISO-8601). */
  readonly agedFrom: { readonly field: string; readonly at: string };
  /** Absent when it equals `type` or `name` (every byte of a queued task is paid for in Redis): read it with labelOf. */
  readonly label?: string;
  /** Name and type as listed (CloudTask), so the worker's re-check applies P_INCLUDE/P_EXCLUDE as the producer did. */
  readonly name?: string;
  readonly type?: string;
  /** What the provider's re-read filters on besides the id (CloudTask.lookup). */
  readonly lookup?: string;
}

/** Why a task of a job was left alone; each is counted under its own name in the summary. */
export type SkipReason =
  /** The policy no longer selects the task (a fresh read, or the snapshot under today's config). */
  | 'changed-before-delete'
  /** No re-read exists and the listing is older than JANITOR_MAX_SNAPSHOT_AGE: left for the next run. */
  | 'stale-snapshot'
  /** The re-read ran but could not vouch for the task (e.g. VIAS: not found under its name). */
  | 'reread-inconclusive'
  /** The re-read's Date header is off the worker's clock by more than JANITOR_MAX_CLOCK_SKEW: ages would be wrong. */
  | 'clock-skew';

/** Every SkipReason: the summary tells these keeps (at the re-read before a delete) from the listing's. */
export const SKIP_REASONS: readonly SkipReason[] = ['changed-before-delete', 'stale-snapshot', 'reread-inconclusive', 'clock-skew'];

/** Whether a keep reason is one of the re-read's (a SkipReason), not the listing's. */
export function isSkipReason(reason: string): reason is SkipReason {
  return (SKIP_REASONS as readonly string[]).includes(reason);
}

/** Outcome of one task, kept on the job so a partly failed batch still reports what it did. */
export interface TaskResult {
  readonly id: string;
  readonly result: 'deleted' | 'gone' | 'skipped';
  /** Set when result is 'skipped'. */
  readonly reason?: SkipReason;
  readonly requestId?: string;
  readonly detail?: string;
}

/** A delete job's data. No credentials or endpoints ever go into Redis. */
export interface DeleteJobData {
  readonly provider: ProviderName;
  readonly target: string;
  readonly runId: string;
  readonly tasks: readonly JobTask[];
  /**
   * When the tasks were listed (ISO-8601), on Redis's clock: bounds how old a snapshot may be acted on
   * without a re-read, measured on the same clock by the worker, whatever the two machines' clocks say.
   */
  readonly listedAt?: string;
  /** Tasks of this job already settled by an earlier attempt (batch providers). */
  readonly done?: readonly TaskResult[];
  /** The last attempt's failures per task: the audit trail names the provider's request id of a permanent failure. */
  readonly failures?: readonly TaskFailure[];
}

/** One task's failed delete (or re-read) as the provider answered it. */
export interface TaskFailure {
  readonly id: string;
  readonly code?: string;
  readonly requestId?: string;
  /** Refused for good (a permanent error): the job's later attempts do not send it again. */
  readonly permanent?: true;
  /** The provider's message (the audit trail's `error` of this task); a permanent failure's last attempt fails with it. */
  readonly message?: string;
}

export interface DeleteJobResult {
  readonly results: readonly TaskResult[];
}

/** A task's label as listed: its own, else its type or name, which the producer leaves it to when they match. */
export function labelOf(task: JobTask): string | undefined {
  return task.label ?? task.type ?? task.name;
}

export const DELETE_JOB_NAME = 'delete';

/** One queue per provider, so BullMQ's rate limit and global concurrency are per provider. */
export function queueNameFor(provider: ProviderName): string {
  return `delete-${provider}`;
}

/**
 * Redis key of the P_CONCURRENCY that the last process to start on the prefix set, beside BullMQ's
 * global concurrency (the J derived from it): every worker works its delete permits out from these.
 */
export function concurrencyKeyFor(prefix: string, provider: ProviderName): string {
  return `${prefix}:${queueNameFor(provider)}:concurrency`;
}

/** Redis key of the claim that keeps a task from being enqueued twice while its job is pending. */
export function claimKeyFor(prefix: string, provider: ProviderName, target: string, taskId: string): string {
  return `${prefix}:${queueNameFor(provider)}:claim:${target}:${taskId}`;
}

/**
 * Job id from provider, project and task id(s), plus the run: BullMQ forbids `:` and all-digit ids,
 * and a retained failed job with the same id would block a later run from trying again, so the
 * per-task claim (not the id) is what makes enqueueing idempotent.
 */
export function jobIdFor(provider: ProviderName, target: string, taskIds: readonly string[], runId: string): string {
  // Several tasks: their count and a digest of their ids. Short on purpose: every claim holds the job id.
  const tasks = taskIds.length === 1 ? safeIdPart(taskIds[0] ?? '') : `${taskIds.length}t${createHash('sha1').update(taskIds.join(',')).digest('hex').slice(0, 10)}`;
  return `${jobIdPrefixFor(provider, target)}${tasks}-${runId}`;
}

/** How every job id of one provider target starts (scope-guard.ts tells foreign jobs by it). */
export function jobIdPrefixFor(provider: ProviderName, target: string): string {
  return `${provider}-${safeIdPart(target)}-`;
}

const safeIdPart = (text: string) => text.replace(/[^A-Za-z0-9_.-]/g, '_');

/** Whether a job id (from jobIdFor) was enqueued by the run `runId`. */
export function jobBelongsToRun(jobId: string, runId: string): boolean {
  return jobId.endsWith(`-${runId}`);
}

/** Job options: retries with exponential backoff and jitter live here, in BullMQ only. */
export function jobOptionsFor(provider: ProviderConfig, config: Config) {
  const ageSeconds = Math.ceil(config.keepFinishedMs / 1000);
  return {
    attempts: provider.attempts,
    backoff: { type: 'exponential' as const, delay: config.backoffMs, jitter: 0.5 },
    removeOnComplete: { age: ageSeconds, count: 50_000 },
    removeOnFail: { age: ageSeconds, count: 50_000 },
  };
}

/** BullMQ honours queue.rateLimit() only when a limiter is set; this one never limits by itself. */
export const PAUSE_ONLY_LIMITER = { max: 1_000_000_000, duration: 1_000 };
