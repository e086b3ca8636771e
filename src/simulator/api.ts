// The simulator's shared vocabulary: a received request, a response, and what each fake API implements.
import type { ProviderName } from '../providers/catalog.js';
import type { PagingFault } from './paging-fault.js';

export interface SimRequest {
  readonly method: string;
  readonly path: string;
  readonly rawQuery: string;
  readonly query: URLSearchParams;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
}

export interface SimResponse {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Fault injection only: a body sent byte for byte instead of `body` as JSON (an HTML error page from
   * a proxy, JSON cut off mid-way, an empty body), with the given Content-Type.
   */
  readonly raw?: { readonly text: string; readonly contentType: string };
  /** Fault injection only: no answer at all; the connection stays open until the client gives up. */
  readonly hang?: true;
}

/** What the seeder decided for one task, kept so tests can compute the expected deletions independently. */
export interface SeedFact {
  readonly id: string;
  /** The state the seeder chose; for VIAS, the set of non-zero sub-task states. */
  readonly states: readonly string[];
  /** Age of the timestamp the API reports; undefined when the timestamp is missing or malformed. */
  readonly ageMs: number | undefined;
  /** True when the API itself refuses to delete this record (e.g. a Workspace type). */
  readonly undeletable?: boolean;
}

/**
 * One project's records as the API stores them (raw API shape), keyed by id. `version` grows with
 * every `set`, so an API can keep a sorted view of a large store and rebuild it only after additions.
 */
export class ProjectStore extends Map<string, Record<string, unknown>> {
  version = 0;

  override set(key: string, value: Record<string, unknown>): this {
    this.version += 1;
    return super.set(key, value);
  }
}

export interface OperationKind {
  readonly provider: ProviderName;
  /**
   * `cancel` is MPC's CancelRemuxTask, a trap the janitor must never call. `restart` is a user's
   * ResumeBatch (IMM), start action (VIAS) or RetryBatchTask (IoTDA): finished work runs again.
   * `get` is a single-record read, or a list call filtered down to one record (MPC task_id, VIAS
   * name_like, Workspace job_id), so tests can count and fault re-reads apart from listings.
   */
  readonly op: 'list' | 'delete' | 'get' | 'cancel' | 'restart';
  /** The task id a delete or get is about (for fault targeting). */
  readonly taskId?: string;
  readonly project: string;
}

export interface ApiContext {
  readonly now: Date;
  readonly store: (project: string) => ProjectStore | undefined;
  /** Records a successful delete so tests can compare it with the seed facts. */
  readonly onDeleted: (project: string, id: string, record: Record<string, unknown>) => void;
  /** Set when the list API's next-page cursor is to misbehave (Simulator.pagingFault). */
  readonly pagingFault?: PagingFault;
  /** IoTDA task types this endpoint refuses (SimulatorOptions.iotdaRefusedTaskTypes). */
  readonly iotdaRefusedTaskTypes?: readonly string[];
}

/** A fake provider API. It recognises its own paths and answers in its own style. */
export interface ApiSim {
  readonly provider: ProviderName;
  readonly cloud: 'huawei' | 'alibaba';
  /** The record field holding the id the delete API takes. */
  readonly idField: string;
  /**
   * Huawei only: the authentication its docs show (default both). An API documented with the IAM
   * token alone (VIAS, §2d) refuses AK/SK-signed calls as APIG refuses a call without a token.
   */
  readonly authSchemes?: readonly ('aksk' | 'token')[];
  /** Classifies a request as this API's operation, or undefined when the path is not this API's. */
  route(req: SimRequest): OperationKind | undefined;
  handle(req: SimRequest, op: OperationKind, ctx: ApiContext): SimResponse;
  /** Builds a seeded record and its fact, deterministic for the given random source. */
  seedTask(random: () => number, now: Date, index: number): { record: Record<string, unknown>; fact: SeedFact };
  /**
   * Makes a finished record run again, as the provider's restart API does; answers the refusal when
   * the record's state does not allow it. Used by the API route and by tests (Simulator.restart).
   */
  restart?(record: Record<string, unknown>, now: Date): SimResponse | undefined;
  /** The provider's own answers for throttling and server errors. */
  throttled(requestId: string): SimResponse;
  serverError(requestId: string): SimResponse;
}

export const json = (status: number, body?: unknown, headers?: Record<string, string>): SimResponse => ({
  status, ...(body !== undefined ? { body } : {}), ...(headers ? { headers } : {}),
});

/** Huawei's common error body, as APIG-fronted services answer. */
export const huaweiError = (status: number, code: string, message: string, requestId?: string): SimResponse =>
  json(status, { error_code: code, error_msg: message, ...(requestId ? { request_id: requestId } : {}) });

export const apigThrottled = (requestId: string): SimResponse =>
  huaweiError(429, 'APIGW.0308', 'The request is throttled.', requestId);
export const huaweiServerError = (requestId: string): SimResponse =>
  huaweiError(500, 'APIGW.0103', 'The backend service is unavailable.', requestId);
