// Signs Huawei Cloud API requests with AK/SK (SDK-HMAC-SHA256, derived V11-HMAC-SHA256) as the official Node SDK does.
import { createHmac, hkdfSync } from 'node:crypto';
import { lowerCaseHeaders, percentEncode, queryPairs, sha256Hex, type RequestToSign } from './request.js';

export type { RequestToSign } from './request.js';

/** Permanent or temporary (STS) Huawei Cloud access keys. */
export interface HuaweiCredentials {
  readonly accessKey: string;
  readonly secretKey: string;
  /** Present for temporary credentials; sent as `X-Security-Token`. */
  readonly securityToken?: string;
}

/** Per-request signing inputs. */
export interface HuaweiSignOptions {
  /** Signing time; becomes `X-Sdk-Date`. */
  readonly now: Date;
  /** Sent as `X-Project-Id`, as the SDK's `BasicCredentials` does when it has a project id. */
  readonly projectId?: string;
  /** Sign with V11-HMAC-SHA256 (derived key) instead of SDK-HMAC-SHA256; see {@link needsDerivedSigning}. */
  readonly derived?: { readonly regionId: string; readonly serviceName: string };
}

const SDK_ALGORITHM = 'SDK-HMAC-SHA256';
const DERIVED_ALGORITHM = 'V11-HMAC-SHA256';
const CONTENT_SHA256_HEADER = 'x-sdk-content-sha256';

// Copied from BaseCredentials.DEFAULT_ENDPOINT_REG (huaweicloud-sdk-core 3.1.211), including its
// unescaped `.` before the top-level domain, so hosts the SDK treats as standard stay standard here.
const STANDARD_ENDPOINT =
  /^[a-z][a-z0-9-]+(\.[a-z]{2,}-[a-z]+-\d{1,2})?\.(my)?(huaweicloud|myhwclouds).(com|cn)$/;

/**
 * True when the SDK's default derived predicate (`BaseCredentials.getDefaultDerivedPredicate`) would
 * pick V11 derived signing for this host: any host that is not a standard `*.myhuaweicloud.com`-style
 * endpoint, such as an IoTDA instance endpoint. Accepts `host` or `host:port`.
 */
export function needsDerivedSigning(host: string): boolean {
  // The SDK tests URL.hostname, which drops the port and lower-cases the name.
  const hostname = new URL(`https://${host}`).hostname;
  return !STANDARD_ENDPOINT.test(hostname);
}

/** `X-Sdk-Date` for `now`: UTC `YYYYMMDDTHHmmssZ`. */
export function huaweiSdkDate(now: Date): string {
  return now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

/**
 * The canonical request for a request whose headers are already complete (host, `X-Sdk-Date`, ...):
 * every header is signed. Exported so tests can check it against the documented example.
 */
export function huaweiCanonicalRequest(req: RequestToSign): string {
  return canonicalParts(req).canonicalRequest;
}

/**
 * Signs `req` and returns the complete header set to send: the input headers plus `host`,
 * `X-Sdk-Date`, `X-Project-Id`, `X-Security-Token` (when applicable) and `Authorization`.
 * Input `host`, `X-Project-Id` and `X-Security-Token` win over the derived values, as in the SDK.
 */
export function signHuaweiRequest(
  req: RequestToSign,
  creds: HuaweiCredentials,
  opts: HuaweiSignOptions,
): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    // `now` is the one source of the date, and a stale Authorization must not be signed over.
    const lower = name.toLowerCase();
    if (lower !== 'x-sdk-date' && lower !== 'authorization') headers[name] = value;
  }
  const given = new Set(Object.keys(headers).map((n) => n.toLowerCase()));
  const sdkDate = huaweiSdkDate(opts.now);
  headers['X-Sdk-Date'] = sdkDate;
  if (!given.has('host')) headers.host = new URL(req.url).host;
  if (opts.projectId && !given.has('x-project-id')) headers['X-Project-Id'] = opts.projectId;
  if (creds.securityToken && !given.has('x-security-token')) {
    headers['X-Security-Token'] = creds.securityToken;
  }
  const { canonicalRequest, signedHeaders } = canonicalParts({ ...req, headers });
  headers.Authorization = opts.derived
    ? derivedAuthorization(creds, opts.derived, sdkDate, canonicalRequest, signedHeaders)
    : sdkAuthorization(creds, sdkDate, canonicalRequest, signedHeaders);
  return headers;
}

function sdkAuthorization(
  creds: HuaweiCredentials,
  sdkDate: string,
  canonicalRequest: string,
  signedHeaders: string,
): string {
  const stringToSign = [SDK_ALGORITHM, sdkDate, sha256Hex(canonicalRequest)].join('\n');
  const signature = hmacHex(creds.secretKey, stringToSign);
  return `${SDK_ALGORITHM} Access=${creds.accessKey}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
}

/** Derived keys by credentials and scope: one per day, region and service, so HKDF runs once a day instead of once per call. */
const derivedKeys = new Map<string, string>();

function derivedKey(creds: HuaweiCredentials, info: string): string {
  const id = `${creds.accessKey}\n${creds.secretKey}\n${info}`;
  let key = derivedKeys.get(id);
  if (key === undefined) {
    // DerivedAKSKSigner: RFC 5869 HKDF-SHA256(ikm=SK, salt=AK, info, 32); the hex text is the HMAC key.
    key = Buffer.from(hkdfSync('sha256', creds.secretKey, creds.accessKey, info, 32)).toString('hex');
    if (derivedKeys.size >= 32) derivedKeys.clear(); // rotated keys and past days: never more than a few live
    derivedKeys.set(id, key);
  }
  return key;
}

function derivedAuthorization(
  creds: HuaweiCredentials,
  derived: { readonly regionId: string; readonly serviceName: string },
  sdkDate: string,
  canonicalRequest: string,
  signedHeaders: string,
): string {
  const info = `${sdkDate.slice(0, 8)}/${derived.regionId}/${derived.serviceName}`;
  const key = derivedKey(creds, info);
  const stringToSign = [DERIVED_ALGORITHM, sdkDate, info, sha256Hex(canonicalRequest)].join('\n');
  const signature = hmacHex(key, stringToSign);
  return `${DERIVED_ALGORITHM} Credential=${creds.accessKey}/${info}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
}

function canonicalParts(req: RequestToSign): { canonicalRequest: string; signedHeaders: string } {
  const url = new URL(req.url);
  const headers = lowerCaseHeaders(req.headers);
  // Code-unit order, as the doc says and as the SDK's SignedHeaders list uses.
  const names = [...headers.keys()].sort();
  const canonicalHeaders = names.map((n) => `${n}:${headers.get(n) ?? ''}\n`).join('');
  const signedHeaders = names.join(';');
  // AKSKSigner.buildPayloadHash: an explicit X-Sdk-Content-Sha256 (e.g. UNSIGNED-PAYLOAD) wins.
  const payloadHash = headers.get(CONTENT_SHA256_HEADER) ?? sha256Hex(req.body);
  const canonicalRequest = [
    req.method,
    canonicalUri(url.pathname),
    canonicalQuery(url),
    canonicalHeaders,
    signedHeaders,
    payloadHash,
  ].join('\n');
  return { canonicalRequest, signedHeaders };
}

/** Each segment of the path as sent is encoded again, then `/` is appended (AKSKSigner.CanonicalURI). */
function canonicalUri(pathname: string): string {
  const encoded = pathname.split('/').map(percentEncode).join('/');
  return encoded.endsWith('/') ? encoded : `${encoded}/`;
}

/** Keys in JS default sort order; a repeated key emits each of its values, sorted. */
function canonicalQuery(url: URL): string {
  const byKey = new Map<string, string[]>();
  for (const [key, value] of queryPairs(url)) {
    const values = byKey.get(key);
    if (values) values.push(value);
    else byKey.set(key, [value]);
  }
  return [...byKey.keys()]
    .sort()
    .flatMap((key) => (byKey.get(key) ?? []).sort().map((v) => `${percentEncode(key)}=${percentEncode(v)}`))
    .join('&');
}

function hmacHex(key: string, data: string): string {
  return createHmac('sha256', key).update(data, 'utf8').digest('hex');
}
