// Huawei MPC packaging (remux) task records: ListRemuxTask with 0-based page/size paging, and
// DeleteRemuxTask (`DELETE /remux/task`, 204). It never calls CancelRemuxTask (`DELETE /remux`).
import type { ProviderConfig } from '../config.js';
import { canonicalSpelling } from './catalog.js';
import { callHuawei, classifyHuaweiFailure, huaweiErrorBody, type HuaweiAuth, type HuaweiResponse, huaweiApiDeps } from './huawei-api.js';
import { countValue, idField, isRecordNotFound, listField, textField, walkPagesBackward } from './huawei-paging.js';
import { withListRetries } from './http.js';
import { pageCapOf } from './page-guard.js';
import { ProviderError, type AgeReference, type CloudTask, type DeleteOutcome, type Provider, type TaskRead, deleteOneByOne, type AdapterDeps } from './provider.js';
import { digitsTime } from './timestamps.js';

/** ListRemuxTask's maximum `size` (§4a); the API answers MPC.10202 outside 1-100. */
export const MPC_PAGE_SIZE = 100;

/**
 * DeleteRemuxTask's only documented error (§4b): 403 "cannot be deleted", whose documented example
 * message is "The task does not exist." The code alone cannot tell "gone" from "refused".
 */
export const MPC_NOT_DELETABLE = 'MPC.10211';

export type MpcDeps = AdapterDeps<HuaweiAuth>;

/** What a MPC.10211 answer means once the record has been looked up again. */
export type NotDeletableVerdict = { readonly result: 'gone' } | { readonly result: 'refused'; readonly error: ProviderError };

export function createMpcProvider(config: ProviderConfig, deps: MpcDeps): Provider {
  const api = huaweiApiDeps(config.endpoint, deps);
  const remux = (project: string) => `/v1/${encodeURIComponent(project)}/remux`;

  async function listPage(project: string, page: number, signal?: AbortSignal): Promise<HuaweiResponse> {
    return withListRetries(async () => {
      const r = await callHuawei(api, project, { operation: 'list', method: 'GET', path: remux(project), query: [['page', page], ['size', MPC_PAGE_SIZE]] }, signal);
      if (r.status !== 200) throw classifyHuaweiFailure(r);
      return r;
    }, signal ? { signal } : {});
  }

  /**
   * The list API's task_id filter ignores paging and time filters (§4a), so it is an exact lookup;
   * `operation`: a re-read's, or a delete's that asks after a MPC.10211 answer.
   */
  async function lookUp(project: string, taskId: string, operation: 'get' | 'delete'): Promise<Record<string, unknown> | undefined> {
    const r = await callHuawei(api, project, { operation, method: 'GET', path: remux(project), query: [['task_id', taskId]] });
    if (r.status !== 200) throw classifyHuaweiFailure(r);
    return listField(r, 'tasks', totalOf(r)).find((item) => idField(item, 'task_id') === taskId);
  }

  async function deleteOne(project: string, id: string): Promise<DeleteOutcome> {
    // DeleteRemuxTask, never CancelRemuxTask: `/remux/task`, not `/remux` (§4b).
    const response = await callHuawei(api, project, { operation: 'delete', method: 'DELETE', path: `${remux(project)}/task`, query: [['task_id', id]] });
    const requestId = response.requestId ? { requestId: response.requestId } : {};
    if (response.status === 204 || response.status === 200) return { id, result: 'deleted', ...requestId };
    if (isRecordNotFound(response)) return { id, result: 'gone', ...requestId };
    const refusal = classifyHuaweiFailure(response);
    if (!refusesTheRecord(response, refusal)) throw refusal;
    const verdict = judgeNotDeletable(refusal, await lookUp(project, id, 'delete'));
    if (verdict.result === 'refused') throw verdict.error;
    return { id, result: 'gone', ...requestId };
  }

  return {
    name: 'mpc',
    // Offset paging shifts while our workers delete: walked last page first (walkPagesBackward).
    async *listTasks(project, signal) {
      const pages = walkPagesBackward(async (index) => {
        const response = await listPage(project, index, signal);
        const total = totalOf(response); // undefined: the page lengths end the walk
        return { items: listField(response, 'tasks', total), total };
      }, { pageSize: MPC_PAGE_SIZE, cap: pageCapOf(config.maxListPages), walk: 'ListRemuxTask', idOf: (item) => idField(item, 'task_id') ?? '' });
      for await (const items of pages) yield items.map(toCloudTask);
    },
    deleteTasks: (project, taskIds) => deleteOneByOne(taskIds, (id) => deleteOne(project, id)),
    async getTask(project, { id }): Promise<TaskRead> {
      const item = await lookUp(project, id, 'get');
      return item ? { kind: 'found', task: toCloudTask(item) } : { kind: 'gone' };
    },
  };
}

/**
 * Resolves MPC.10211 with a fresh lookup: a record the list no longer returns is already gone; one it
 * still returns was refused, a permanent failure keeping the provider's code and message.
 */
export function judgeNotDeletable(refusal: ProviderError, record: Record<string, unknown> | undefined): NotDeletableVerdict {
  if (record === undefined) return { result: 'gone' };
  const status = textField(record, 'status') ?? 'unknown';
  return {
    result: 'refused',
    error: new ProviderError('permanent', `${refusal.message} (the record still exists, status ${status})`, refusal.details),
  };
}

/**
 * Age from end_time, else create_time. An end_time that is present but does not parse is reported as
 * invalid rather than replaced by create_time: create_time is always earlier, so falling back would
 * overstate the age of a task that may have finished a moment ago.
 */
export function ageReference(item: Record<string, unknown>): AgeReference {
  const ended = digitsTime('end_time', item.end_time);
  return ended.kind === 'missing' ? digitsTime('create_time', item.create_time) : ended;
}

function toCloudTask(item: Record<string, unknown>): CloudTask {
  const status = textField(item, 'status');
  return { id: idField(item, 'task_id') ?? '', states: status ? [canonicalSpelling('mpc', status)] : [], agedFrom: ageReference(item) };
}

/** ListRemuxTask's `total`, when it is a count. */
function totalOf(response: HuaweiResponse): number | undefined {
  return countValue((response.body as Record<string, unknown> | undefined)?.total);
}

/**
 * A refusal that may mean the record is gone: MPC.10211 ("cannot be deleted", documented with the
 * message "The task does not exist."), or any other refusal of the request itself (4xx other than
 * 401, not from the API gateway), as the code for a missing task_id is undocumented. A look-up then
 * tells: absent is gone, present is the refusal.
 */
function refusesTheRecord(response: HuaweiResponse, refusal: ProviderError): boolean {
  const code = huaweiErrorBody(response.body).code ?? '';
  if (code === MPC_NOT_DELETABLE) return true;
  return refusal.kind === 'permanent' && response.status >= 400 && response.status < 500 && response.status !== 401 && !code.startsWith('APIGW.');
}
