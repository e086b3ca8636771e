// Fake Huawei MPC packaging (remux) API (§4 of providers.md): ListRemuxTask, DeleteRemuxTask, and the
// CancelRemuxTask trap (`DELETE /remux`) that the janitor must never call; every call to it is logged.
import { apigThrottled, huaweiError, huaweiServerError, json, type ApiSim, type ProjectStore, type SimRequest, type SimResponse } from './api.js';
import { pick, seededAge } from './random.js';

/** Every status value ListRemuxTask documents (§4a). */
export const MPC_STATUSES = ['INIT', 'WAITING', 'PROCESSING', 'SUCCEED', 'FAILED', 'CANCELED'] as const;
const DELETABLE = new Set(['SUCCEED', 'FAILED', 'CANCELED']);
const CANCELABLE = new Set(['INIT', 'WAITING', 'PROCESSING']);
// Weighted towards finished records, as a real project is; one undocumented value tests unknown states.
const SEED_STATUSES = ['SUCCEED', 'SUCCEED', 'SUCCEED', 'FAILED', 'CANCELED', 'INIT', 'WAITING', 'PROCESSING'];
const UNKNOWN_STATUS = 'NEED_TO_BE_AUDIT';
const LIST_PATH = /^\/v1\/([^/]+)\/remux$/;
const DELETE_PATH = /^\/v1\/([^/]+)\/remux\/task$/;
const DAY = 86_400_000;

/** `yyyyMMddHHmmss` in UTC, as MPC writes its times. */
export function mpcTime(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

const invalid = (message: string) => huaweiError(400, 'MPC.10202', `Invalid request parameter. ${message}`);
const DIGITS14 = /^\d{14}$/;

export const mpcSim: ApiSim = {
  provider: 'mpc',
  cloud: 'huawei',
  idField: 'task_id',
  route(req) {
    const list = LIST_PATH.exec(req.path);
    const del = DELETE_PATH.exec(req.path);
    const project = decodeURIComponent((list ?? del)?.[1] ?? '');
    const taskIds = req.query.getAll('task_id');
    if (list && req.method === 'GET') {
      // A single-id lookup is a "get" so tests can count and fault it apart from the paged walk.
      return taskIds.length === 1 ? { provider: 'mpc', op: 'get', project, taskId: taskIds[0] as string } : { provider: 'mpc', op: 'list', project };
    }
    // CancelRemuxTask: its own operation, so every attempt (even a refused one) shows in sim.requests.
    if (list && req.method === 'DELETE') return { provider: 'mpc', op: 'cancel', project, ...(taskIds[0] !== undefined ? { taskId: taskIds[0] } : {}) };
    if (del && req.method === 'DELETE') return { provider: 'mpc', op: 'delete', project, ...(taskIds[0] !== undefined ? { taskId: taskIds[0] } : {}) };
    return undefined;
  },
  handle(req: SimRequest, op, ctx) {
    const store = ctx.store(op.project);
    if (!store) return huaweiError(401, 'MPC.10203', 'Authentication failed. The project is not authorized.');
    if (op.op === 'list' || op.op === 'get') return listRemux(req, store);
    const taskId = req.query.get('task_id');
    if (!taskId) return invalid('task_id is required.');
    const task = store.get(taskId);
    if (op.op === 'cancel') return cancelRemux(task, ctx.now);
    // §4b: 403 MPC.10211 both for a record that does not exist and for one that cannot be deleted.
    if (!task) return huaweiError(403, 'MPC.10211', 'The task does not exist.');
    if (!DELETABLE.has(String(task.status))) return huaweiError(403, 'MPC.10211', 'The packaging task record cannot be deleted.');
    store.delete(taskId);
    ctx.onDeleted(op.project, taskId, task);
    return json(204);
  },
  seedTask(random, now, index) {
    const id = String(100_000 + index);
    const status = random() < 0.02 ? UNKNOWN_STATUS : pick(random, SEED_STATUSES);
    const age = seededAge(random);
    // Records without a usable timestamp are otherwise stale: a wrong fallback would delete them.
    const ref = new Date(now.getTime() - (typeof age === 'number' ? age : age === 'future' ? -DAY : 30 * DAY));
    // Most tasks run minutes; some ran for days, so create_time is far older than end_time.
    const runMs = random() < 0.2 ? Math.floor(random() * 3 * DAY) : Math.floor(random() * 2 * 3_600_000);
    const asNumber = random() < 0.5; // the documented example sends numbers, the schema says strings
    const time = (date: Date) => (asNumber ? Number(mpcTime(date)) : mpcTime(date));
    const ended = DELETABLE.has(status) && !(status === 'CANCELED' && random() < 0.5) && random() >= 0.1;
    const times: Record<string, unknown> = {};
    if (ended) {
      // Age runs from end_time; create_time is earlier by the run time.
      times.create_time = time(new Date(ref.getTime() - runMs));
      times.start_time = time(new Date(ref.getTime() - runMs + 1_000));
      times.end_time = age === 'malformed' ? pick(random, ['20241345996000', '2024-01-01 10:00:00', 'null']) : time(ref);
      if (age === 'missing') { delete times.create_time; delete times.end_time; }
    } else {
      // No end time (not finished, canceled while queued, or simply absent): age runs from create_time.
      times.create_time = age === 'malformed' ? '2024-13-45T99:00' : time(ref);
      if (status === 'PROCESSING') times.start_time = time(new Date(ref.getTime() + 1_000));
      const noEnd = pick(random, ['absent', 'empty', 'null'] as const);
      if (noEnd !== 'absent') times.end_time = noEnd === 'empty' ? '' : null;
      if (age === 'missing') delete times.create_time;
    }
    const record: Record<string, unknown> = {
      task_id: random() < 0.5 ? Number(id) : id, status, ...times,
      input: { bucket: 'media-in', location: 'cn-north-4', object: `in/${index}.flv` },
      output: { bucket: 'media-out', location: 'cn-north-4', object: `out/${index}/` },
      description: '', user_data: '', complete_ratio: status === 'SUCCEED' ? 100 : 0,
    };
    const ageMs = typeof age === 'number' ? age : age === 'future' ? -DAY : undefined;
    return { record, fact: { id, states: [status], ageMs } };
  },
  throttled: apigThrottled,
  serverError: huaweiServerError,
};

/** ListRemuxTask: `task_id` (up to 10) overrides paging and time filters; otherwise 0-based page/size. */
function listRemux(req: SimRequest, store: ProjectStore): SimResponse {
  const q = req.query;
  const ids = q.getAll('task_id');
  if (ids.length > 10) return invalid('task_id accepts at most 10 values.');
  if (ids.length > 0) {
    const tasks = ids.map((id) => store.get(id)).filter((t): t is Record<string, unknown> => t !== undefined);
    return json(200, { total: tasks.length, tasks });
  }
  const page = q.get('page') ?? '0';
  const size = q.get('size') ?? '10';
  if (!/^\d{1,9}$/.test(page)) return invalid('page must be an integer of at least 0.');
  if (!/^\d{1,3}$/.test(size) || Number(size) < 1 || Number(size) > 100) return invalid('size must be 1-100.');
  const status = q.get('status');
  if (status !== null && !(MPC_STATUSES as readonly string[]).includes(status)) return invalid(`status ${status} is not supported.`);
  const from = q.get('start_time');
  const to = q.get('end_time');
  if ((from !== null && !DIGITS14.test(from)) || (to !== null && !DIGITS14.test(to))) return invalid('start_time and end_time must be yyyyMMddHHmmss.');
  // Which time the window filters on is not documented (§9); creation time is assumed.
  const created = (t: Record<string, unknown>) => (typeof t.create_time === 'string' || typeof t.create_time === 'number' ? String(t.create_time) : '');
  const matching = [...store.values()]
    .filter((t) => (status === null || t.status === status) && (from === null || created(t) >= from) && (to === null || created(t) <= to))
    .sort((a, b) => created(b).localeCompare(created(a)) || String(b.task_id).localeCompare(String(a.task_id)));
  const start = Number(page) * Number(size);
  return json(200, { total: matching.length, tasks: matching.slice(start, start + Number(size)) });
}

/** CancelRemuxTask: a queued or running task becomes CANCELED; anything else is refused. */
function cancelRemux(task: Record<string, unknown> | undefined, now: Date): SimResponse {
  if (!task || !CANCELABLE.has(String(task.status))) return huaweiError(400, 'MPC.10212', 'Operation failed.');
  task.status = 'CANCELED';
  task.end_time = mpcTime(now);
  return json(204);
}
