// Fake Huawei VIAS batch-task API (§2 of providers.md): ListBatchTasks and DeleteBatchTask, VIAS error bodies.
import { apigThrottled, json, type ApiSim, type SeedFact, type SimResponse } from './api.js';
import { hexId, pick, seededAge } from './random.js';

/** Sub-task states as the 2024 docs spell them; the 2025-12 doc spells the same values UPPERCASE. */
export const VIAS_SUB_TASK_STATES = [
  'pending', 'recovering', 'starting', 'upgrading', 'create_failed', 'start_failed', 'running', 'stopping',
  'stopped', 'abnormal', 'succeeded', 'failed', 'deleting', 'freezing', 'frozen', 'stopped_no_service',
  'scheduling', 'lack_of_resources',
] as const;
// Deletable states are undocumented; the fake refuses any batch with a sub-task that could still run.
const DELETABLE = new Set(['succeeded', 'failed', 'create_failed', 'start_failed', 'stopped']);
const PATH = /^\/v2\/([^/]+)\/batch-tasks(?:\/([^/]+))?$/;
const START_PATH = /^\/v2\/([^/]+)\/batch-tasks\/([^/]+)\/action\/start$/;
// Restarting a batch starts again every sub-task that ended without succeeding.
const RESTARTABLE = new Set(['failed', 'create_failed', 'start_failed', 'stopped']);
const DAY = 86_400_000;

/** VIAS's documented error body (vias_03_0280): code, message, detail, params[0..1], reason, advice. */
export function viasError(status: number, code: string, message: string, detail = message, param?: string): SimResponse {
  return json(status, { error_code: code, error_msg: message, detail, params: param ? [param] : [], reason: message, advice: message });
}

const invalid = (param: string, detail: string) => viasError(400, 'VIAS.00010001', 'The parameters are invalid.', detail, param);

/** Milliseconds of a created_at Long in either unit, as the fake sorts them; NaN when unusable. */
function createdMs(raw: unknown): number {
  const n = typeof raw === 'number' || (typeof raw === 'string' && /^\d+$/.test(raw)) ? Number(raw) : Number.NaN;
  return n < 1e11 ? n * 1000 : n;
}

function intParam(q: URLSearchParams, name: string, fallback: number, min: number, max: number): number | SimResponse {
  const raw = q.get(name);
  if (raw === null) return fallback;
  const n = /^\d{1,6}$/.test(raw) ? Number(raw) : Number.NaN;
  return n >= min && n <= max ? n : invalid(name, `${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}.`);
}

function enumParam(q: URLSearchParams, name: string, allowed: readonly string[], fallback: string): string | SimResponse {
  const raw = q.get(name) ?? fallback;
  return allowed.includes(raw) ? raw : invalid(name, `${name} must be one of ${allowed.join(', ')}.`);
}

/** Every non-zero count, keys as stored (either case). */
function nonZero(info: unknown): [string, number][] {
  if (info === null || typeof info !== 'object') return [];
  return Object.entries(info as Record<string, unknown>).map(([k, v]) => [k, Number(v)] as [string, number]).filter(([, n]) => n !== 0);
}

const counts = (upper: boolean, chosen: readonly string[], perState: number): Record<string, number> =>
  Object.fromEntries(VIAS_SUB_TASK_STATES.map((s) => [upper ? s.toUpperCase() : s, chosen.includes(s) ? perState : 0]));

// Mixes for seeded batches past the first 36 (which hold one state each, in both spellings).
const MIXES: readonly (readonly string[])[] = [
  ['succeeded'], ['succeeded'], ['succeeded'], ['failed'], ['succeeded', 'failed'], ['create_failed'], ['start_failed'],
  ['succeeded', 'create_failed', 'start_failed'], ['stopped'], ['succeeded', 'stopped'], ['succeeded', 'running'],
  ['failed', 'abnormal'], ['running'], ['pending'], ['scheduling'], ['succeeded', 'frozen'], [],
];

/** created_at as a Long in milliseconds or seconds, sometimes a numeric string, as the seeder varies it. */
function createdAt(random: () => number, at: number): { raw: number | string; reportedMs: number } {
  const roll = random();
  const seconds = roll >= 0.5 && roll < 0.85;
  const value = seconds ? Math.floor(at / 1000) : at;
  return { raw: roll >= 0.7 ? String(value) : value, reportedMs: seconds ? value * 1000 : value };
}

export const viasSim: ApiSim = {
  provider: 'vias',
  cloud: 'huawei',
  idField: 'id',
  // The VIAS API reference shows only X-Auth-Token (§2d); AK/SK is unconfirmed, so it is refused here.
  authSchemes: ['token'],
  route(req) {
    const start = START_PATH.exec(req.path);
    if (start && req.method === 'PUT') return { provider: 'vias', op: 'restart', project: decodeURIComponent(start[1] ?? ''), taskId: decodeURIComponent(start[2] ?? '') };
    const m = PATH.exec(req.path);
    if (!m) return undefined;
    const project = decodeURIComponent(m[1] ?? '');
    // A listing narrowed by name is how a single batch is read back: counted apart as a `get`.
    if (m[2] === undefined) return req.method === 'GET' ? { provider: 'vias', op: req.query.has('name_like') ? 'get' : 'list', project } : undefined;
    return req.method === 'DELETE' ? { provider: 'vias', op: 'delete', project, taskId: decodeURIComponent(m[2]) } : undefined;
  },
  handle(req, op, ctx) {
    const store = ctx.store(op.project);
    if (!store) return viasError(401, 'VIAS.00010005', 'Authorization failed.', `project ${op.project} is not authorized`);
    if (op.op === 'list' || op.op === 'get') {
      const q = req.query;
      const paged = enumParam(q, 'is_paged', ['true', 'false'], 'true');
      const size = intParam(q, 'page_size', 10, 5, 200);
      const num = intParam(q, 'page_num', 1, 1, 10_000);
      const order = enumParam(q, 'order_by', ['asc', 'desc'], 'desc');
      const sortName = enumParam(q, 'sort_name', ['task_count', 'created_at'], 'created_at');
      for (const v of [paged, size, num, order, sortName]) if (typeof v === 'object') return v;
      const state = q.get('task_state');
      if (state !== null && !(VIAS_SUB_TASK_STATES as readonly string[]).includes(state.toLowerCase())) return invalid('task_state', 'task_state is not a supported value.');
      const typeLike = q.get('type_like');
      if (typeLike !== null && !['batch_task_name', 'publish_service_name'].includes(typeLike)) return invalid('type_like', 'type_like must be batch_task_name or publish_service_name.');
      const nameLike = q.get('name_like');
      if (nameLike !== null && typeLike === null) return invalid('type_like', 'name_like is used together with type_like.');
      const named = (t: Record<string, unknown>) => {
        const name = typeLike === null ? undefined : t[typeLike];
        return nameLike === null || (typeof name === 'string' && name.toLowerCase().includes(nameLike.toLowerCase()));
      };
      const key = (t: Record<string, unknown>) => (sortName === 'task_count' ? Number(t.num_task) : createdMs(t.created_at)) || 0;
      const sign = order === 'asc' ? 1 : -1;
      const matching = [...store.values()]
        .filter((t) => named(t) && (state === null || nonZero(t.batch_task_status_info).some(([k]) => k.toLowerCase() === state.toLowerCase())))
        .sort((a, b) => sign * (key(a) - key(b)) || String(a.id).localeCompare(String(b.id)));
      const from = ((num as number) - 1) * (size as number);
      const page = paged === 'false' ? matching : matching.slice(from, from + (size as number));
      return json(200, { count: matching.length, batch_task_list: page });
    }
    const id = op.taskId ?? '';
    const batch = store.get(id);
    if (!batch) return viasError(400, 'VIAS.00010008', 'No task is found based on the ID.', `batch task ${id} does not exist`, 'id');
    if (op.op === 'restart') return viasSim.restart?.(batch, ctx.now) ?? json(200, { id });
    const live = nonZero(batch.batch_task_status_info);
    const total = live.reduce((n, [, c]) => n + (Number.isFinite(c) ? c : 1), 0);
    const refused = live.filter(([k]) => !DELETABLE.has(k.toLowerCase()));
    if (refused.length > 0) {
      // Per-sub-task result (§2b): the sub-tasks that could still run are not deleted, nor the batch.
      const failed = refused.reduce((n, [, c]) => n + (Number.isFinite(c) ? c : 1), 0);
      return json(200, {
        total_count: total, failed_count: failed, succeed_count: 0, id,
        error_list: refused.map(([k, c]) => `${c} sub-task(s) in state ${k} cannot be deleted.`),
      });
    }
    store.delete(id);
    ctx.onDeleted(op.project, id, batch);
    return json(200, { total_count: total, failed_count: 0, succeed_count: total, id, error_list: [] });
  },
  seedTask(random, now, index) {
    const id = hexId(random, 32);
    const upper = index < 36 ? index >= 18 : random() < 0.5;
    const chosen = index < 36 ? [VIAS_SUB_TASK_STATES[index % 18] as string] : pick(random, MIXES);
    const perState = 1 + Math.floor(random() * 4);
    const info: Record<string, unknown> = counts(upper, chosen, perState);
    const unknown = index >= 36 && random() < 0.02;
    if (unknown) info[upper ? 'PAUSED' : 'paused'] = 1; // a count key the docs do not list
    const age = seededAge(random);
    const at = typeof age === 'number' ? now.getTime() - age : age === 'future' ? now.getTime() + DAY : undefined;
    const created = at === undefined ? undefined : createdAt(random, at);
    const malformed = pick(random, ['2024-05-01T00:00:00Z', 1_234_567, 4_200_000_000_000_000, -1_700_000_000_000, '']);
    const record: Record<string, unknown> = {
      id, batch_task_name: `batch-${index}`, video_source_name: `camera-${index % 7}`, video_group_name: 'default',
      alg_name: 'intrusion-detection', company: 'huawei', type: 'vias', num_task: perState * chosen.length + (unknown ? 1 : 0),
      batch_task_status_info: info,
      ...(created ? { created_at: created.raw } : age === 'malformed' ? { created_at: malformed } : {}),
    };
    const fact: SeedFact = {
      id,
      states: Object.entries(info).filter(([, n]) => n !== 0).map(([k]) => k),
      ageMs: created ? now.getTime() - created.reportedMs : undefined,
    };
    return { record, fact };
  },
  restart(batch) {
    const info = batch.batch_task_status_info;
    const live = nonZero(info);
    const again = live.filter(([k]) => RESTARTABLE.has(k.toLowerCase()));
    if (info === null || typeof info !== 'object' || again.length === 0) return viasError(400, 'VIAS.00010001', 'The batch task has no sub-task to start.');
    const tally = info as Record<string, unknown>;
    const upper = Object.keys(tally).some((k) => k !== k.toLowerCase());
    const running = upper ? 'RUNNING' : 'running';
    for (const [k, n] of again) {
      tally[k] = 0;
      tally[running] = Number(tally[running] ?? 0) + n;
    }
    return undefined;
  },
  throttled: apigThrottled,
  serverError: (requestId) => viasError(500, 'VIAS.00010006', 'An internal error occurs.', `request ${requestId} failed`),
};
