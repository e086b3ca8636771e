// The few points where the run, the producer and the workers tell the operator's view (metrics,
// audit trail) what happened. Every method is optional; several observers combine into one.
import type { Queue, Worker } from 'bullmq';
import type { ProviderConfig } from './config.js';
import type { DeletePermits } from './delete-permits.js';
import type { ProviderName } from './providers/catalog.js';
import type { DeleteJobData, DeleteJobResult } from './queue.js';
import type { TargetStats } from './summary.js';

export interface RunObserver {
  /** A delete worker started; watch its settled jobs and its delete permits. */
  workerStarted?(worker: Worker<DeleteJobData, DeleteJobResult>, providerConfig: ProviderConfig, permits: DeletePermits): void;
  /** The provider queues are open (queue depth is read from them). */
  queuesOpened?(queues: ReadonlyMap<ProviderName, Queue<DeleteJobData>>): void;
  /** One provider target has been listed and judged. */
  targetListed?(stats: TargetStats): void;
  /** A `run` or `produce` finished (also each scheduled produce of the daemon). */
  runFinished?(run: FinishedRun): void;
}

export interface FinishedRun {
  readonly runId: string;
  readonly mode: 'run' | 'produce';
  readonly stats: readonly TargetStats[];
  readonly exitCode: number;
  readonly durationMs: number;
}

/** One observer that forwards each call to every given observer, in order. */
export function combineObservers(...observers: readonly RunObserver[]): RunObserver {
  return {
    workerStarted: (worker, pc, permits) => { for (const o of observers) o.workerStarted?.(worker, pc, permits); },
    queuesOpened: (queues) => { for (const o of observers) o.queuesOpened?.(queues); },
    targetListed: (stats) => { for (const o of observers) o.targetListed?.(stats); },
    runFinished: (run) => { for (const o of observers) o.runFinished?.(run); },
  };
}
