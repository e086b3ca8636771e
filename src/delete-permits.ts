// P_CONCURRENCY across every worker, without one call per job. A delete job carries up to ten tasks;
// if each job made one call at a time, the last few jobs of a run (or a run of only a few jobs) would
// leave most of P_CONCURRENCY idle while their tasks went one by one. Instead BullMQ lets only J jobs
// be active across all workers (its global concurrency) and every active job brings P/J permits to
// its process's pool; a job's tasks (re-read, then delete) each hold one permit while they run, and
// the tasks of every job in the process draw on the pool. Whatever the jobs' spread over pods, the
// pools hold at most Σ floor(P·aᵢ/J) ≤ P permits, so no more than P tasks are ever in flight.
import type { ProviderConfig } from './config.js';
import { PROVIDER_FACTS } from './providers/catalog.js';
import { TASKS_PER_JOB } from './queue.js';

/**
 * J, the delete jobs that may be active at once across all workers, for P = P_CONCURRENCY and the
 * number of tasks one delete call takes. Where a job is one call (Workspace's batch of ten), J = P:
 * one call per job. Otherwise two permits per job. Each job that ends withdraws its share, and until
 * the next job starts, or the tasks of other jobs borrowing it finish, that share idles: the fewer
 * jobs, the more idles at each of these changes; the more jobs, the fewer permits the last jobs of
 * a run have for their tasks. Two was measured best (bench/RESULTS.md: 32 permits over 16 jobs
 * deleted faster than over 32, 7 or 4). At least two jobs, so one job's last task does not leave
 * the others' permits idle.
 */
export function deleteJobSlots(concurrency: number, tasksPerCall: number): number {
  const callsPerJob = Math.ceil(TASKS_PER_JOB / tasksPerCall);
  if (callsPerJob <= 1) return concurrency;
  return Math.min(concurrency, Math.max(2, Math.ceil(concurrency / PERMITS_PER_JOB)));
}

const PERMITS_PER_JOB = 2;

/** J for one provider's configuration: BullMQ's global concurrency and each worker's own. */
export function deleteJobSlotsFor(provider: ProviderConfig): number {
  return deleteJobSlots(provider.concurrency, PROVIDER_FACTS[provider.name].maxBatchSize);
}

/** Permits of one process for one provider: each active job adds its share, each running task holds one. */
export class DeletePermits {
  private jobs = 0;
  private inFlight = 0;
  /** Tasks waiting for a permit, first come first served (each job waits with one task at a time). */
  private readonly waiting: (() => void)[] = [];
  /** Jobs that left and wait for the pool to fall back within its smaller capacity. */
  private readonly leaving: (() => void)[] = [];

  /** `total`: P; `jobSlots`: J, the jobs active at once across all workers (each worker's own concurrency too). */
  constructor(private readonly total: number, readonly jobSlots: number) {}

  /** floor(P·a/J): a process holding every job slot has exactly P. */
  get capacity(): number {
    return Math.floor((this.total * this.jobs) / this.jobSlots);
  }

  get tasksInFlight(): number {
    return this.inFlight;
  }

  /** A job became active here: its share joins the pool. */
  jobStarted(): void {
    this.jobs += 1;
    this.settle();
  }

  /**
   * A job is done with its tasks: its share leaves the pool. Resolves once the tasks of other jobs
   * that ran on that share have finished, so that the job's slot, freed in BullMQ when this returns,
   * cannot bring a second share of the same permits to another process.
   */
  jobFinished(): Promise<void> {
    this.jobs -= 1;
    if (this.inFlight <= this.capacity) return Promise.resolve();
    return new Promise((resolve) => this.leaving.push(resolve));
  }

  /** Waits for a permit; the caller must `release()` it when its task is done. */
  acquire(): Promise<void> {
    if (this.waiting.length === 0 && this.inFlight < this.capacity) {
      this.inFlight += 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.grant();
    });
  }

  release(): void {
    this.inFlight -= 1;
    this.settle();
  }

  /** Lets the leaving jobs go once the pool is within its capacity (grants never take it above), then grants permits. */
  private settle(): void {
    if (this.inFlight <= this.capacity) for (const leave of this.leaving.splice(0)) leave();
    this.grant();
  }

  private grant(): void {
    while (this.waiting.length > 0 && this.inFlight < this.capacity) {
      this.inFlight += 1;
      this.waiting.shift()?.();
    }
  }
}
