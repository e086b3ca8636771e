// The one HTTP client: got with no retries of its own (BullMQ owns delete retries), timeouts, and
// a bounded retry helper for list pages, which are idempotent reads outside BullMQ.
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import got, { RequestError, type Got } from 'got';
import { reportCall, reportServerDate, type CallTag } from './call-context.js';
import { ProviderError } from './provider.js';
import { percentEncode } from './signing/request.js';

export type HttpClient = Got;

/** A received response: the body is kept raw so it can be parsed by the provider that knows its shape. */
export interface ApiResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly text: string;
}

export interface OutgoingRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export function createHttpClient(options: { readonly timeoutMs: number }): HttpClient {
  // got opens a new connection per request unless given agents: keep them alive, as a TLS handshake
  // per call would cost more than the call itself against a real endpoint.
  const agentOptions = { keepAlive: true, keepAliveMsecs: 1_000, maxFreeSockets: 64, scheduling: 'lifo' as const };
  return got.extend({
    agent: { http: new HttpAgent(agentOptions), https: new HttpsAgent(agentOptions) },
    retry: { limit: 0 },
    throwHttpErrors: false,
    followRedirect: false,
    timeout: { request: options.timeoutMs },
    responseType: 'text',
  });
}

/** Sends exactly the bytes that were signed, and reports the call by its tag. Network failures become transient ProviderErrors. */
export async function send(http: HttpClient, request: OutgoingRequest, signal?: AbortSignal, tag?: CallTag): Promise<ApiResponse> {
  try {
    const response = await http(request.url, {
      method: request.method as 'GET',
      headers: request.headers,
      ...(request.body !== '' ? { body: request.body } : {}),
      ...(signal ? { signal } : {}),
    });
    reportCall(tag, response.statusCode);
    reportServerDate(tag, header(response.headers, 'date'));
    return { status: response.statusCode, headers: response.headers, text: response.body };
  } catch (err) {
    if (err instanceof RequestError) {
      reportCall(tag, 'network-error');
      throw new ProviderError('transient', `network error ${err.code}: ${err.message.split('\n')[0] ?? ''}`);
    }
    throw err;
  }
}

/**
 * A successful answer whose body cannot be read: not JSON (cut off in transit, an HTML page from a proxy),
 * or empty where the API always sends a body (`bodyRequired`: every read; a delete may answer 204).
 * Transient: the same call again usually reads fine, so BullMQ retries it, and a listing fails with this
 * reason rather than with a misleading "no such field". `parsed`: the body as parseJson read it (once
 * per answer). Undefined when the body is readable.
 */
export function unreadableAnswer(response: ApiResponse, parsed: unknown, bodyRequired: boolean, requestId?: string): ProviderError | undefined {
  if (response.status < 200 || response.status > 299) return undefined;
  const bytes = Buffer.byteLength(response.text);
  const type = header(response.headers, 'content-type') ?? 'no Content-Type';
  const why = response.text.trim() === '' ? (bodyRequired ? 'an empty body' : undefined) : parsed === undefined ? `a body that is not JSON (${bytes} bytes of ${type}; cut off or from a proxy?)` : undefined;
  return why === undefined ? undefined : new ProviderError('transient', `unreadable answer: HTTP ${response.status} with ${why}`, { status: response.status, ...(requestId ? { requestId } : {}) });
}

/** Parses a JSON body, or undefined for an empty or non-JSON body. */
export function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Retry-After in ms (seconds or an HTTP date), capped at 10 minutes; undefined when absent or bad. */
export function retryAfterMs(headers: ApiResponse['headers'], now = Date.now()): number | undefined {
  const raw = headers['retry-after'];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (value === undefined || value.trim() === '') return undefined;
  const ms = /^\d+$/.test(value.trim()) ? Number(value) * 1000 : Date.parse(value) - now;
  return Number.isFinite(ms) && ms >= 0 ? Math.min(ms, 600_000) : undefined;
}

/** First header value as a string. */
export function header(headers: ApiResponse['headers'], name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Retries a list call on throttling and transient failures with exponential backoff and full jitter,
 * honouring Retry-After. Permanent failures are thrown at once.
 */
export async function withListRetries<T>(call: () => Promise<T>, options: { readonly attempts?: number; readonly baseMs?: number; readonly signal?: AbortSignal } = {}): Promise<T> {
  const attempts = options.attempts ?? 5;
  const baseMs = options.baseMs ?? 500;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      const retryable = err instanceof ProviderError && err.kind !== 'permanent';
      if (!retryable || attempt >= attempts || options.signal?.aborted) throw err;
      const backoff = Math.random() * baseMs * 2 ** (attempt - 1);
      await sleep(Math.max(err.details.retryAfterMs ?? 0, backoff), undefined, options.signal ? { signal: options.signal } : undefined);
    }
  }
}

/** Builds `a=1&b=2` from ordered pairs, skipping undefined values, RFC 3986 encoded. */
export function queryString(params: readonly (readonly [string, string | number | undefined])[]): string {
  return params
    .filter((entry): entry is readonly [string, string | number] => entry[1] !== undefined)
    .map(([k, v]) => `${percentEncode(k)}=${percentEncode(String(v))}`)
    .join('&');
}
