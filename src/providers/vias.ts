// Huawei VIAS batch tasks (§2 of providers.md): ListBatchTasks walked last page first, DeleteBatchTask with per-sub-task results.
import type { ProviderConfig } from '../config.js';
import { canonicalSpelling } from './catalog.js';
import { callHuawei, classifyHuaweiFailure, type HuaweiAuth, type HuaweiResponse, huaweiApiDeps } from './huawei-api.js';
import { countValue, findThroughFilter, idField, isRecordNotFound, listField, textField, walkPagesBackward } from './huawei-paging.js';
import { withListRetries } from './http.js';
import { pageCapOf } from './page-guard.js';
import { ProviderError, type CloudTask, type DeleteOutcome, type Provider, type TaskRead, deleteOneByOne, type AdapterDeps } from './provider.js';
import { epochTime } from './timestamps.js';

/** The API's page_size maximum (5-200) and page_num maximum (1-10000), §2a. */
export const VIAS_PAGE_SIZE = 200;
export const VIAS_MAX_PAGE_NUM = 10_000;
/** Pages a re-read by name may read (a name matches few batches; more means the filter was ignored). */
const LOOKUP_MAX_PAGES = 5;

// Deleting an unknown id is undocumented (§2b). A non-APIG 404 is gone (isRecordNotFound); so are the
// two codes the VIAS error table describes as "No task is found based on the (task) ID." (HTTP 400,
// support.huaweicloud.com/intl/zh-cn/vias-api/vias_03_0280.html). VIAS.00010002 "The object does not
// exist." is NOT taken as gone: it may name the project or another object rather than the batch.
const NOT_FOUND_CODES = ['VIAS.00010007', 'VIAS.00010008'];

export type ViasDeps = AdapterDeps<HuaweiAuth>;

/**
 * The highest page_num holding records, for `count` records in pages of VIAS_PAGE_SIZE; never above
 * the API's page_num maximum, so more than 2,000,000 records leave the newest for a later run.
 */
export function lastPageFor(count: number): number {
  return Math.min(Math.ceil(count / VIAS_PAGE_SIZE), VIAS_MAX_PAGE_NUM);
}

/**
 * A batch has no status of its own (§2a): its states are every key of `batch_task_status_info` with a
 * non-zero count, in the catalog's spelling (the docs use both cases), once each. All-zero
 * counts give no state; an unreadable count gives a pseudo-state no API documents, so the policy keeps
 * the batch (we cannot tell whether sub-tasks in that state exist).
 */
export function batchStates(info: unknown): string[] {
  if (info === null || typeof info !== 'object' || Array.isArray(info)) return [];
  const states: string[] = [];
  for (const [state, raw] of Object.entries(info as Record<string, unknown>)) {
    const n = countValue(raw);
    if (n === undefined) states.push(`${state} (unreadable count ${JSON.stringify(raw)})`);
    else if (n > 0) states.push(canonicalSpelling('vias', state));
  }
  return [...new Set(states)];
}

/** One BatchTaskDto as a CloudTask. */
export function toCloudTask(item: Record<string, unknown>): CloudTask {
  const label = textField(item, 'batch_task_name');
  return {
    id: idField(item, 'id') ?? '',
    states: batchStates(item.batch_task_status_info),
    // created_at is a Long of undocumented unit (§2a): epochTime tells seconds from milliseconds and
    // refuses anything outside 2000-2100 in both. A numeric string is accepted too (gateways often
    // serialise Longs as strings to spare JavaScript clients precision loss); the same ranges apply.
    // There is no end or update time, so age is measured from creation.
    agedFrom: epochTime('created_at', item.created_at),
    ...(label ? { label, name: label, lookup: label } : {}),
  };
}

/**
 * A 200 delete answers per sub-task (§2b): any failed_count or error_list entry means the batch was
 * not (fully) deleted. Returns the provider's own summary of what failed, or undefined on success.
 */
export function incompleteDelete(body: unknown): string | undefined {
  const record = body !== null && typeof body === 'object' ? (body as Record<string, unknown>) : {};
  const failed = countValue(record.failed_count);
  const errors = Array.isArray(record.error_list) ? record.error_list.map((e) => (typeof e === 'string' ? e : JSON.stringify(e))) : [];
  const unreadable = record.failed_count !== undefined && record.failed_count !== null && failed === undefined;
  if (!unreadable && (failed ?? 0) === 0 && errors.length === 0) return undefined;
  const counts = `${unreadable ? `failed_count ${JSON.stringify(record.failed_count)}` : `${failed ?? 0} of ${countValue(record.total_count) ?? '?'}`} sub-tasks not deleted`;
  return `VIAS delete incomplete: ${counts}${errors.length > 0 ? `: ${errors.join('; ')}` : ''}`.slice(0, 500);
}

export function createViasProvider(config: ProviderConfig, deps: ViasDeps): Provider {
  const api = huaweiApiDeps(config.endpoint, deps);
  const base = (project: string) => `/v2/${encodeURIComponent(project)}/batch-tasks`;

  const listPage = (project: string, pageNum: number, pageSize: number, signal?: AbortSignal) =>
    withListRetries(async () => {
      const r = await callHuawei(api, project, {
        operation: 'list', method: 'GET', path: base(project),
        query: [['is_paged', 'true'], ['page_size', pageSize], ['page_num', pageNum], ['order_by', 'asc'], ['sort_name', 'created_at']],
      }, signal);
      if (r.status !== 200) throw classifyHuaweiFailure(r);
      return r;
    }, signal ? { signal } : {});

  async function deleteOne(project: string, id: string): Promise<DeleteOutcome> {
    const r = await callHuawei(api, project, { operation: 'delete', method: 'DELETE', path: `${base(project)}/${encodeURIComponent(id)}` });
    const requestId = r.requestId ? { requestId: r.requestId } : {};
    if (r.status === 200 || r.status === 204) {
      const incomplete = incompleteDelete(r.body);
      // Retried by BullMQ; once attempts run out the job fails with this summary as its reason.
      if (incomplete) throw new ProviderError('transient', incomplete, { status: r.status, ...requestId });
      return { id, result: 'deleted', ...requestId };
    }
    if (isRecordNotFound(r, NOT_FOUND_CODES)) return { id, result: 'gone', ...requestId };
    throw classifyHuaweiFailure(r);
  }

  return {
    name: 'vias',
    /**
     * Sorted by created_at ascending and walked last page first (walkPagesBackward): new batches are
     * appended after the pages still to read, and our own deletions never move an unread record. What
     * can still slip past (a batch created mid-walk with an older created_at) is listed next run.
     */
    async *listTasks(project, signal) {
      const pages = walkPagesBackward(async (index) => {
        const response = await listPage(project, index + 1, VIAS_PAGE_SIZE, signal);
        const total = countValue((response.body as Record<string, unknown> | undefined)?.count);
        if (total === undefined) throw malformed(response, 'no "count"');
        return { items: listField(response, 'batch_task_list', total), total };
      }, {
        pageSize: VIAS_PAGE_SIZE, walk: 'ListBatchTasks', idOf: (item) => idField(item, 'id') ?? '',
        cap: pageCapOf(config.maxListPages, { pages: VIAS_MAX_PAGE_NUM, source: "the API's page_num maximum" }),
      });
      for await (const items of pages) yield items.map(toCloudTask);
    },
    deleteTasks: (project, taskIds) => deleteOneByOne(taskIds, (id) => deleteOne(project, id)),
    /**
     * VIAS documents no single-batch read; its list filters by name (`type_like=batch_task_name` with
     * `name_like`, a fuzzy match), so the batch is looked up by its listed name and matched by id.
     * A batch no longer under that name may have been renamed, not deleted: inconclusive, never gone.
     */
    async getTask(project, { id, lookup }): Promise<TaskRead> {
      if (lookup === undefined || lookup === '') return { kind: 'no-read', reason: 'the batch has no name to look it up by' };
      const found = await findThroughFilter(async (index) => {
        const r = await callHuawei(api, project, {
          operation: 'get', method: 'GET', path: base(project),
          query: [['is_paged', 'true'], ['page_size', VIAS_PAGE_SIZE], ['page_num', index + 1], ['type_like', 'batch_task_name'], ['name_like', lookup]],
        });
        if (r.status !== 200) throw classifyHuaweiFailure(r);
        const total = countValue((r.body as Record<string, unknown> | undefined)?.count);
        return { items: listField(r, 'batch_task_list', total), total };
      }, { id, pageSize: VIAS_PAGE_SIZE, maxPages: LOOKUP_MAX_PAGES, idOf: (item) => idField(item, 'id') ?? '' });
      if (found.kind === 'found') return { kind: 'found', task: toCloudTask(found.item) };
      return { kind: 'inconclusive', reason: found.kind === 'absent' ? `no batch named ${JSON.stringify(lookup)} has this id any more` : 'the name look-up returned too many batches' };
    },
  };
}

function malformed(response: HuaweiResponse, what: string): ProviderError {
  return new ProviderError('permanent', `unexpected list response: ${what}`, {
    status: response.status, ...(response.requestId ? { requestId: response.requestId } : {}),
  });
}
