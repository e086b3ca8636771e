// P_CONCURRENCY across every worker, without one call per job. A delete job carries several tasks (tasksPerJob);
// if each job made one call at a time, the last few jobs of a run (or a run of only a few jobs) would
// leave most of P_CONCURRENCY idle while their tasks went one by one. Instead BullMQ lets only J jobs
// be active across all workers (its global concurrency) and every active job brings P/J permits to
// its process's pool; a job's tasks (re-read, then delete) each hold one permit while they run, and
// the tasks of every job in the process draw on the pool. Whatever the jobs' spread over pods, the
// pools hold at most Σ floor(P·aᵢ/J) ≤ P permits, so no more than P tasks are ever in flight. Pods
// with different P on one prefix (a rolling update) all follow the P, and its J, of the process that
// started last: it stores them in Redis, and each worker reads them back (at most a second old) when
// it starts a job, so the bound holds once the jobs active at the change have ended.
import type { ProviderConfig } from './config.js';
import { PROVIDER_FACTS } from './providers/catalog.js';

/**
 * Permits each job brings, and tasks per permit: a job of the single-task APIs carries ten tasks and
 * brings two permits, so it lasts about five task times. Each job that ends withdraws its share, and
 * until the next job starts, or the tasks of other jobs borrowing it finish, that share idles: the
 * shorter the jobs, the more often that happens; the longer, the more the last jobs of a run (or a
 * run of a few jobs) hold back their tasks on their few permits. Measured (bench/RESULTS.md): 32
 * permits over 16 jobs of ten deleted faster than over 32, 7 or 4 jobs of ten; at P = 32, jobs of
 * twenty bringing four permits each used less CPU per delete but were slower at 20 ms latency.
 */
const PERMITS_PER_JOB = 2;
const TASKS_PER_PERMIT = 5;

/**
 * Tasks one delete job carries, for the tasks one delete call takes: one call's worth where the API
 * deletes several at once (Workspace's ten, so a job is one call), otherwise ten. A job costs about a
 * kilobyte of Redis and several round trips whatever it carries, so its tasks share them.
 */
export function tasksPerJob(tasksPerCall: number): number {
  return tasksPerCall > 1 ? tasksPerCall : TASKS_PER_PERMIT * PERMITS_PER_JOB;
}

/**
 * J, the delete jobs that may be active at once across all workers, for P = P_CONCURRENCY: P where a
 * job is one call (Workspace), otherwise P/2 (two permits a job), and at least two, so one job's
 * last task does not leave the others' permits idle.
 */
export function deleteJobSlots(concurrency: number, tasksPerCall: number): number {
  if (tasksPerCall > 1) return concurrency;
  return Math.min(concurrency, Math.max(2, Math.ceil(concurrency / PERMITS_PER_JOB)));
}

/** J for one provider's configuration: BullMQ's global concurrency and each worker's own. */
export function deleteJobSlotsFor(provider: ProviderConfig): number {
  return deleteJobSlots(provider.concurrency, PROVIDER_FACTS[provider.name].maxBatchSize);
}

/** Tasks per delete job for one provider (the producer's batches). */
export function tasksPerJobFor(provider: ProviderConfig): number {
  return tasksPerJob(PROVIDER_FACTS[provider.name].maxBatchSize);
}

/** How old the queue's P may be when a job starts: a worker reads it back at most once a second. */
export const QUEUE_CONCURRENCY_MAX_AGE_MS = 1_000;

/**
 * The P and J to share permits out by, from the P stored in Redis by the last process to start on
 * the prefix (src/run.ts); undefined when none is stored (an older version started last) or it is
 * not a P this version accepts, and the process keeps its own.
 */
export function queueShareOf(stored: string | null, provider: ProviderConfig): { readonly total: number; readonly jobSlots: number } | undefined {
  if (stored === null || !/^\d{1,3}$/.test(stored)) return undefined;
  const total = Number(stored);
  if (total < 1 || total > 100) return undefined;
  return { total, jobSlots: deleteJobSlots(total, PROVIDER_FACTS[provider.name].maxBatchSize) };
}

/** Permits of one process for one provider: each active job adds its share, each running task holds one. */
export class DeletePermits {
  private jobs = 0;
  private inFlight = 0;
  /** Tasks waiting for a permit, first come first served (each job waits with one task at a time). */
  private readonly waiting: (() => void)[] = [];
  /** Jobs that left and wait for the pool to fall back within its smaller capacity. */
  private readonly leaving: (() => void)[] = [];

  private total: number;
  private slots: number;

  /** `total`: P; `jobSlots`: J, the jobs active at once across all workers (this worker's own concurrency too). */
  constructor(total: number, readonly jobSlots: number) {
    this.total = total;
    this.slots = jobSlots;
  }

  /** floor(P·a/J): a process holding every job slot has exactly P. */
  get capacity(): number {
    return Math.floor((this.total * this.jobs) / this.slots);
  }

  /**
   * Shares the permits out by the queue's P and J (those of the process that started last on the
   * prefix) instead of this process's own: with every pod on the same pair, the pools hold at most
   * that P whatever each pod was configured with. A smaller capacity lets the tasks in flight finish.
   */
  follow(total: number, jobSlots: number): void {
    if (total === this.total && jobSlots === this.slots) return;
    this.total = total;
    this.slots = jobSlots;
    this.settle();
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
