// Huawei Workspace sub-jobs: ListItaSubJobs walked backwards by offset, BatchDeleteSubJobs with 1 to 10 sub-job ids.
import type { ProviderConfig } from '../config.js';
import { canonicalSpelling, WORKSPACE_UNDELETABLE_TYPES } from './catalog.js';
import { callHuawei, classifyHuaweiFailure, huaweiErrorBody, type HuaweiAuth, type HuaweiResponse, huaweiApiDeps } from './huawei-api.js';
import { countValue, findAllThroughFilter, idField, isRecordNotFound, listField, textField, walkPagesBackward, type CountedPage } from './huawei-paging.js';
import { withListRetries } from './http.js';
import { pageCapOf } from './page-guard.js';
import { ProviderError, type AgeReference, type CloudTask, type DeleteBatchResult, type DeleteOutcome, type Provider, type TaskRead, type TaskRef, type AdapterDeps } from './provider.js';
import { isoTime } from './timestamps.js';

/** ListItaSubJobs' largest `limit` (§5a: 0 to 1000). */
const PAGE_LIMIT = 1000;
/** BatchDeleteSubJobs takes 1 to 10 `job_ids` (§5b: minItems 1, maxItems 10). */
export const MAX_IDS_PER_CALL = 10;
const UNDELETABLE_TYPES: readonly string[] = WORKSPACE_UNDELETABLE_TYPES;
// A multi-id call refused with one of these may be about a single id (unknown, or not deletable:
// Workspace's documented "can't be deleted" code, WKS.00081102, is a 403), so each id is retried alone.
const PER_ID_STATUSES = [400, 403, 404, 409];

export interface WorkspaceDeps extends AdapterDeps<HuaweiAuth> {
  /** Page size for ListItaSubJobs; tests lower it to page through a few records. */
  readonly pageLimit?: number;
}

/** Pages a re-read may read among one parent job's sub-jobs before giving up (inconclusive). */
const LOOKUP_MAX_PAGES = 10;

type Failure = DeleteBatchResult['failures'][number];

export function createWorkspaceProvider(config: ProviderConfig, deps: WorkspaceDeps): Provider {
  const api = huaweiApiDeps(config.endpoint, deps);
  const limit = Math.min(Math.max(1, deps.pageLimit ?? PAGE_LIMIT), PAGE_LIMIT);
  const base = (project: string) => `/v2/${encodeURIComponent(project)}/workspace-sub-jobs`;

  const page = (project: string, offset: number, size: number, signal?: AbortSignal): Promise<CountedPage<Record<string, unknown>>> =>
    withListRetries(async () => {
      const r = await callHuawei(api, project, { operation: 'list', method: 'GET', path: base(project), query: [['limit', size], ['offset', offset]] }, signal);
      if (r.status !== 200) throw classifyHuaweiFailure(r);
      const total = totalCount(r);
      return { items: listField(r, 'jobs', total), total };
    }, signal ? { signal } : {});

  /** One BatchDeleteSubJobs call; the API answers 200 with no body on success (§5b). */
  const send = (project: string, ids: readonly string[]) =>
    callHuawei(api, project, { operation: 'delete', method: 'POST', path: `${base(project)}/batch-delete`, json: { job_ids: ids } });

  async function deleteEach(project: string, ids: readonly string[]): Promise<DeleteBatchResult> {
    const outcomes: DeleteOutcome[] = [];
    const failures: Failure[] = [];
    for (const [i, id] of ids.entries()) {
      let response: HuaweiResponse;
      try {
        response = await send(project, [id]);
      } catch (err) {
        if (!(err instanceof ProviderError)) throw err;
        failures.push(...ids.slice(i).map((rest) => ({ id: rest, error: err })));
        break;
      }
      const settled = settledOutcome(id, response);
      if (settled) { outcomes.push(settled); continue; }
      const error = classifyHuaweiFailure(response);
      if (error.kind === 'permanent') { failures.push({ id, error }); continue; }
      // Throttled or a server error: stop calling; this and the remaining ids wait for BullMQ's retry.
      failures.push(...ids.slice(i).map((rest) => ({ id: rest, error })));
      break;
    }
    return { outcomes, failures };
  }

  /** One call for up to 10 ids; a refusal that may concern a single id is resolved id by id. */
  async function deleteBatch(project: string, ids: readonly string[]): Promise<DeleteBatchResult> {
    const response = await send(project, ids);
    const requestId = response.requestId ? { requestId: response.requestId } : {};
    if (succeeded(response)) return { outcomes: ids.map((id) => ({ id, result: 'deleted' as const, ...requestId })), failures: [] };
    const only = ids.length === 1 ? ids[0] : undefined;
    if (only !== undefined) {
      const settled = settledOutcome(only, response);
      if (settled) return { outcomes: [settled], failures: [] };
      throw classifyHuaweiFailure(response);
    }
    const error = classifyHuaweiFailure(response);
    if (!mayConcernOneId(response, error)) throw error;
    return deleteEach(project, ids);
  }

  /** The sub-jobs of one parent job are read with one listing of that parent (paged), not one call each. */
  async function readSubJobs(project: string, tasks: readonly TaskRef[]): Promise<ReadonlyMap<string, TaskRead>> {
    const reads = new Map<string, TaskRead>();
    const byParent = new Map<string, string[]>();
    for (const { id, lookup } of tasks) {
      if (lookup === undefined || lookup === '') reads.set(id, { kind: 'no-read', reason: 'the sub-job has no parent job_id to look it up by' });
      else byParent.set(lookup, [...(byParent.get(lookup) ?? []), id]);
    }
    for (const [parent, ids] of byParent) {
      const found = await findAllThroughFilter(async (index) => {
        const r = await callHuawei(api, project, { operation: 'get', method: 'GET', path: base(project), query: [['job_id', parent], ['limit', limit], ['offset', index * limit]] });
        if (r.status !== 200) throw classifyHuaweiFailure(r);
        const total = totalCount(r);
        return { items: listField(r, 'jobs', total), total };
      }, { ids, pageSize: limit, maxPages: LOOKUP_MAX_PAGES, idOf: (item) => idField(item, 'id') ?? '' });
      for (const [id, lookup] of found) {
        reads.set(id, lookup.kind === 'found' ? { kind: 'found', task: toCloudTask(lookup.item) }
          : lookup.kind === 'absent' ? { kind: 'gone' } : { kind: 'inconclusive', reason: `parent job ${parent} lists more sub-jobs than a re-read reads` });
      }
    }
    return reads;
  }

  return {
    name: 'workspace',
    // Offset paging shifts while our workers delete: walked last page first (walkPagesBackward).
    async *listTasks(project, signal) {
      const pages = walkPagesBackward((index) => page(project, index * limit, limit, signal), {
        pageSize: limit, cap: pageCapOf(config.maxListPages), walk: 'ListItaSubJobs', idOf: (item) => idField(item, 'id') ?? '',
      });
      for await (const items of pages) yield items.map(toCloudTask);
    },
    async deleteTasks(project, taskIds): Promise<DeleteBatchResult> {
      const outcomes: DeleteOutcome[] = [];
      const failures: Failure[] = [];
      for (let i = 0; i < taskIds.length; i += MAX_IDS_PER_CALL) {
        try {
          const result = await deleteBatch(project, taskIds.slice(i, i + MAX_IDS_PER_CALL));
          outcomes.push(...result.outcomes);
          failures.push(...result.failures);
        } catch (err) {
          // A failed call fails its whole batch; ids settled by an earlier call are still reported.
          if (i === 0 || !(err instanceof ProviderError)) throw err;
          failures.push(...taskIds.slice(i).map((id) => ({ id, error: err })));
          break;
        }
      }
      return { outcomes, failures };
    },
    /**
     * ListItaSubJobs has no sub-job id filter, but filters exactly by parent `job_id` (§5a): the
     * sub-job is looked up among its parent job's sub-jobs. Absent from that complete list: gone.
     * (readSubJobs always answers for every id it is given.)
     */
    async getTask(project, task): Promise<TaskRead> {
      return (await readSubJobs(project, [task])).get(task.id) ?? { kind: 'inconclusive', reason: 'no answer for this sub-job' };
    },
    getTasks: readSubJobs,
  };
}

function succeeded(response: HuaweiResponse): boolean {
  return response.status === 200 || response.status === 204;
}

/**
 * Deleted, or already gone, for a single-id call. Idempotency for unknown ids is undocumented for v2
 * (§5b); a 404 not sent by APIG itself is taken as "gone", as for the other Huawei services. No WKS
 * not-found code is documented, so no code alone counts as gone.
 */
function settledOutcome(id: string, response: HuaweiResponse): DeleteOutcome | undefined {
  const requestId = response.requestId ? { requestId: response.requestId } : {};
  if (succeeded(response)) return { id, result: 'deleted', ...requestId };
  if (isRecordNotFound(response)) return { id, result: 'gone', ...requestId };
  return undefined;
}

/**
 * Whether a refused multi-id call may be about one of its ids rather than the request as a whole.
 * Not for APIG's own answers (auth, wrong path) nor for IAM denials, which carry
 * `encoded_authorization_message` and would refuse every id alike.
 */
export function mayConcernOneId(response: HuaweiResponse, error: ProviderError): boolean {
  const { code } = huaweiErrorBody(response.body);
  const body = response.body as Record<string, unknown> | undefined;
  const denied = typeof body?.encoded_authorization_message === 'string' && body.encoded_authorization_message !== '';
  return error.kind === 'permanent' && PER_ID_STATUSES.includes(response.status) && !(code ?? '').startsWith('APIGW.') && !denied;
}

function totalCount(response: HuaweiResponse): number {
  const total = countValue((response.body as Record<string, unknown> | undefined)?.total_count);
  if (total !== undefined) return total;
  throw new ProviderError('permanent', 'unexpected list response: no "total_count" count', {
    status: response.status, ...(response.requestId ? { requestId: response.requestId } : {}),
  });
}

/** Age from end_time; begin_time only when end_time is absent (a malformed end_time stays invalid). */
export function workspaceAge(item: Record<string, unknown>): AgeReference {
  const end = isoTime('end_time', item.end_time);
  return end.kind === 'missing' ? isoTime('begin_time', item.begin_time) : end;
}

function toCloudTask(item: Record<string, unknown>): CloudTask {
  const status = textField(item, 'status');
  const jobType = textField(item, 'job_type');
  const parent = idField(item, 'job_id');
  return {
    // `id` is the sub-job id batch-delete takes; `job_id` is the parent job and is never sent (§5a).
    id: idField(item, 'id') ?? '',
    states: status ? [canonicalSpelling('workspace', status)] : [],
    agedFrom: workspaceAge(item),
    ...(jobType !== undefined && UNDELETABLE_TYPES.includes(jobType) ? { undeletableBecause: `BatchDeleteSubJobs refuses job_type ${jobType}` } : {}),
    ...(jobType ? { label: jobType, type: jobType } : {}),
    ...(parent ? { lookup: parent } : {}),
  };
}
