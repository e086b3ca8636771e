// Fake Huawei Workspace sub-job API (§5 of providers.md): ListItaSubJobs and BatchDeleteSubJobs.
import { WORKSPACE_UNDELETABLE_TYPES } from '../providers/catalog.js';
import { apigThrottled, json, type ApiSim, type ProjectStore, type SimRequest, type SimResponse } from './api.js';
import { hexId, pick, seededAge } from './random.js';

const LIST_PATH = /^\/v2\/([^/]+)\/workspace-sub-jobs$/;
const DELETE_PATH = /^\/v2\/([^/]+)\/workspace-sub-jobs\/batch-delete$/;
const STATUSES = ['SUCCESS', 'RUNNING', 'FAILED', 'WAITING'];
const DELETABLE = new Set(['SUCCESS', 'FAILED']);
const UNDELETABLE_TYPES: readonly string[] = WORKSPACE_UNDELETABLE_TYPES;
const DELETABLE_TYPES = [
  'createDesktops', 'expandVolumes', 'addVolumes', 'rebuildDesktops', 'createSnapshot', 'deleteSnapshot', 'deleteDesktops',
  'desktopRejoinDomain', 'operateDesktops', 'restoreDesktopBySnapshot', 'desktopToImage', 'attachDesktops', 'deleteVolumes',
  'createDesktopPool', 'expandDesktopPool', 'detachDesktops', 'executeDesktopsAction', 'changeDesktopNetwork',
];
const SEED_STATES = ['SUCCESS', 'SUCCESS', 'SUCCESS', 'SUCCESS', 'FAILED', 'FAILED', 'RUNNING', 'WAITING'];
const DAY = 86_400_000;

// Only WKS.0001 (empty request, 400) is in the public error table; the codes for a bad parameter, an
// unknown sub-job and an undeletable one are not documented, so these are the simulator's own choice.
export const WKS_CODES = {
  emptyRequest: 'WKS.0001',
  invalidParameter: 'WKS.00000002',
  subJobNotFound: 'WKS.00240404',
  subJobNotDeletable: 'WKS.00240400',
  methodNotAllowed: 'WKS.00000405',
  internal: 'WKS.00000500',
} as const;

/** Workspace's error body: `{error_code, error_msg, encoded_authorization_message}` (§5b). */
export function wksError(status: number, code: string, message: string, authorizationMessage?: string): SimResponse {
  return json(status, { error_code: code, error_msg: message, ...(authorizationMessage ? { encoded_authorization_message: authorizationMessage } : {}) });
}

/** ISO-8601 UTC as Workspace writes it, with or without milliseconds (both appear in sibling APIs). */
export function workspaceTime(date: Date, withMillis = true): string {
  return withMillis ? date.toISOString() : date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const invalid = (message: string) => wksError(400, WKS_CODES.invalidParameter, `Invalid parameter: ${message}`);

const text = (value: unknown): string => (typeof value === 'string' ? value : '');

function integerParam(q: URLSearchParams, name: string, fallback: number, min: number, max: number): number | undefined {
  const raw = q.get(name);
  if (raw === null) return fallback;
  const n = Number(raw);
  return /^\d+$/.test(raw) && n >= min && n <= max ? n : undefined;
}

function list(req: SimRequest, store: ProjectStore): SimResponse {
  const q = req.query;
  const limit = integerParam(q, 'limit', 1000, 0, 1000);
  if (limit === undefined) return invalid('limit must be an integer from 0 to 1000.');
  const offset = integerParam(q, 'offset', 0, 0, Number.MAX_SAFE_INTEGER);
  if (offset === undefined) return invalid('offset must be a non-negative integer.');
  const status = q.get('status');
  if (status !== null && !STATUSES.includes(status)) return invalid(`status ${status} is not supported.`);
  const filters = ['job_id', 'job_type', 'desktop_pool_id'].map((name) => [name, q.get(name)] as const);
  // The documented API states no order; newest first is assumed, so deletions shift later offsets.
  const matching = [...store.values()]
    .filter((j) => (status === null || j.status === status) && filters.every(([name, value]) => value === null || j[name] === value))
    .sort((a, b) => text(b.begin_time).localeCompare(text(a.begin_time)) || text(a.id).localeCompare(text(b.id)));
  return json(200, { total_count: matching.length, jobs: matching.slice(offset, offset + limit) });
}

function parseBody(body: Buffer): Record<string, unknown> | undefined {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as unknown;
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Why the API refuses to delete this record, or undefined when it may. */
function refusal(job: Record<string, unknown>): string | undefined {
  if (UNDELETABLE_TYPES.includes(String(job.job_type))) return `sub jobs of type ${String(job.job_type)} cannot be deleted`;
  if (!DELETABLE.has(String(job.status))) return `sub job in status ${String(job.status)} cannot be deleted`;
  return undefined;
}

function batchDelete(req: SimRequest, project: string, store: ProjectStore, onDeleted: (id: string, job: Record<string, unknown>) => void): SimResponse {
  if (req.method !== 'POST') return wksError(405, WKS_CODES.methodNotAllowed, `Method ${req.method} is not allowed.`);
  const body = parseBody(req.body);
  if (!body) return wksError(400, WKS_CODES.emptyRequest, 'The request message input by the interface is empty.');
  if ('job_ids' in body === 'delete_by_status' in body) return (invalid('exactly one of job_ids and delete_by_status is required.'));
  if ('delete_by_status' in body) {
    // Deletes every sub-job in the state, whatever its age: the reason the janitor never sends it.
    const status = body.delete_by_status;
    if (typeof status !== 'string' || status.length > 55 || !DELETABLE.has(status)) return (invalid('delete_by_status must be SUCCESS or FAILED.'));
    for (const [id, job] of [...store]) {
      if (job.status === status && refusal(job) === undefined) { store.delete(id); onDeleted(id, job); }
    }
    return (json(200));
  }
  const ids = body.job_ids;
  if (!Array.isArray(ids) || ids.length < 1 || ids.length > 10) return (invalid('job_ids must hold 1 to 10 items.'));
  if (ids.some((id) => typeof id !== 'string' || id === '' || id.length > 255)) return (invalid('each job_ids item must be a string of 1 to 255 characters.'));
  const wanted = [...new Set(ids as string[])];
  // All or nothing: one unknown or undeletable id refuses the whole call.
  const missing = wanted.find((id) => !store.has(id));
  if (missing !== undefined) return (wksError(404, WKS_CODES.subJobNotFound, `The sub job ${missing} does not exist.`));
  for (const id of wanted) {
    const why = refusal(store.get(id) ?? {});
    if (why) return (wksError(400, WKS_CODES.subJobNotDeletable, `The sub job ${id} cannot be deleted: ${why}.`));
  }
  for (const id of wanted) {
    const job = store.get(id) ?? {};
    store.delete(id);
    onDeleted(id, job);
  }
  return (json(200));
}

/** Sub-job id request body: a fault can target a single-id call by that id (multi-id calls carry none). */
function singleJobId(req: SimRequest): string | undefined {
  const ids = parseBody(req.body)?.job_ids;
  return Array.isArray(ids) && ids.length === 1 && typeof ids[0] === 'string' ? ids[0] : undefined;
}

export const workspaceSim: ApiSim = {
  provider: 'workspace',
  cloud: 'huawei',
  idField: 'id',
  route(req) {
    const del = DELETE_PATH.exec(req.path);
    if (del) {
      const taskId = singleJobId(req);
      return { provider: 'workspace', op: 'delete', project: decodeURIComponent(del[1] ?? ''), ...(taskId !== undefined ? { taskId } : {}) };
    }
    const m = LIST_PATH.exec(req.path);
    // A listing narrowed to one parent job is how a sub-job is read back: counted apart as a `get`.
    return m && req.method === 'GET' ? { provider: 'workspace', op: req.query.has('job_id') ? 'get' : 'list', project: decodeURIComponent(m[1] ?? '') } : undefined;
  },
  handle(req, op, ctx) {
    const store = ctx.store(op.project);
    if (!store) return wksError(403, 'WKS.00000403', 'The project does not exist or is not authorized.', 'simulated-encoded-denial');
    if (op.op === 'list' || op.op === 'get') return list(req, store);
    return batchDelete(req, op.project, store, (id, job) => ctx.onDeleted(op.project, id, job));
  },
  seedTask(random, now, index) {
    const id = `ff8080${hexId(random, 18)}${index.toString(16).padStart(8, '0')}`;
    const status = random() < 0.02 ? 'CANCELLED' : pick(random, SEED_STATES);
    const undeletable = random() < 0.1;
    const jobType = undeletable ? pick(random, UNDELETABLE_TYPES) : pick(random, DELETABLE_TYPES);
    const finished = status === 'SUCCESS' || status === 'FAILED';
    const withMillis = random() < 0.5;
    const age = seededAge(random);
    const duration = Math.floor(random() * 3_600_000);
    const at = (ms: number) => workspaceTime(new Date(now.getTime() - ms), withMillis);
    const times: Record<string, unknown> = {};
    let ageMs: number | undefined;
    if (typeof age === 'number' || age === 'future') {
      ageMs = age === 'future' ? -DAY : age;
      // A few finished records lack end_time: their age is measured from begin_time.
      if (finished && random() >= 0.05) Object.assign(times, { begin_time: at(ageMs + duration), end_time: at(ageMs) });
      else Object.assign(times, { begin_time: at(ageMs), ...(finished ? {} : { end_time: '' }) });
    } else if (age === 'malformed') {
      // A valid begin_time next to a broken end_time: the janitor must not fall back to begin_time.
      Object.assign(times, { begin_time: at(30 * DAY), end_time: finished ? '2024-13-45T99:00:00Z' : 'not-a-time' });
      if (!finished) times.begin_time = '2024-02-30T10:00:00Z';
    }
    const record: Record<string, unknown> = {
      id, job_id: hexId(random, 32), job_type: jobType, status, ...times,
      error_code: status === 'FAILED' ? 'WKS.00990001' : '', fail_reason: status === 'FAILED' ? 'simulated failure' : '',
      entities: { desktop_id: hexId(random, 32), desktop_name: `desk-${index}` }, host: '10.0.0.1', process: finished ? 100 : 40,
    };
    return { record, fact: { id, states: [status], ageMs, ...(undeletable ? { undeletable: true } : {}) } };
  },
  throttled: apigThrottled,
  serverError: (requestId) => json(500, { error_code: WKS_CODES.internal, error_msg: `Internal server error. request ${requestId}` }),
};
