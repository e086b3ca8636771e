// Huawei IoTDA batch tasks: ListBatchTasks walked per task_type with marker paging, DeleteBatchTask (204).
import type { ProviderConfig } from '../config.js';
import { canonicalSpelling, IOTDA_TASK_TYPES } from './catalog.js';
import { callHuawei, classifyHuaweiFailure, endpointNeedsDerivedSigning, type HuaweiApiDeps, type HuaweiAuth, type HuaweiCall, huaweiApiDeps } from './huawei-api.js';
import { countValue, idField, isRecordNotFound, listField, textField } from './huawei-paging.js';
import { withListRetries } from './http.js';
import { mergePages } from './merge-pages.js';
import { pageCapOf, pageGuard } from './page-guard.js';
import { deleteOneByOne, ProviderError, type CloudTask, type DeleteBatchResult, type Provider, type TaskRead, type AdapterDeps } from './provider.js';
import { compactIsoTime } from './timestamps.js';

const PAGE_LIMIT = 50; // the API's maximum
const THROTTLING = { throttling: ['IOTDA.021101', 'IOTDA.021102'] };
const INITIAL_MARKER = 'ffffffffffffffffffffffff';

export type IotdaDeps = AdapterDeps<HuaweiAuth>;

export function createIotdaProvider(config: ProviderConfig, deps: IotdaDeps): Provider {
  const options = config.iotda ?? { instanceId: undefined, taskTypes: IOTDA_TASK_TYPES, signing: 'auto' as const };
  const derivedScope = config.region ? { regionId: config.region, serviceName: 'iotdm' } : undefined;
  const common: HuaweiApiDeps = {
    ...huaweiApiDeps(config.endpoint, deps), throttlingCodes: THROTTLING.throttling,
    ...(options.instanceId ? { extraHeaders: { 'Instance-Id': options.instanceId } } : {}),
  };
  const standardApi = common;
  const derivedApi: HuaweiApiDeps = derivedScope ? { ...common, derived: derivedScope } : common;
  const sdkPrefersDerived = options.signing === 'derived' || (options.signing === 'auto' && endpointNeedsDerivedSigning(config.endpoint));
  let api = sdkPrefersDerived ? derivedApi : standardApi;
  // In `auto`, the SDK's host rule decides first; if the endpoint refuses that scheme's signature
  // (401) and accepts the other, keep the one that works. Both are signatures with the same key: when
  // both are refused (a wrong key), the host rule's is kept, and no call is sent twice again.
  let schemeSettled = options.signing !== 'auto' || deps.auth.kind !== 'aksk' || derivedScope === undefined;
  const call = async (project: string, request: HuaweiCall, signal?: AbortSignal) => {
    const response = await callHuawei(api, project, request, signal);
    if (schemeSettled || response.status !== 401) {
      schemeSettled ||= response.status < 400;
      return response;
    }
    const other = api === derivedApi ? standardApi : derivedApi;
    const retried = await callHuawei(other, project, request, signal);
    if (retried.status === 401) {
      schemeSettled = true;
      return response;
    }
    api = other;
    schemeSettled = true;
    return retried;
  };
  const base = (project: string) => `/v5/iot/${encodeURIComponent(project)}/batchtasks`;

  /** One task type's marker walk; returns the endpoint's refusal of the type itself, if it refused it. */
  async function* listTaskType(project: string, taskType: string, signal?: AbortSignal): AsyncGenerator<CloudTask[], ProviderError | undefined> {
    let marker = INITIAL_MARKER;
    const enter = pageGuard(`ListBatchTasks (task_type ${taskType})`, 'marker', pageCapOf(config.maxListPages));
    enter(marker);
    for (let first = true; ; first = false) {
      let response;
      try {
        response = await withListRetries(async () => {
          const r = await call(project, {
            operation: 'list', method: 'GET', path: base(project), query: [['task_type', taskType], ['limit', PAGE_LIMIT], ['marker', marker]],
          }, signal);
          if (r.status !== 200) throw classifyHuaweiFailure(r, THROTTLING);
          return r;
        }, signal ? { signal } : {});
      } catch (err) {
        // An endpoint without this task type answers its first page with 400 (IOTDA.000006, invalid
        // input); a 400 of the API gateway (APIGW.*) refused the request itself, and fails the target.
        if (first && err instanceof ProviderError && err.kind === 'permanent' && err.details.status === 400 && !(err.details.code ?? '').startsWith('APIGW.')) return err;
        throw err;
      }
      const page = ((response.body as Record<string, unknown> | undefined)?.page ?? {}) as Record<string, unknown>;
      const items = listField(response, 'batchtasks', countValue(page.count));
      if (items.length > 0) yield items.map(toCloudTask);
      // The marker is the smallest record id returned (records come newest first, and a call returns
      // ids below its marker): a full page without page.marker goes on from its last task_id. A short
      // page, or one without either, ends the walk; a marker seen before (the API cycling) stops it.
      const next = textField(page, 'marker') ?? (items.length === PAGE_LIMIT ? smallestId(items) : undefined);
      if (items.length < PAGE_LIMIT || next === undefined) return undefined;
      enter(next);
      marker = next;
    }
  }

  return {
    name: 'iotda',
    /**
     * Task types are walked side by side, up to IOTDA_LIST_CONCURRENCY at once, each on its own: a
     * type the endpoint refuses is a warning, and a type that fails does not stop the others (its
     * failure is thrown once they are done). Only when every type is refused does the target fail,
     * with the first refusal in the configured order.
     */
    async *listTasks(project, signal, onWarning) {
      const refusals: (ProviderError | undefined)[] = [];
      let failure: { readonly error: unknown } | undefined;
      async function* walkType(taskType: string, index: number): AsyncGenerator<CloudTask[]> {
        try {
          refusals[index] = yield* listTaskType(project, taskType, signal);
        } catch (error) {
          failure ??= { error };
        }
      }
      yield* mergePages(options.taskTypes.map((taskType, index) => () => walkType(taskType, index)), config.listConcurrency);
      const refused = options.taskTypes.flatMap((taskType, index) => { const error = refusals[index]; return error ? [{ taskType, error }] : []; });
      if (refused.length === options.taskTypes.length && refused[0]) throw refused[0].error;
      for (const { taskType, error } of refused) {
        onWarning?.({ event: 'task type refused by the list API', message: `task_type ${taskType} refused by the list API (${error.message}); its tasks were not listed`, fields: { taskType, code: error.details.code, error: error.message } });
      }
      if (failure) throw failure.error;
    },
    deleteTasks(project, taskIds): Promise<DeleteBatchResult> {
      return deleteOneByOne(taskIds, async (id) => {
        const response = await call(project, { operation: 'delete', method: 'DELETE', path: `${base(project)}/${encodeURIComponent(id)}` });
        const requestId = response.requestId ? { requestId: response.requestId } : {};
        if (response.status === 204 || response.status === 200) return { id, result: 'deleted', ...requestId };
        if (isRecordNotFound(response)) return { id, result: 'gone', ...requestId };
        throw classifyHuaweiFailure(response, THROTTLING);
      });
    },
    // ShowBatchTask (§3a, iot_06_v5_0017): the task with its status; 404 when it no longer exists.
    async getTask(project, { id }): Promise<TaskRead> {
      const response = await call(project, { operation: 'get', method: 'GET', path: `${base(project)}/${encodeURIComponent(id)}` });
      if (isRecordNotFound(response)) return { kind: 'gone' };
      if (response.status !== 200) throw classifyHuaweiFailure(response, THROTTLING);
      const task = (response.body as Record<string, unknown> | undefined)?.batchtask;
      if (task === null || typeof task !== 'object' || Array.isArray(task)) {
        throw new ProviderError('permanent', 'unexpected ShowBatchTask response: no "batchtask" object', {
          status: response.status, ...(response.requestId ? { requestId: response.requestId } : {}),
        });
      }
      return { kind: 'found', task: toCloudTask(task as Record<string, unknown>) };
    },
  };
}

/** One Task record as a CloudTask; pure, exported for table tests. */
export function toCloudTask(item: Record<string, unknown>): CloudTask {
  const status = textField(item, 'status');
  const label = textField(item, 'task_type');
  const name = textField(item, 'task_name');
  return {
    id: idField(item, 'task_id') ?? '',
    states: status ? [canonicalSpelling('iotda', status)] : [],
    // IoTDA has no end or update time (§3a): create_time is the only age reference.
    agedFrom: compactIsoTime('create_time', item.create_time),
    ...(label ? { label, type: label } : {}),
    ...(name ? { name } : {}),
  };
}

/** The smallest task_id of a page (ids are 24 hex digits, so text order is number order). */
function smallestId(items: readonly Record<string, unknown>[]): string | undefined {
  return items.map((item) => idField(item, 'task_id')).reduce<string | undefined>((min, id) => (id !== undefined && (min === undefined || id < min) ? id : min), undefined);
}
