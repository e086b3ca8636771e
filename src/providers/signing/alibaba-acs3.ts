// Signs Alibaba Cloud OpenAPI (RPC style, e.g. IMM) requests with ACS3-HMAC-SHA256 (signature V3).
import { createHmac } from 'node:crypto';
import { lowerCaseHeaders, percentEncode, queryPairs, sha256Hex, type RequestToSign } from './request.js';

export type { RequestToSign } from './request.js';

/** Permanent or STS Alibaba Cloud access keys. */
export interface AlibabaCredentials {
  readonly accessKeyId: string;
  readonly accessKeySecret: string;
  /** Present for STS credentials; sent as `x-acs-security-token`. */
  readonly securityToken?: string;
}

/** Per-request signing inputs; `now` and `nonce` are passed in so signing stays pure. */
export interface Acs3Options {
  readonly now: Date;
  /** Unique per request (`x-acs-signature-nonce`); the server rejects a reused one. */
  readonly nonce: string;
  /** API name, e.g. `ListBatches` (`x-acs-action`). */
  readonly action: string;
  /** API version, e.g. `2020-09-30` (`x-acs-version`). */
  readonly version: string;
}

const ALGORITHM = 'ACS3-HMAC-SHA256';

/** `x-acs-date` for `now`: UTC `yyyy-MM-ddTHH:mm:ssZ`, no milliseconds. */
export function acs3Date(now: Date): string {
  return now.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Encodes parameters as `k=v&...` with RFC 3986 percent-encoding (space `%20`, `*` `%2A`, `~` kept),
 * for a query string or an `application/x-www-form-urlencoded` body. Order is kept as given.
 */
export function encodeAcs3Params(params: Readonly<Record<string, string>>): string {
  return Object.entries(params)
    .map(([key, value]) => `${percentEncode(key)}=${percentEncode(value)}`)
    .join('&');
}

/**
 * The canonical request of a request whose headers are already complete (host and the `x-acs-*`
 * set): signs `host`, `content-type` and every `x-acs-*` header. Exported for vector tests.
 */
export function acs3CanonicalRequest(req: RequestToSign): string {
  return canonicalParts(req).canonicalRequest;
}

/**
 * Signs `req` and returns the complete header set to send: the input headers plus `host`,
 * `x-acs-action`, `x-acs-version`, `x-acs-date`, `x-acs-signature-nonce`, `x-acs-content-sha256`,
 * for STS `x-acs-accesskey-id` and `x-acs-security-token`, and `Authorization`.
 */
export function signAcs3Request(
  req: RequestToSign,
  creds: AlibabaCredentials,
  opts: Acs3Options,
): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.toLowerCase() !== 'authorization') headers[name] = value;
  }
  if (!Object.keys(headers).some((n) => n.toLowerCase() === 'host')) headers.host = new URL(req.url).host;
  headers['x-acs-action'] = opts.action;
  headers['x-acs-version'] = opts.version;
  headers['x-acs-date'] = acs3Date(opts.now);
  headers['x-acs-signature-nonce'] = opts.nonce;
  headers['x-acs-content-sha256'] = sha256Hex(req.body);
  if (creds.securityToken) {
    // openapi-client's doRequest sends both headers for STS credentials; both are signed.
    headers['x-acs-accesskey-id'] = creds.accessKeyId;
    headers['x-acs-security-token'] = creds.securityToken;
  }
  const { canonicalRequest, signedHeaders } = canonicalParts({ ...req, headers });
  const stringToSign = `${ALGORITHM}\n${sha256Hex(canonicalRequest)}`;
  // The key is the raw secret (V2's trailing `&` is gone in V3).
  const signature = createHmac('sha256', creds.accessKeySecret).update(stringToSign, 'utf8').digest('hex');
  headers.Authorization = `${ALGORITHM} Credential=${creds.accessKeyId},SignedHeaders=${signedHeaders},Signature=${signature}`;
  return headers;
}

function canonicalParts(req: RequestToSign): { canonicalRequest: string; signedHeaders: string } {
  const url = new URL(req.url);
  const all = lowerCaseHeaders(req.headers);
  const names = [...all.keys()].filter((n) => n === 'host' || n === 'content-type' || n.startsWith('x-acs-')).sort();
  const canonicalHeaders = names.map((n) => `${n}:${(all.get(n) ?? '').trim()}\n`).join('');
  const signedHeaders = names.join(';');
  const canonicalRequest = [
    req.method,
    url.pathname || '/',
    canonicalQuery(url),
    canonicalHeaders,
    signedHeaders,
    // The hash of the bytes sent, not the header's claim: a body that does not match fails.
    sha256Hex(req.body),
  ].join('\n');
  return { canonicalRequest, signedHeaders };
}

/** Sorted by name (then value, for a repeated name); names and values RFC 3986-encoded. */
function canonicalQuery(url: URL): string {
  return queryPairs(url)
    .sort(([ka, va], [kb, vb]) => (ka === kb ? compare(va, vb) : compare(ka, kb)))
    .map(([key, value]) => `${percentEncode(key)}=${percentEncode(value)}`)
    .join('&');
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
