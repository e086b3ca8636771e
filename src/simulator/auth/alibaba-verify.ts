// Simulator side of Alibaba OpenAPI auth: re-derives ACS3-HMAC-SHA256 signatures from the request as received.
import {
  byCodeUnit,
  headerNames,
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

/** Simulator settings for Alibaba auth. */
export interface AlibabaVerifyOptions {
  /**
   * Records `nonce` for `accessKey` and says whether it was already used. Called only for requests
   * whose signature is valid, so forged requests cannot burn nonces. See {@link RecentNonces}.
   */
  readonly seenNonce?: (accessKey: string, nonce: string) => boolean;
}

// Codes, statuses and messages of the management OpenAPI gateway's common client errors (help.aliyun.com
// document 434846 "Client-side errors" and the OpenAPI common error code list, developer.aliyun.com/ask/278265):
// InvalidAccessKeyId.NotFound 404, InvalidTimeStamp.Format 400, InvalidTimeStamp.Expired 400
// (more than 15 minutes off), SignatureNonceUsed 400, SignatureDoesNotMatch 400. IncompleteSignature 400
// is from the common client error tables (e.g. help.aliyun.com/en/polardb/client-error-codes).
const ERRORS = {
  mismatch: { status: 400, code: 'SignatureDoesNotMatch', message: 'Specified signature is not matched with our calculation.' },
  incomplete: { status: 400, code: 'IncompleteSignature', message: 'The request signature does not conform to Aliyun standards.' },
  unknownKey: { status: 404, code: 'InvalidAccessKeyId.NotFound', message: 'Specified access key is not found.' },
  badDate: { status: 400, code: 'InvalidTimeStamp.Format', message: 'Specified time stamp or date value is not well formatted.' },
  expired: { status: 400, code: 'InvalidTimeStamp.Expired', message: 'Specified time stamp or date value is expired.' },
  nonceUsed: { status: 400, code: 'SignatureNonceUsed', message: 'Specified signature nonce was used already.' },
} as const;

const MAX_SKEW_MS = 15 * 60 * 1000;
const AUTH = /^ACS3-HMAC-SHA256 Credential=([^,\s]+),SignedHeaders=([^,\s]+),Signature=([0-9a-f]{64})$/;
const REQUIRED_SIGNED = ['host', 'x-acs-action', 'x-acs-version', 'x-acs-date', 'x-acs-signature-nonce', 'x-acs-content-sha256'];

/**
 * Checks an ACS3-HMAC-SHA256 request: key known, `x-acs-date` within 15 minutes, every `x-acs-*`,
 * `host` and `content-type` header signed, signature over the received request, nonce unused.
 */
export function verifyAlibabaRequest(
  req: ReceivedRequest,
  keys: ReadonlyMap<string, string>,
  now: Date,
  opts: AlibabaVerifyOptions = {},
): AuthVerdict {
  const authorization = headerText(req.headers, 'authorization');
  if (authorization === undefined) return fail('mismatch');
  const m = AUTH.exec(authorization.trim());
  if (!m) return fail('incomplete');
  const [, accessKey = '', signedHeaderList = '', signature = ''] = m;
  const secret = keys.get(accessKey);
  if (secret === undefined) return fail('unknownKey');
  const date = headerText(req.headers, 'x-acs-date');
  const signedAt = date === undefined ? undefined : parseAcsDate(date);
  if (signedAt === undefined) return fail('badDate');
  if (Math.abs(now.getTime() - signedAt) > MAX_SKEW_MS) return fail('expired');
  const names = signedHeaderList.split(';');
  if (!coversRequiredHeaders(req, names)) return fail('incomplete');
  const bodyHash = sha256Hex(req.body);
  if (headerText(req.headers, 'x-acs-content-sha256') !== bodyHash) return fail('mismatch');
  const canonical = [
    req.method,
    req.path === '' ? '/' : req.path,
    canonicalQuery(req.rawQuery),
    names.map((n) => `${n}:${(headerText(req.headers, n) ?? '').trim()}\n`).join(''),
    names.join(';'),
    bodyHash,
  ].join('\n');
  // V3 keys the HMAC with the raw secret, unlike V2's `secret&`.
  const expected = hmacSha256Hex(secret, `ACS3-HMAC-SHA256\n${sha256Hex(canonical)}`);
  if (!sameSignature(expected, signature)) return fail('mismatch');
  const nonce = headerText(req.headers, 'x-acs-signature-nonce') ?? '';
  if (opts.seenNonce?.(accessKey, nonce)) return fail('nonceUsed');
  return { ok: true, accessKey };
}

/** A bounded memory of recent nonces per key; the oldest are forgotten first. */
export class RecentNonces {
  private readonly seen = new Set<string>();

  constructor(private readonly capacity = 100_000) {}

  /** Records the nonce and returns whether it had been seen before. */
  readonly check = (accessKey: string, nonce: string): boolean => {
    const key = `${accessKey}\n${nonce}`;
    if (this.seen.has(key)) return true;
    this.seen.add(key);
    // Sets iterate in insertion order, so the first entry is the oldest.
    if (this.seen.size > this.capacity) {
      const oldest = this.seen.values().next();
      if (!oldest.done) this.seen.delete(oldest.value);
    }
    return false;
  };
}

function fail(kind: keyof typeof ERRORS): AuthVerdict {
  return { ok: false, ...ERRORS[kind] };
}

/** Epoch ms of a `yyyy-MM-ddTHH:mm:ssZ` date, or undefined when it is not one. */
function parseAcsDate(value: string): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(value)) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 19) !== value.slice(0, 19) ? undefined : ms;
}

/**
 * The doc: every common header present must be signed. The names must be lower case, sorted and
 * include host, content-type when sent, and every x-acs-* header received.
 */
function coversRequiredHeaders(req: ReceivedRequest, names: string[]): boolean {
  const sorted = [...names].sort(byCodeUnit);
  if (names.some((n, i) => n === '' || n !== n.toLowerCase() || n !== sorted[i])) return false;
  const signed = new Set(names);
  const mustSign = headerNames(req.headers).filter((n) => n.startsWith('x-acs-') || n === 'content-type');
  return [...REQUIRED_SIGNED, ...mustSign].every((n) => signed.has(n)) && names.every((n) => headerText(req.headers, n) !== undefined);
}

/** Sorted by name then value; both RFC 3986-encoded. */
function canonicalQuery(rawQuery: string): string {
  return parseRawQuery(rawQuery)
    .sort(([na, va], [nb, vb]) => (na === nb ? byCodeUnit(va, vb) : byCodeUnit(na, nb)))
    .map(([name, value]) => `${rfc3986(name)}=${rfc3986(value)}`)
    .join('&');
}
