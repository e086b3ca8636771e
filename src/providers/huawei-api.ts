// Sends signed requests to Huawei Cloud APIG-fronted services and classifies their error bodies.
import type { HuaweiAuthConfig } from '../config.js';
import type { CallBudget } from '../limiter.js';
import { optionalSecretReader, secretReader } from './credentials.js';
import { header, parseJson, queryString, retryAfterMs, send, unreadableAnswer, type ApiResponse, type HttpClient } from './http.js';
import { ProviderError, type AdapterDeps } from './provider.js';
import { needsDerivedSigning, signHuaweiRequest } from './signing/huawei-aksk.js';
import { reportListThrottled, tagFor, type CallWatch, type ProviderOperation } from './call-context.js';

/** Credentials resolved to readers, so rotated secret files are picked up on the next request. */
export type HuaweiAuth =
  | { readonly kind: 'aksk'; readonly accessKey: () => string; readonly secretKey: () => string; readonly securityToken: () => string | undefined }
  | { readonly kind: 'token'; readonly token: () => string };

export function huaweiAuthFrom(config: HuaweiAuthConfig): HuaweiAuth {
  return config.kind === 'token'
    ? { kind: 'token', token: secretReader(config.token) }
    : {
        kind: 'aksk',
        accessKey: secretReader(config.accessKey),
        secretKey: secretReader(config.secretKey),
        securityToken: optionalSecretReader(config.securityToken),
      };
}

export interface HuaweiApiDeps {
  readonly http: HttpClient;
  readonly endpoint: string;
  readonly auth: HuaweiAuth;
  readonly now: () => Date;
  /** Derived (V11) signing scope; used when set, as the SDK does for IoTDA instance hosts. */
  readonly derived?: { readonly regionId: string; readonly serviceName: string };
  /** Headers every call carries, e.g. IoTDA's Instance-Id. */
  readonly extraHeaders?: Readonly<Record<string, string>>;
  /** The provider's call budgets: a GET draws on the read budget, any other method on the delete budget. */
  readonly budget?: CallBudget;
  /** The service's own throttling codes besides HTTP 429 / APIGW.0308, reported to the budget. */
  readonly throttlingCodes?: readonly string[];
  /** Who is told about each call (metrics, the server clock); none in unit tests of request shapes. */
  readonly watch?: CallWatch;
}

/** The call deps of a Huawei adapter built with `deps`, for its endpoint. */
export function huaweiApiDeps(endpoint: string, deps: AdapterDeps<HuaweiAuth>): HuaweiApiDeps {
  return { http: deps.http, endpoint, auth: deps.auth, now: deps.now, ...(deps.budget ? { budget: deps.budget } : {}), ...(deps.watch ? { watch: deps.watch } : {}) };
}

export interface HuaweiCall {
  /** What the call is for: a listing's page (which takes one of P_LIST_CONCURRENCY places), a re-read, or a delete. */
  readonly operation: ProviderOperation;
  readonly method: 'GET' | 'POST' | 'DELETE';
  /** Path below the endpoint, already encoded per segment. */
  readonly path: string;
  readonly query?: readonly (readonly [string, string | number | undefined])[];
  readonly json?: unknown;
}

export interface HuaweiResponse extends ApiResponse {
  readonly body: unknown;
  readonly requestId: string | undefined;
  /** When this call was throttled: how long the call budget paused the provider (Retry-After or its own choice). */
  readonly pauseMs?: number;
}

/** Whether the SDK would sign requests to this endpoint with the derived (V11) scheme. */
export function endpointNeedsDerivedSigning(endpoint: string): boolean {
  return needsDerivedSigning(new URL(endpoint).host);
}

/** Signs (AK/SK) or authenticates (IAM token) one call for `projectId` and sends it. */
export async function callHuawei(deps: HuaweiApiDeps, projectId: string, call: HuaweiCall, signal?: AbortSignal): Promise<HuaweiResponse> {
  const query = queryString(call.query ?? []);
  const url = `${deps.endpoint}${call.path}${query ? `?${query}` : ''}`;
  const body = call.json === undefined ? '' : JSON.stringify(call.json);
  const base: Record<string, string> = { 'Content-Type': 'application/json', ...deps.extraHeaders };
  const kind = call.method === 'GET' ? 'read' : 'delete';
  const release = await deps.budget?.take(kind, signal, { listing: call.operation === 'list' });
  const tag = tagFor(deps.watch, call.operation);
  let response: ApiResponse;
  try {
    // Signed once its slot is granted: the wait may be long, and APIG refuses an X-Sdk-Date 15 minutes off.
    const headers = authenticated(deps, projectId, { method: call.method, url, headers: base, body });
    response = await send(deps.http, { method: call.method, url, headers, body }, signal, tag);
  } finally {
    release?.();
  }
  const received = { ...response, body: parseJson(response.text), requestId: header(response.headers, 'x-request-id') };
  // A delete may answer 204 with no body; every read answers JSON.
  const unreadable = unreadableAnswer(response, received.body, call.method === 'GET', received.requestId);
  if (unreadable) throw unreadable;
  if (!isHuaweiThrottling(received, deps.throttlingCodes)) return received;
  reportListThrottled(tag);
  return deps.budget ? { ...received, pauseMs: await deps.budget.throttled(kind, retryAfterMs(response.headers)) } : received;
}

/** The request's headers with its credentials: the IAM token, or an AK/SK signature dated now. */
function authenticated(deps: HuaweiApiDeps, projectId: string, request: { readonly method: string; readonly url: string; readonly headers: Record<string, string>; readonly body: string }): Record<string, string> {
  if (deps.auth.kind === 'token') return { ...request.headers, 'X-Auth-Token': deps.auth.token() };
  const securityToken = deps.auth.securityToken();
  return signHuaweiRequest(
    request,
    { accessKey: deps.auth.accessKey(), secretKey: deps.auth.secretKey(), ...(securityToken ? { securityToken } : {}) },
    { now: deps.now(), projectId, ...(deps.derived ? { derived: deps.derived } : {}) },
  );
}

/** HTTP 429, APIG's APIGW.0308, or one of the service's own throttling codes (IoTDA answers those with 403). */
export function isHuaweiThrottling(response: HuaweiResponse, codes: readonly string[] = []): boolean {
  const { code } = huaweiErrorBody(response.body);
  return response.status === 429 || code === 'APIGW.0308' || (code !== undefined && codes.includes(code));
}

/** Codes a Huawei service uses for throttling besides HTTP 429 / APIGW.0308. */
export interface HuaweiErrorCodes {
  readonly throttling?: readonly string[];
}

/** The `{error_code, error_msg}` pair of a Huawei error body, when present. */
export function huaweiErrorBody(body: unknown): { code: string | undefined; message: string | undefined } {
  if (body === null || typeof body !== 'object') return { code: undefined, message: undefined };
  const record = body as Record<string, unknown>;
  const code = typeof record.error_code === 'string' ? record.error_code : undefined;
  const message = typeof record.error_msg === 'string' ? record.error_msg : undefined;
  return { code, message };
}

/** Classifies a non-success response: throttling and 5xx are retried, every other 4xx is permanent. */
export function classifyHuaweiFailure(response: HuaweiResponse, codes: HuaweiErrorCodes = {}): ProviderError {
  const { code, message } = huaweiErrorBody(response.body);
  const text = `${code ?? `HTTP ${response.status}`}: ${message ?? (response.text.slice(0, 200) || 'no error body')}`;
  const details = {
    ...(code ? { code } : {}),
    status: response.status,
    ...(response.requestId ? { requestId: response.requestId } : {}),
  };
  if (isHuaweiThrottling(response, codes.throttling)) {
    const wait = retryAfterMs(response.headers) ?? response.pauseMs;
    return new ProviderError('throttled', text, { ...details, ...(wait !== undefined ? { retryAfterMs: wait } : {}) });
  }
  if (response.status >= 500 || response.status === 408) return new ProviderError('transient', text, details);
  return new ProviderError('permanent', text, details);
}
