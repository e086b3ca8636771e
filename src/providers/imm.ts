// Alibaba Cloud IMM batches (API 2020-09-30): ListBatches with NextToken paging, GetBatch, DeleteBatch.
import type { ProviderConfig } from '../config.js';
import { callAlibaba, classifyAlibabaFailure, isBatchNotFound, type AlibabaApiDeps, type AlibabaAuth, type AlibabaResponse } from './alibaba-api.js';
import { canonicalSpelling } from './catalog.js';
import { withListRetries } from './http.js';
import { pageCapOf, pageGuard } from './page-guard.js';
import { ProviderError, type AgeReference, type CloudTask, type DeleteBatchResult, type Provider, type TaskRead, deleteOneByOne, type AdapterDeps } from './provider.js';
import { isoTime } from './timestamps.js';

/** The IMM API version these actions belong to (`x-acs-version`). */
export const IMM_API_VERSION = '2020-09-30';
const PAGE_SIZE = 100; // MaxResults maximum (§1a)

export interface ImmDeps extends AdapterDeps<AlibabaAuth> {
  /** Nonce source for tests; a fresh random one per request otherwise. */
  readonly nonce?: () => string;
}

export function createImmProvider(config: ProviderConfig, deps: ImmDeps): Provider {
  const api: AlibabaApiDeps = {
    http: deps.http, endpoint: config.endpoint, auth: deps.auth, now: deps.now, version: IMM_API_VERSION,
    ...(deps.budget ? { budget: deps.budget } : {}), ...(deps.watch ? { watch: deps.watch } : {}),
    ...(deps.nonce ? { nonce: deps.nonce } : {}),
  };

  return {
    name: 'imm',
    async *listTasks(project, signal) {
      let token = '';
      const enter = pageGuard('ListBatches', 'NextToken', pageCapOf(config.maxListPages));
      enter(token);
      for (;;) {
        // The SDK sends every ListBatches parameter in the query string (client.go `query[...]`).
        const query = [['MaxResults', PAGE_SIZE], ['NextToken', token === '' ? undefined : token], ['ProjectName', project]] as const;
        const response = await withListRetries(async () => {
          const r = await callAlibaba(api, { operation: 'list', action: 'ListBatches', query }, signal);
          if (r.status !== 200) throw classifyAlibabaFailure(r);
          return r;
        }, signal ? { signal } : {});
        const batches = objectList(response, 'Batches');
        if (batches.length > 0) yield batches.map(toImmTask);
        const next = (response.body as Record<string, unknown>).NextToken;
        // Paging ends on an empty or absent NextToken; one seen before (a cycle) stops the target.
        if (typeof next !== 'string' || next === '') break;
        enter(next);
        token = next;
      }
    },
    deleteTasks(project, taskIds): Promise<DeleteBatchResult> {
      return deleteOneByOne(taskIds, async (id) => {
        // DeleteBatch is a formData API: Id and ProjectName travel in a form-encoded body (client.go).
        const response = await callAlibaba(api, { operation: 'delete', action: 'DeleteBatch', form: [['Id', id], ['ProjectName', project]] });
        const requestId = response.requestId ? { requestId: response.requestId } : {};
        if (response.status === 200) return { id, result: 'deleted', ...requestId };
        // Idempotency is undocumented (§1b): ResourceNotFound, with 400 or 404, not naming the project, means already gone.
        if (isBatchNotFound(response, project)) return { id, result: 'gone', ...requestId };
        throw classifyAlibabaFailure(response);
      });
    },
    // GetBatch (§1a): parameters in the query, like every IMM action but DeleteBatch.
    async getTask(project, { id }): Promise<TaskRead> {
      const response = await callAlibaba(api, { operation: 'get', action: 'GetBatch', query: [['Id', id], ['ProjectName', project]] });
      if (response.status !== 200) {
        if (isBatchNotFound(response, project)) return { kind: 'gone' };
        throw classifyAlibabaFailure(response);
      }
      const batch = (response.body as Record<string, unknown> | undefined)?.Batch;
      if (batch === null || typeof batch !== 'object') throw unexpected(response, 'no "Batch" object');
      return { kind: 'found', task: toImmTask(batch as Record<string, unknown>) };
    },
  };
}

/** Maps one DataIngestion record to a CloudTask; pure, exported for table tests. */
export function toImmTask(item: Record<string, unknown>): CloudTask {
  const state = typeof item.State === 'string' && item.State !== '' ? item.State : undefined;
  const id = typeof item.Id === 'string' ? item.Id : '';
  return { id, states: state ? [canonicalSpelling('imm', state)] : [], agedFrom: immAgeReference(item) };
}

/**
 * Age runs from UpdateTime when the record has one, else from CreateTime. UpdateTime is when the
 * batch last changed (finished, failed, was suspended), so a batch that ran for days is not aged
 * from its start; it is never earlier than CreateTime, so this choice only ever keeps more. A present
 * but unparsable UpdateTime is reported as invalid (kept), never papered over with CreateTime.
 */
export function immAgeReference(item: Record<string, unknown>): AgeReference {
  const updated = item.UpdateTime;
  return updated === undefined || updated === null || updated === '' ? isoTime('CreateTime', item.CreateTime) : isoTime('UpdateTime', updated);
}

function objectList(response: AlibabaResponse, field: string): readonly Record<string, unknown>[] {
  const body = response.body;
  if (body === null || typeof body !== 'object') throw unexpected(response, 'non-JSON body');
  // An absent list is an empty page (the SDK model marks Batches optional); anything else is malformed.
  const items = (body as Record<string, unknown>)[field] ?? [];
  if (!Array.isArray(items) || items.some((i) => i === null || typeof i !== 'object')) throw unexpected(response, `no "${field}" array`);
  return items as Record<string, unknown>[];
}

function unexpected(response: AlibabaResponse, what: string): ProviderError {
  return new ProviderError('permanent', `unexpected ${what} in the response`, {
    status: response.status, ...(response.requestId ? { requestId: response.requestId } : {}),
  });
}
