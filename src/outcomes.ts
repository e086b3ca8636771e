// Turns a delete worker's work into one outcome per task, for the audit trail and the metrics: a
// task is reported by the process whose attempt settled it, when it settled (not when its job
// completes, maybe in another pod, maybe never in this run), and a task of a job that failed for
// good is reported failed with its own error.
import type { Job, Worker } from 'bullmq';
import type { ProviderConfig } from './config.js';
import type { DeleteJobData, DeleteJobResult, JobTask, TaskResult } from './queue.js';

/** What finally happened to one task of a delete job. */
export interface TaskOutcome {
  readonly provider: ProviderConfig;
  /** The target key the job was enqueued under (see scope.ts). */
  readonly target: string;
  readonly runId: string;
  readonly jobId: string;
  /** The attempt of the job that settled the task (or, for a failure, the attempts made). */
  readonly attempts: number;
  readonly task: JobTask;
  /** `skipped`: kept by the worker's re-check; `failed`: the job failed for good. */
  readonly result: TaskResult['result'] | 'failed';
  readonly requestId?: string;
  /** The re-check's reason for a skip, the provider's error for a failure. */
  readonly detail?: string;
  /** A failure's provider code, as that task's own delete (or re-read) was answered. */
  readonly code?: string;
  readonly settledAt: Date;
}

export type OutcomeListener = (outcome: TaskOutcome) => void;

type AttemptWatcher = (job: Job<DeleteJobData>, settled: readonly TaskResult[]) => void;
const attemptWatchers = new WeakMap<object, AttemptWatcher[]>();

/** Called by a worker's processor after each attempt (even one that throws) with the tasks that attempt settled. */
export function reportAttemptSettled(worker: object, job: Job<DeleteJobData>, settled: readonly TaskResult[]): void {
  for (const watch of attemptWatchers.get(worker) ?? []) watch(job, settled);
}

/** Has `watcher` told the tasks each attempt of this worker settles (in this process). */
export function watchAttempts(worker: object, watcher: AttemptWatcher): void {
  const watchers = attemptWatchers.get(worker) ?? [];
  attemptWatchers.set(worker, watchers);
  watchers.push(watcher);
}

/**
 * Calls `listener` once per task this worker settles, as its attempt ends, and once per task of a
 * job that fails for good that no attempt settled. A retried job reports only what each attempt
 * settled, so no task is reported twice (retry-failed sends a job with its settled tasks again).
 */
export function watchTaskOutcomes(worker: Worker<DeleteJobData, DeleteJobResult>, providerConfig: ProviderConfig, listener: OutcomeListener): void {
  const base = (job: Job<DeleteJobData>, attempts: number) => ({
    provider: providerConfig, target: job.data.target, runId: job.data.runId, jobId: job.id ?? '', attempts, settledAt: new Date(),
  });
  // Per job still running here, the tasks reported: an attempt whose progress Redis lost is redone,
  // and the redo reads this process's own deletions as already gone. Dropped when the job settles.
  const reported = new Map<string, Set<string>>();
  watchAttempts(worker, (job, settled) => {
    const tasks = new Map(job.data.tasks.map((t) => [t.id, t]));
    const done = reported.get(job.id ?? '') ?? new Set<string>();
    reported.set(job.id ?? '', done);
    for (const r of settled) {
      const task = tasks.get(r.id);
      if (!task || done.has(r.id)) continue;
      done.add(r.id);
      listener({ ...base(job, job.attemptsMade + 1), task, result: r.result, ...(r.requestId ? { requestId: r.requestId } : {}), ...(r.detail ? { detail: r.detail } : {}) });
    }
  });
  worker.on('completed', (job) => { reported.delete(job.id ?? ''); });
  worker.on('failed', (job, err) => {
    if (!job || job.finishedOn === undefined || job.finishedOn === null) return;
    const settled = new Set([...(job.data.done ?? []).map((r) => r.id), ...(reported.get(job.id ?? '') ?? [])]);
    reported.delete(job.id ?? '');
    for (const task of job.data.tasks) {
      if (settled.has(task.id)) continue;
      const own = job.data.failures?.find((f) => f.id === task.id);
      listener({
        ...base(job, job.attemptsMade), task, result: 'failed', detail: own?.message ?? err.message,
        ...(own?.code ? { code: own.code } : {}), ...(own?.requestId ? { requestId: own.requestId } : {}),
      });
    }
  });
}
