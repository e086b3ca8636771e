// Fake Huawei IoTDA batch-task API (§3 of providers.md): ListBatchTasks, ShowBatchTask, DeleteBatchTask.
import { IOTDA_TASK_TYPES } from '../providers/catalog.js';
import { apigThrottled, huaweiError, huaweiServerError, json, type ApiSim, type ProjectStore, type SimRequest } from './api.js';
import { faultyCursor } from './paging-fault.js';
import { hexId, pick, seededAge } from './random.js';

const STATES = ['Success', 'Success', 'Success', 'Fail', 'PartialSuccess', 'Stopped', 'Processing', 'Waitting', 'Initializing', 'Stopping'];
const DELETABLE = new Set(['Success', 'Fail', 'PartialSuccess', 'Stopped']);
const PATH = /^\/v5\/iot\/([^/]+)\/batchtasks(?:\/([^/]+))?$/;
const RETRY_PATH = /^\/v5\/iot\/([^/]+)\/batchtasks\/([^/]+)\/retry$/;
// RetryBatchTask: upgrade tasks only; refused for Success, Stopped, Stopping, Waitting and Initializing.
const RETRYABLE_TYPES = new Set(['firmwareUpgrade', 'softwareUpgrade']);
const RETRYABLE = new Set(['Fail', 'PartialSuccess', 'Processing']);

/** `yyyyMMdd'T'HHmmss'Z'` as IoTDA writes it. */
export function iotdaTime(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

// Markers above every seeded id: a page read at either is the first page again, as a cycling API would serve.
const FAULT_MARKERS = ['fffffffffffffffffffffffa', 'fffffffffffffffffffffffb'] as const;

const invalid = (message: string) => huaweiError(400, 'IOTDA.000006', `Invalid input data. ${message}`);
// Every seeded record reports the same finished progress; one shared object keeps a million records small.
const PROGRESS = Object.freeze({ total: 10, processing: 0, success: 10, fail: 0, waitting: 0, fail_wait_retry: 0, stopped: 0, removed: 0 });

/** Task ids per task_type, newest (largest) first, rebuilt only after records were added; deleted ids are skipped on read. */
interface TypeIndex { readonly version: number; readonly ids: Map<string, string[]>; readonly live: Map<string, number> }
const indexes = new WeakMap<ProjectStore, TypeIndex>();

function indexOf(store: ProjectStore): TypeIndex {
  const cached = indexes.get(store);
  if (cached?.version === store.version) return cached;
  const ids = new Map<string, string[]>();
  for (const [id, record] of store) {
    const type = String(record.task_type);
    const list = ids.get(type) ?? [];
    list.push(id);
    ids.set(type, list);
  }
  for (const list of ids.values()) list.sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
  const index = { version: store.version, ids, live: new Map([...ids].map(([type, list]) => [type, list.length])) };
  indexes.set(store, index);
  return index;
}

/** One page below `marker`, as ListBatchTasks pages: ids descending, `offset` matches skipped, then `limit`. */
function listPage(store: ProjectStore, taskType: string, status: string | null, marker: string, offset: number, limit: number) {
  const index = indexOf(store);
  const ids = index.ids.get(taskType) ?? [];
  // First position whose id sorts below the marker (ids are descending).
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((ids[mid] ?? '') >= marker) lo = mid + 1;
    else hi = mid;
  }
  const page: Record<string, unknown>[] = [];
  let skipped = 0;
  for (let i = lo; i < ids.length && page.length < limit; i++) {
    const task = store.get(ids[i] ?? '');
    if (!task || (status !== null && task.status !== status)) continue;
    if (skipped < offset) skipped += 1;
    else page.push(task);
  }
  const count = status === null ? index.live.get(taskType) ?? 0 : [...store.values()].filter((t) => t.task_type === taskType && t.status === status).length;
  return { page, count };
}

export const iotdaSim: ApiSim = {
  provider: 'iotda',
  cloud: 'huawei',
  idField: 'task_id',
  route(req) {
    const retry = RETRY_PATH.exec(req.path);
    if (retry && req.method === 'POST') return { provider: 'iotda', op: 'restart', project: decodeURIComponent(retry[1] ?? ''), taskId: decodeURIComponent(retry[2] ?? '') };
    const m = PATH.exec(req.path);
    if (!m) return undefined;
    const project = decodeURIComponent(m[1] ?? '');
    const taskId = m[2] === undefined ? undefined : decodeURIComponent(m[2]);
    if (taskId === undefined) return req.method === 'GET' ? { provider: 'iotda', op: 'list', project } : undefined;
    if (req.method === 'DELETE') return { provider: 'iotda', op: 'delete', project, taskId };
    return req.method === 'GET' ? { provider: 'iotda', op: 'get', project, taskId } : undefined;
  },
  handle(req: SimRequest, op, ctx) {
    const store = ctx.store(op.project);
    if (!store) return huaweiError(403, 'IOTDA.000002', 'The project does not exist or is not authorized.');
    if (op.op === 'list') {
      const q = req.query;
      const taskType = q.get('task_type');
      if (!taskType) return invalid('task_type is required.');
      // Every value the API reference names (§3a); an endpoint may refuse some (iotdaRefusedTaskTypes).
      if (!(IOTDA_TASK_TYPES as readonly string[]).includes(taskType) || ctx.iotdaRefusedTaskTypes?.includes(taskType)) return invalid(`task_type ${taskType} is not supported.`);
      const limit = Number(q.get('limit') ?? '10');
      if (!Number.isInteger(limit) || limit < 1 || limit > 50) return invalid('limit must be 1-50.');
      const marker = q.get('marker') ?? 'ffffffffffffffffffffffff';
      if (!/^[0-9a-f]{24}$/.test(marker)) return invalid('marker must be 24 hex characters.');
      const offset = Number(q.get('offset') ?? '0');
      if (!Number.isInteger(offset) || offset < 0 || offset > 500) return invalid('offset must be 0-500.');
      const { page, count } = listPage(store, taskType, q.get('status'), marker, offset, limit);
      const last = page.at(-1);
      const next = last && ctx.pagingFault ? faultyCursor(ctx.pagingFault, marker, FAULT_MARKERS) : last?.task_id;
      return json(200, { batchtasks: page, page: { count, ...(next !== undefined ? { marker: next } : {}) } });
    }
    const task = store.get(op.taskId ?? '');
    if (!task) return huaweiError(404, 'IOTDA.014000', 'The batch task does not exist.');
    // ShowBatchTask answers the task with a page of its sub-tasks (the simulator keeps none).
    if (op.op === 'get') return json(200, { batchtask: task, task_details: [], page: { count: 0 } });
    if (op.op === 'restart') return iotdaSim.restart?.(task, ctx.now) ?? json(200, {});
    if (!DELETABLE.has(String(task.status))) return huaweiError(400, 'IOTDA.014111', `The task in status ${String(task.status)} cannot be deleted.`);
    store.delete(op.taskId ?? '');
    const live = indexes.get(store)?.live;
    live?.set(String(task.task_type), (live.get(String(task.task_type)) ?? 1) - 1);
    ctx.onDeleted(op.project, op.taskId ?? '', task);
    return json(204);
  },
  seedTask(random, now, index) {
    // Ids grow with the index so marker paging (ids smaller than the marker) is exercised for real.
    const id = `${index.toString(16).padStart(8, '0')}${hexId(random, 16)}`;
    const status = random() < 0.02 ? 'Paused' : pick(random, STATES);
    const age = seededAge(random);
    const created = typeof age === 'number' ? iotdaTime(new Date(now.getTime() - age))
      : age === 'future' ? iotdaTime(new Date(now.getTime() + 86_400_000)) : age === 'malformed' ? '2024-13-45T99:00' : undefined;
    const record: Record<string, unknown> = {
      task_id: id, task_name: `task-${index}`, task_type: pick(random, IOTDA_TASK_TYPES), status, status_desc: '',
      task_progress: PROGRESS,
      ...(created !== undefined ? { create_time: created } : {}),
    };
    return { record, fact: { id, states: [status], ageMs: typeof age === 'number' ? age : age === 'future' ? -86_400_000 : undefined } };
  },
  restart(task) {
    if (!RETRYABLE_TYPES.has(String(task.task_type))) return invalid(`task_type ${String(task.task_type)} cannot be retried.`);
    if (!RETRYABLE.has(String(task.status))) return huaweiError(400, 'IOTDA.014112', `The task in status ${String(task.status)} cannot be retried.`);
    task.status = 'Processing';
    return undefined;
  },
  throttled: apigThrottled,
  serverError: huaweiServerError,
};
