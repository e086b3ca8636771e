// Sends ACS3-signed Alibaba Cloud RPC requests (IMM) and classifies Alibaba error bodies by their Code.
import { randomBytes } from 'node:crypto';
import type { AlibabaAuthConfig } from '../config.js';
import type { CallBudget } from '../limiter.js';
import { optionalSecretReader, secretReader } from './credentials.js';
import { header, parseJson, queryString, retryAfterMs, send, unreadableAnswer, type ApiResponse, type HttpClient } from './http.js';
import { ProviderError } from './provider.js';
import { signAcs3Request } from './signing/alibaba-acs3.js';
import { reportListThrottled, tagFor, type CallWatch, type ProviderOperation } from './call-context.js';

/** Credentials resolved to readers, so rotated secret files are picked up on the next request. */
export interface AlibabaAuth {
  readonly accessKeyId: () => string;
  readonly accessKeySecret: () => string;
  readonly securityToken: () => string | undefined;
}

/** Resolves the configured Alibaba credentials; config validation guarantees them for IMM. */
export function alibabaAuthFrom(config: AlibabaAuthConfig | undefined): AlibabaAuth {
  if (!config) throw new Error('Alibaba Cloud credentials missing (config validation should have caught this)');
  return {
    accessKeyId: secretReader(config.accessKeyId),
    accessKeySecret: secretReader(config.accessKeySecret),
    securityToken: optionalSecretReader(config.securityToken),
  };
}

export interface AlibabaApiDeps {
  readonly http: HttpClient;
  /** Base URL, e.g. `https://imm.cn-hangzhou.aliyuncs.com`; RPC calls all go to its `/`. */
  readonly endpoint: string;
  readonly auth: AlibabaAuth;
  readonly now: () => Date;
  /** API version sent as `x-acs-version`, e.g. `2020-09-30` for IMM. */
  readonly version: string;
  /** Source of `x-acs-signature-nonce`; the gateway rejects a reused one. */
  readonly nonce?: () => string;
  /** The provider's call budgets: `Delete*` actions draw on the delete budget, every other action on the read budget. */
  readonly budget?: CallBudget;
  /** Who is told about each call (metrics, the server clock); none in unit tests of request shapes. */
  readonly watch?: CallWatch;
}

type Params = readonly (readonly [string, string | number | undefined])[];

/** One RPC call: parameters go in the query or, for `formData` APIs, in a form-encoded body. */
export interface AlibabaCall {
  /** What the call is for: a listing's page (which takes one of P_LIST_CONCURRENCY places), a re-read, or a delete. */
  readonly operation: ProviderOperation;
  readonly action: string;
  readonly query?: Params;
  readonly form?: Params;
}

export interface AlibabaResponse extends ApiResponse {
  readonly body: unknown;
  readonly requestId: string | undefined;
  /** When this call was throttled: how long the call budget paused the provider (Retry-After or its own choice). */
  readonly pauseMs?: number;
}

// openapi-client's getNonce is a random hex string; 16 random bytes cannot repeat in practice.
const randomNonce = (): string => randomBytes(16).toString('hex');

/** Signs one RPC call with ACS3-HMAC-SHA256 (`POST /`, as the SDK sends RPC calls) and sends it. */
export async function callAlibaba(deps: AlibabaApiDeps, call: AlibabaCall, signal?: AbortSignal): Promise<AlibabaResponse> {
  const query = queryString(call.query ?? []);
  const url = `${deps.endpoint}/${query ? `?${query}` : ''}`;
  const body = call.form ? queryString(call.form) : '';
  const base: Record<string, string> = { accept: 'application/json' };
  if (call.form) base['content-type'] = 'application/x-www-form-urlencoded';
  const kind = call.action.startsWith('Delete') ? 'delete' : 'read';
  const release = await deps.budget?.take(kind, signal, { listing: call.operation === 'list' });
  const tag = tagFor(deps.watch, call.operation);
  let response: ApiResponse;
  try {
    // Signed once its slot is granted: the wait may be long, and ACS refuses an x-acs-date 15 minutes off.
    const securityToken = deps.auth.securityToken();
    const headers = signAcs3Request(
      { method: 'POST', url, headers: base, body },
      { accessKeyId: deps.auth.accessKeyId(), accessKeySecret: deps.auth.accessKeySecret(), ...(securityToken ? { securityToken } : {}) },
      { now: deps.now(), nonce: (deps.nonce ?? randomNonce)(), action: call.action, version: deps.version },
    );
    response = await send(deps.http, { method: 'POST', url, headers, body }, signal, tag);
  } finally {
    release?.();
  }
  const parsed = parseJson(response.text);
  const { code, requestId } = alibabaErrorBody(parsed);
  const received = { ...response, body: parsed, requestId: requestId ?? header(response.headers, 'x-acs-request-id') };
  // Every RPC answer, deletes included, is a JSON object with its RequestId.
  const unreadable = unreadableAnswer(response, parsed, true, received.requestId);
  if (unreadable) throw unreadable;
  if (code === undefined || !THROTTLING.test(code)) return received;
  reportListThrottled(tag);
  return deps.budget ? { ...received, pauseMs: await deps.budget.throttled(kind, retryAfterMs(response.headers)) } : received;
}

/** The `{RequestId, Code, Message}` of an Alibaba response body, when present. */
export function alibabaErrorBody(body: unknown): { code: string | undefined; message: string | undefined; requestId: string | undefined } {
  if (body === null || typeof body !== 'object') return { code: undefined, message: undefined, requestId: undefined };
  const record = body as Record<string, unknown>;
  const text = (key: string) => (typeof record[key] === 'string' && record[key] !== '' ? record[key] : undefined);
  return { code: text('Code'), message: text('Message'), requestId: text('RequestId') };
}

/**
 * True when IMM said the batch asked for (in `project`) does not exist: its table gives HTTP 400,
 * 404 is also seen, and docs/providers.md §1b recommends taking it as "already gone". The message is a
 * template ("The specified resource {ResourceType} is not found.") whose filled-in wording is not
 * documented, so it is read only for the one other resource these calls name: a message that names
 * the project (by type or by its name) is the project gone since the listing, not the batch.
 */
export function isBatchNotFound(response: AlibabaResponse, project: string): boolean {
  const { code, message } = alibabaErrorBody(response.body);
  if (code !== 'ResourceNotFound') return false;
  // Words split on spaces and stripped of the punctuation around them: a project name may hold dots.
  const bare = (word: string) => word.toLowerCase().replace(/^\W+|\W+$/g, '');
  const words = (message ?? '').split(/\s+/).map(bare);
  return !words.includes('project') && !words.includes(bare(project));
}

// §1d: the gateway's flow control answers Throttling, Throttling.User or Throttling.Api, and IMM
// sends them with HTTP 400 (not 403 or 429), so only the code tells throttling apart.
const THROTTLING = /^Throttling(\..+)?$/;
// ServiceUnavailable (503) and InternalError (500) are the common server errors; SystemBusy comes
// from other Alibaba products' tables and is assumed to apply. Dotted sub-codes count too.
const TRANSIENT_CODES = ['ServiceUnavailable', 'InternalError', 'SystemBusy'];

/** Classifies a non-success response by its Code: throttling, server-side trouble, or permanent. */
export function classifyAlibabaFailure(response: AlibabaResponse): ProviderError {
  const { code, message } = alibabaErrorBody(response.body);
  const text = `${code ?? `HTTP ${response.status}`}: ${message ?? (response.text.slice(0, 200) || 'no error body')}`;
  const details = { ...(code ? { code } : {}), status: response.status, ...(response.requestId ? { requestId: response.requestId } : {}) };
  if (code !== undefined && THROTTLING.test(code)) {
    const wait = retryAfterMs(response.headers) ?? response.pauseMs;
    return new ProviderError('throttled', text, { ...details, ...(wait !== undefined ? { retryAfterMs: wait } : {}) });
  }
  const transientCode = code !== undefined && TRANSIENT_CODES.some((c) => code === c || code.startsWith(`${c}.`));
  if (transientCode || response.status >= 500) return new ProviderError('transient', text, details);
  return new ProviderError('permanent', text, details);
}
