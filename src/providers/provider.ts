// The contract every cloud adapter implements: list tasks page by page, delete them, classify failures.
import { redactText } from '../redact.js';
import type { CallBudget } from '../limiter.js';
import type { CallWatch } from './call-context.js';
import type { ProviderName } from './catalog.js';
import type { HttpClient } from './http.js';

/** Which timestamp a task's age is measured from, as the adapter parsed it. */

/** What every adapter is built with besides its configuration: its HTTP client, credentials, clock, budgets and watch. */
export interface AdapterDeps<Auth> {
  readonly http: HttpClient;
  readonly auth: Auth;
  readonly now: () => Date;
  /** Call budgets (P_RATE_LIMIT for deletes, P_READ_RATE_LIMIT for reads); none in unit tests of request shapes. */
  readonly budget?: CallBudget;
  /** Who is told about each call (metrics, the server clock); none in unit tests of request shapes. */
  readonly watch?: CallWatch;
}
export type AgeReference =
  | { readonly kind: 'ok'; readonly field: string; readonly at: Date }
  | { readonly kind: 'missing'; readonly field: string }
  | { readonly kind: 'invalid'; readonly field: string; readonly raw: unknown };

/** One task record as listed, reduced to what the policy and the logs need. */
export interface CloudTask {
  readonly id: string;
  /**
   * States in the catalog's spelling (canonicalState at the adapter); several for VIAS (every state
   * with a non-zero count). A value the API does not document stays as given, so the policy keeps it.
   */
  readonly states: readonly string[];
  readonly agedFrom: AgeReference;
  /** Set when the API itself refuses to delete this kind of record (Workspace job types). */
  readonly undeletableBecause?: string;
  /** Short description for logs: the task type or name. */
  readonly label?: string;
  /** The task's own name, where the API has one (IoTDA task_name, VIAS batch_task_name); P_INCLUDE/P_EXCLUDE match it. */
  readonly name?: string;
  /** The task's type, where the API has one (IoTDA task_type, Workspace job_type); P_INCLUDE/P_EXCLUDE match it, P_KEEP_LATEST groups IoTDA by it. */
  readonly type?: string;
  /**
   * What the provider's re-read needs besides the id, where its only read is a list filter
   * (the parent job id for Workspace, the batch name for VIAS). Carried in the delete job.
   */
  readonly lookup?: string;
}

/** The task a re-read is about: its id and, where the read is a list filter, the value it filters on. */
export interface TaskRef {
  readonly id: string;
  readonly lookup?: string;
}

/**
 * What a re-read just before a delete found. `gone`: the API says the record no longer exists.
 * `inconclusive`: the read ran but cannot vouch for the record (never deleted; next run decides).
 * `no-read`: the API offers no way to read this record; the snapshot's age decides.
 */
export type TaskRead =
  | { readonly kind: 'found'; readonly task: CloudTask }
  | { readonly kind: 'gone' }
  | { readonly kind: 'inconclusive'; readonly reason: string }
  | { readonly kind: 'no-read'; readonly reason: string };

/** How a failed call should be treated: BullMQ retries transient ones, never permanent ones. */
export type FailureKind = 'throttled' | 'transient' | 'permanent';

/**
 * A classified provider failure; message and code are the provider's own, with any credential in
 * them masked (APIG names an unknown access key in its message), before the message reaches a log,
 * a summary, a job's failed reason or the audit file.
 */
export class ProviderError extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
    readonly details: { readonly code?: string; readonly status?: number; readonly requestId?: string; readonly retryAfterMs?: number } = {},
  ) {
    super(redactText(message));
    this.name = 'ProviderError';
  }
}

/** Any thrown value as a ProviderError; an unclassified one (a bug, a network fault) is transient. */
export function asProviderError(err: unknown): ProviderError {
  if (err instanceof ProviderError) return err;
  const wrapped = new ProviderError('transient', (err as Error).message || String(err));
  // Kept, so a caller can tell a failure that was not the provider's (its call budget's Redis, say).
  wrapped.cause = err;
  return wrapped;
}

/** The result of deleting one task: gone means the API said it no longer exists. */
export interface DeleteOutcome {
  readonly id: string;
  readonly result: 'deleted' | 'gone';
  readonly requestId?: string;
}

/** One task whose delete (or re-read) failed, with the classified error. */
export interface TaskFailureError {
  readonly id: string;
  readonly error: ProviderError;
}

/** A batch call can succeed for some ids and fail for others (Workspace, VIAS sub-tasks). */
export interface DeleteBatchResult {
  readonly outcomes: readonly DeleteOutcome[];
  readonly failures: readonly TaskFailureError[];
}

/** What the provider's own clock said on list calls (HTTP Date header), for the clock-sanity valve. */
export interface ServerClockReading {
  /** The provider's Date header minus the local clock, the largest seen on a list call (ms); undefined before any. */
  skewMs(): number | undefined;
  /** The same on the latest re-read (ms): what the worker checks before it deletes; undefined before any. */
  readSkewMs?(): number | undefined;
}

/** Receives a listing's warnings: the log event's message and fields, and a sentence for the summary. */
export type ListWarningSink = (warning: { readonly event: string; readonly message: string; readonly fields: Readonly<Record<string, unknown>> }) => void;

export interface Provider {
  readonly name: ProviderName;
  /** Set by the registry: the skew its list answers showed. */
  readonly serverClock?: ServerClockReading;
  /**
   * Streams one target's tasks a page at a time; throws ProviderError when listing fails. Told to
   * `onWarning`: what the listing had to leave out without failing (an IoTDA task type the endpoint refuses).
   */
  listTasks(target: string, signal?: AbortSignal, onWarning?: ListWarningSink): AsyncIterable<readonly CloudTask[]>;
  /** Deletes up to the provider's batch size of tasks in one call (one id for most providers). */
  deleteTasks(target: string, taskIds: readonly string[]): Promise<DeleteBatchResult>;
  /** Re-reads one task just before deleting it; throws ProviderError as listing does. */
  getTask(target: string, task: TaskRef): Promise<TaskRead>;
  /**
   * Re-reads the tasks of one delete call together, where the API reads several in one call
   * (Workspace: one listing of their parent job): a read per id, fresh at one instant, for fewer calls.
   */
  getTasks?(target: string, tasks: readonly TaskRef[]): Promise<ReadonlyMap<string, TaskRead>>;
}

/**
 * Deletes ids one call each (every API but Workspace's takes one id per call). A failed id is
 * reported, the others still tried; a throttled call stops the rest, which wait for the same back-off.
 * When nothing settled, the first failure is thrown, as a failed single call would be.
 */
export async function deleteOneByOne(ids: readonly string[], deleteOne: (id: string) => Promise<DeleteOutcome>): Promise<DeleteBatchResult> {
  const outcomes: DeleteOutcome[] = [];
  const failures: TaskFailureError[] = [];
  for (const [index, id] of ids.entries()) {
    try {
      outcomes.push(await deleteOne(id));
    } catch (err) {
      const error = asProviderError(err);
      failures.push({ id, error });
      if (error.kind === 'throttled') {
        failures.push(...ids.slice(index + 1).map((rest) => ({ id: rest, error })));
        break;
      }
    }
  }
  const first = failures[0];
  if (outcomes.length === 0 && first) throw first.error;
  return { outcomes, failures };
}
