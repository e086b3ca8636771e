// Fake Alibaba Cloud IMM batch API (§1 of providers.md): RPC `POST /` routed by x-acs-action to
// ListBatches, GetBatch and DeleteBatch, with IMM's error bodies and gateway throttling.
import { randomUUID } from 'node:crypto';
import { json, type ApiSim, type OperationKind, type ProjectStore, type SimRequest, type SimResponse } from './api.js';
import { faultyCursor, type PagingFault } from './paging-fault.js';
import { hexId, pick, seededAge } from './random.js';

const VERSION = '2020-09-30';
const OPS: ReadonlyMap<string, OperationKind['op']> = new Map([
  ['ListBatches', 'list'], ['GetBatch', 'get'], ['DeleteBatch', 'delete'], ['ResumeBatch', 'restart'],
]);
// ResumeBatch: "only batches in the Suspended or Failed state can be resumed".
const RESUMABLE = new Set(['Suspended', 'Failed']);
const KNOWN_STATES = ['Ready', 'Running', 'Failed', 'Suspended', 'Succeeded'];
const DELETABLE = new Set(['Ready', 'Failed', 'Suspended', 'Succeeded']);
const SEED_STATES = ['Succeeded', 'Succeeded', 'Succeeded', 'Failed', 'Failed', 'Ready', 'Suspended', 'Running', 'Running'];
const DAY = 86_400_000;

const newRequestId = () => randomUUID().toUpperCase();

/** IMM's error body `{RequestId, HostId, Code, Message, Recommend}` (doc "Error handling"). */
export function immError(status: number, code: string, message: string, requestId = newRequestId()): SimResponse {
  return json(status, {
    RequestId: requestId, HostId: 'imm.cn-hangzhou.aliyuncs.com', Code: code, Message: message,
    Recommend: `https://next.api.aliyun.com/troubleshoot?q=${encodeURIComponent(code)}&product=imm`,
  });
}

/** ISO-8601 UTC as IMM writes it: whole seconds (`…:28Z`) or with 1 or 3 fraction digits (`…:17.5Z`). */
export function immTime(date: Date, fractionDigits: 0 | 1 | 3 = 0): string {
  const [whole = '', ms = '000'] = date.toISOString().slice(0, -1).split('.');
  return fractionDigits === 0 ? `${whole}Z` : `${whole}.${ms.slice(0, fractionDigits)}Z`;
}

function headerValue(req: SimRequest, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Parameters as the SDK places them: DeleteBatch is a `formData` API (form body only), the others
 * send everything in the query. A parameter in the wrong place is simply not seen, as it is missing.
 */
function paramsOf(req: SimRequest, op: OperationKind['op']): URLSearchParams {
  if (op !== 'delete') return req.query;
  const form = (headerValue(req, 'content-type') ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded');
  return new URLSearchParams(form ? req.body.toString('utf8') : '');
}

const invalid = (message: string) => immError(400, 'InvalidArgument', message);
const notFound = (type: string) => immError(400, 'ResourceNotFound', `The specified resource ${type} is not found.`);

type SortKey = [number, string];

function sortKey(batch: Record<string, unknown>, field: string): SortKey {
  const raw = batch[field];
  const at = typeof raw === 'string' ? Date.parse(raw) : Number.NaN;
  return [Number.isNaN(at) ? -1 : at, String(batch.Id)];
}

function compareKeys(a: SortKey, b: SortKey): number {
  if (a[0] !== b[0]) return a[0] - b[0];
  return a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0;
}

// NextToken is an opaque keyset cursor, so batches deleted while a listing pages on never shift it.
const encodeToken = (sort: string, order: string, key: SortKey) => Buffer.from(JSON.stringify({ sort, order, key })).toString('base64url');

function decodeToken(token: string, sort: string, order: string): SortKey | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { sort?: unknown; order?: unknown; key?: unknown };
    const key = parsed.key;
    const valid = parsed.sort === sort && parsed.order === order && Array.isArray(key) && typeof key[0] === 'number' && typeof key[1] === 'string';
    return valid ? (key as SortKey) : undefined;
  } catch {
    return undefined;
  }
}

const FAULT_TOKENS = ['fault-token-a', 'fault-token-b'] as const;

function listBatches(params: URLSearchParams, store: ProjectStore, fault?: PagingFault): SimResponse {
  const max = params.get('MaxResults') ?? '';
  if (max !== '' && (!/^\d{1,3}$/.test(max) || Number(max) > 100)) return invalid(`MaxResults ${max} is invalid; expected 0 to 100.`);
  const limit = max === '' || Number(max) === 0 ? 100 : Number(max);
  const state = params.get('State') ?? '';
  if (state !== '' && !KNOWN_STATES.includes(state)) return invalid(`State ${state} is invalid.`);
  const sort = params.get('Sort') || 'CreateTime';
  if (sort !== 'CreateTime' && sort !== 'UpdateTime') return invalid(`Sort ${sort} is invalid.`);
  // The doc's descending value really is `DES`.
  const order = params.get('Order') || 'ASC';
  if (order !== 'ASC' && order !== 'DES') return invalid(`Order ${order} is invalid.`);
  const token = params.get('NextToken') ?? '';
  // A faulty API accepts its own cycling tokens, each reading the first page again.
  const faultToken = fault !== undefined && (FAULT_TOKENS as readonly string[]).includes(token);
  const cursor = token === '' || faultToken ? undefined : decodeToken(token, sort, order);
  if (token !== '' && !cursor && !faultToken) return invalid('NextToken is invalid.');
  const direction = order === 'DES' ? -1 : 1;
  const ordered = [...store.values()]
    .filter((b) => state === '' || b.State === state)
    .sort((a, b) => direction * compareKeys(sortKey(a, sort), sortKey(b, sort)));
  const after = cursor ? ordered.filter((b) => direction * compareKeys(sortKey(b, sort), cursor) > 0) : ordered;
  const page = after.slice(0, limit);
  const last = page.at(-1);
  const more = after.length > limit && last !== undefined;
  const next = !more ? '' : fault ? faultyCursor(fault, token, FAULT_TOKENS) : encodeToken(sort, order, sortKey(last, sort));
  return json(200, { RequestId: newRequestId(), Batches: page, NextToken: next });
}

/** A timestamp the API could not have meant, in one of several broken shapes. */
const MALFORMED = ['2020-11-10 03:50:28', '2024-13-45T99:00:00Z', '1605000628', 'yesterday'];

export const immSim: ApiSim = {
  provider: 'imm',
  cloud: 'alibaba',
  idField: 'Id',
  route(req) {
    if (req.method !== 'POST' || req.path !== '/') return undefined;
    const op = OPS.get(headerValue(req, 'x-acs-action') ?? '');
    if (!op) return undefined;
    const params = paramsOf(req, op);
    const taskId = params.get('Id');
    return { provider: 'imm', op, project: params.get('ProjectName') ?? '', ...(taskId ? { taskId } : {}) };
  },
  handle(req, op, ctx) {
    const version = headerValue(req, 'x-acs-version');
    if (version !== VERSION) return immError(400, 'InvalidVersion', `Specified parameter Version ${version ?? ''} is not valid.`);
    const params = paramsOf(req, op.op);
    const project = params.get('ProjectName') ?? '';
    if (project === '') return immError(400, 'MissingProjectName', 'ProjectName is mandatory for this action.');
    const store = ctx.store(project);
    if (!store) return notFound('Project');
    if (op.op === 'list') return listBatches(params, store, ctx.pagingFault);
    const id = params.get('Id') ?? '';
    if (id === '') return immError(400, 'MissingId', 'Id is mandatory for this action.');
    const batch = store.get(id);
    if (!batch) return notFound('Batch');
    if (op.op === 'get') return json(200, { RequestId: newRequestId(), Batch: batch });
    if (op.op === 'restart') return immSim.restart?.(batch, ctx.now) ?? json(200, { RequestId: newRequestId() });
    // No code is documented for deleting a running batch; InvalidArgument is IMM's generic 400.
    if (!DELETABLE.has(String(batch.State))) {
      return invalid(`The batch ${id} is ${String(batch.State)}; only Ready, Failed, Suspended or Succeeded batches can be deleted.`);
    }
    store.delete(id);
    ctx.onDeleted(project, id, batch);
    return json(200, { RequestId: newRequestId() });
  },
  seedTask(random, now, index) {
    const id = `batch-${hexId(random, 8)}-${hexId(random, 4)}-${hexId(random, 4)}-${index.toString(16).padStart(4, '0')}-${hexId(random, 12)}`;
    const state = random() < 0.02 ? 'Cancelled' : pick(random, SEED_STATES);
    const age = seededAge(random);
    const digits = pick(random, [0, 0, 1, 3] as const);
    // Most records carry UpdateTime (the age reference); the rest are aged from CreateTime.
    const updated = random() < 0.8;
    let reference: string | undefined;
    let ageMs: number | undefined;
    if (typeof age === 'number' || age === 'future') {
      reference = immTime(new Date(now.getTime() - (age === 'future' ? -DAY : age)), digits);
      ageMs = now.getTime() - Date.parse(reference);
    } else if (age === 'malformed') {
      reference = pick(random, MALFORMED);
    }
    const times: Record<string, string> = {};
    if (updated && reference !== undefined) {
      times.UpdateTime = reference;
      // CreateTime is older, by up to 10 days; when UpdateTime is malformed it is a valid old date
      // that must not be used instead.
      const base = Number.isNaN(Date.parse(reference)) ? now.getTime() - 30 * DAY : Date.parse(reference);
      times.CreateTime = immTime(new Date(base - Math.floor(random() * 10 * DAY)), pick(random, [0, 1, 3] as const));
    } else if (reference !== undefined) {
      times.CreateTime = reference;
    }
    const record: Record<string, unknown> = {
      Id: id, State: state, ...times,
      Input: { OSS: { URI: `oss://media-bucket/batch-${index}/` } },
      Actions: [{ Name: 'doc/convert', Parameters: ['target=pdf'] }],
      Statistic: { SkipFiles: 0, SubmitFailure: state === 'Failed' ? 3 : 0, SubmitSuccess: 120 },
      Tags: { team: 'media' },
      ServiceRole: 'AliyunIMMBatchTriggerRole',
      ...(state === 'Failed' ? { Error: 'Some files failed to be processed.' } : {}),
    };
    return { record, fact: { id, states: [state], ageMs } };
  },
  restart(batch, now) {
    if (!RESUMABLE.has(String(batch.State))) return invalid(`The batch ${String(batch.Id)} is ${String(batch.State)}; only Suspended or Failed batches can be resumed.`);
    batch.State = 'Running';
    batch.UpdateTime = immTime(now);
    return undefined;
  },
  throttled: (requestId) => immError(400, 'Throttling.User', 'Request was denied due to user flow control.', requestId),
  serverError: (requestId) => immError(500, 'InternalError', 'The request processing has failed due to some unknown error, exception or failure.', requestId),
};
