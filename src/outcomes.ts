// Turns a delete worker's settled jobs (BullMQ's completed and final failed events) into one
// outcome per task, for the audit trail and the metrics.
import type { Job, Worker } from 'bullmq';
import type { ProviderConfig } from './config.js';
import type { DeleteJobData, DeleteJobResult, JobTask, TaskResult } from './queue.js';

/** What finally happened to one task of a settled delete job. */
export interface TaskOutcome {
  readonly provider: ProviderConfig;
  /** The target key the job was enqueued under (see scope.ts). */
  readonly target: string;
  readonly runId: string;
  readonly jobId: string;
  readonly attempts: number;
  readonly task: JobTask;
  /** `skipped`: kept by the worker's re-check; `failed`: the job failed for good. */
  readonly result: TaskResult['result'] | 'failed';
  readonly requestId?: string;
  /** The re-check's reason for a skip, the provider's error for a failure. */
  readonly detail?: string;
  readonly settledAt: Date;
}

export type OutcomeListener = (outcome: TaskOutcome) => void;

/**
 * Calls `listener` once per task of every job this worker settles. A job that will be retried is
 * not settled yet; its tasks are reported when it completes or fails for good.
 */
export function watchTaskOutcomes(worker: Worker<DeleteJobData, DeleteJobResult>, providerConfig: ProviderConfig, listener: OutcomeListener): void {
  worker.on('completed', (job, result) => report(job, result.results, undefined));
  worker.on('failed', (job, err) => {
    if (job && job.finishedOn !== undefined && job.finishedOn !== null) report(job, job.data.done ?? [], err.message);
  });

  function report(job: Job<DeleteJobData, DeleteJobResult>, results: readonly TaskResult[], failure: string | undefined): void {
    const base = {
      provider: providerConfig, target: job.data.target, runId: job.data.runId, jobId: job.id ?? '',
      attempts: job.attemptsMade, settledAt: new Date(job.finishedOn ?? Date.now()),
    };
    const byId = new Map(results.map((r) => [r.id, r]));
    for (const task of job.data.tasks) {
      const settled = byId.get(task.id);
      if (settled) {
        listener({ ...base, task, result: settled.result, ...(settled.requestId ? { requestId: settled.requestId } : {}), ...(settled.detail ? { detail: settled.detail } : {}) });
      } else if (failure !== undefined) {
        const requestId = job.data.failures?.find((f) => f.id === task.id)?.requestId;
        listener({ ...base, task, result: 'failed', detail: failure, ...(requestId ? { requestId } : {}) });
      }
    }
  }
}
