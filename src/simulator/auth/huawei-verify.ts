// Simulator side of Huawei APIG auth: re-derives SDK-HMAC-SHA256 / V11-HMAC-SHA256 signatures from the request as received.
import { createHmac } from 'node:crypto';
import {
  byCodeUnit,
  headerText,
  hmacSha256Hex,
  parseRawQuery,
  rfc3986,
  sameSignature,
  sha256Hex,
  type AuthVerdict,
  type ReceivedRequest,
} from './received.js';

export type { AuthVerdict, ReceivedRequest } from './received.js';

/** Simulator settings for Huawei auth. */
export interface HuaweiVerifyOptions {
  /** Accept `X-Auth-Token` equal to this IAM token. */
  readonly iamToken?: string;
  /** When set, a V11 credential scope must name this service (IoTDA: `iotdm`). */
  readonly derivedServiceName?: string;
  /** When set, a V11 credential scope must name this region. */
  readonly regionId?: string;
}

// APIG answers every IAM authentication failure with APIGW.0301 / HTTP 401 and a message starting
// "Incorrect IAM authentication information: ". Sources: the API Request Signing Guide's error code
// table (support.huaweicloud.com/intl/en-us/devg-apisign/api-sign-errorcode.html: APIGW.0301, 401),
// its FAQ "Common Errors Related to IAM Authentication Information" (devg-apisign/api-sign-0001.html:
// "verify aksk signature fail", "Get secretKey failed,ak:...,err:ak not exist", "decrypt token fail";
// it names an X-Sdk-Date more than 15 minutes off as a cause of "verify aksk signature fail"), and
// ocr_faq/ocr_01_0063.html ("x-auth-token not found" when no credentials are sent).
const CODE = 'APIGW.0301';
const STATUS = 401;
const PREFIX = 'Incorrect IAM authentication information: ';
const MAX_SKEW_MS = 15 * 60 * 1000;

const SDK_AUTH = /^SDK-HMAC-SHA256\s+Access=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})$/;
const V11_AUTH =
  /^V11-HMAC-SHA256\s+Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})$/;

interface ParsedAuth {
  readonly accessKey: string;
  readonly signedHeaders: string;
  readonly signature: string;
  /** V11 only: `yyyyMMdd/region/service`. */
  readonly scope?: { readonly date: string; readonly region: string; readonly service: string };
}

/**
 * Checks a request the way APIG does: an IAM token, or an AK/SK signature (plain or derived) over
 * the received method, raw path, raw query, signed headers and body bytes, dated within 15 minutes.
 * For an IAM-token request the verdict's `accessKey` is `''`.
 */
export function verifyHuaweiRequest(
  req: ReceivedRequest,
  keys: ReadonlyMap<string, string>,
  now: Date,
  opts: HuaweiVerifyOptions = {},
): AuthVerdict {
  const authorization = headerText(req.headers, 'authorization');
  if (authorization === undefined) return verifyToken(headerText(req.headers, 'x-auth-token'), opts.iamToken);
  const auth = parseAuthorization(authorization.trim());
  if (!auth) return reject('verify aksk signature fail');
  const secretKey = keys.get(auth.accessKey);
  if (secretKey === undefined) return reject(`Get secretKey failed,ak:${auth.accessKey},err:ak not exist`);
  const sdkDate = headerText(req.headers, 'x-sdk-date');
  const signedAt = sdkDate === undefined ? undefined : parseSdkDate(sdkDate);
  if (sdkDate === undefined || signedAt === undefined || Math.abs(now.getTime() - signedAt) > MAX_SKEW_MS) {
    return reject('verify aksk signature fail');
  }
  const canonical = canonicalRequest(req, auth.signedHeaders);
  if (canonical === undefined) return reject('verify aksk signature fail');
  const expected = auth.scope
    ? derivedSignature(auth, secretKey, sdkDate, canonical, opts)
    : hmacSha256Hex(secretKey, ['SDK-HMAC-SHA256', sdkDate, sha256Hex(canonical)].join('\n'));
  if (expected === undefined || !sameSignature(expected, auth.signature)) return reject('verify aksk signature fail');
  return { ok: true, accessKey: auth.accessKey };
}

function verifyToken(token: string | undefined, configured: string | undefined): AuthVerdict {
  if (token === undefined) return reject('x-auth-token not found');
  if (configured !== undefined && sameSignature(configured, token)) return { ok: true, accessKey: '' };
  return reject('decrypt token fail');
}

function reject(detail: string): AuthVerdict {
  return { ok: false, status: STATUS, code: CODE, message: PREFIX + detail };
}

function parseAuthorization(value: string): ParsedAuth | undefined {
  const sdk = SDK_AUTH.exec(value);
  if (sdk) return { accessKey: sdk[1] ?? '', signedHeaders: sdk[2] ?? '', signature: sdk[3] ?? '' };
  const v11 = V11_AUTH.exec(value);
  if (!v11) return undefined;
  return {
    accessKey: v11[1] ?? '',
    scope: { date: v11[2] ?? '', region: v11[3] ?? '', service: v11[4] ?? '' },
    signedHeaders: v11[5] ?? '',
    signature: v11[6] ?? '',
  };
}

/** Epoch ms of a `YYYYMMDDTHHmmssZ` date, or undefined when it is not one. */
function parseSdkDate(value: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  // Reject rolled-over dates such as month 13, which Date.UTC silently normalises.
  return new Date(ms).getUTCDate() === day && new Date(ms).getUTCMonth() === month - 1 ? ms : undefined;
}

function derivedSignature(
  auth: ParsedAuth,
  secretKey: string,
  sdkDate: string,
  canonical: string,
  opts: HuaweiVerifyOptions,
): string | undefined {
  const scope = auth.scope;
  if (!scope || scope.date !== sdkDate.slice(0, 8)) return undefined;
  if (opts.regionId !== undefined && scope.region !== opts.regionId) return undefined;
  if (opts.derivedServiceName !== undefined && scope.service !== opts.derivedServiceName) return undefined;
  const info = `${scope.date}/${scope.region}/${scope.service}`;
  const key = hkdfSha256Hex(secretKey, auth.accessKey, info);
  return hmacSha256Hex(key, ['V11-HMAC-SHA256', sdkDate, info, sha256Hex(canonical)].join('\n'));
}

/** RFC 5869 HKDF-SHA256 with L = 32 (one expand block), as hex text: the V11 signing key. */
function hkdfSha256Hex(ikm: string, salt: string, info: string): string {
  const prk = createHmac('sha256', Buffer.from(salt, 'utf8')).update(Buffer.from(ikm, 'utf8')).digest();
  return createHmac('sha256', prk).update(Buffer.concat([Buffer.from(info, 'utf8'), Buffer.from([1])])).digest('hex');
}

/** The canonical request over the headers the client says it signed; undefined if one is absent. */
function canonicalRequest(req: ReceivedRequest, signedHeaderList: string): string | undefined {
  const names = signedHeaderList.split(';');
  const sorted = [...names].sort(byCodeUnit);
  // APIG sorts the names itself; a list in another order cannot match what it computes.
  if (names.some((n, i) => n !== sorted[i] || n !== n.toLowerCase() || n === '')) return undefined;
  // An unsigned date or host would let a captured signature be replayed later or elsewhere.
  if (!names.includes('host') || !names.includes('x-sdk-date')) return undefined;
  const lines: string[] = [];
  for (const name of names) {
    const value = headerText(req.headers, name);
    if (value === undefined) return undefined;
    lines.push(`${name}:${value.trim()}\n`);
  }
  const payloadHash = payloadHashOf(req);
  if (payloadHash === undefined) return undefined;
  return [req.method, canonicalUri(req.path), canonicalQuery(req.rawQuery), lines.join(''), names.join(';'), payloadHash].join('\n');
}

/** sha256 of the body; the SDK's `X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD` for non-JSON bodies is honoured. */
function payloadHashOf(req: ReceivedRequest): string | undefined {
  const declared = headerText(req.headers, 'x-sdk-content-sha256');
  const actual = sha256Hex(req.body);
  if (declared === undefined) return actual;
  return declared === 'UNSIGNED-PAYLOAD' || declared === actual ? declared : undefined;
}

/** Each raw path segment encoded again, `/` appended: the Node SDK's rule (see docs/signing.md). */
function canonicalUri(path: string): string {
  const encoded = path.split('/').map(rfc3986).join('/');
  return encoded.endsWith('/') ? encoded : `${encoded}/`;
}

function canonicalQuery(rawQuery: string): string {
  const byName = new Map<string, string[]>();
  for (const [name, value] of parseRawQuery(rawQuery)) byName.set(name, [...(byName.get(name) ?? []), value]);
  return [...byName.keys()]
    .sort(byCodeUnit)
    .flatMap((name) => [...(byName.get(name) ?? [])].sort(byCodeUnit).map((v) => `${rfc3986(name)}=${rfc3986(v)}`))
    .join('&');
}
