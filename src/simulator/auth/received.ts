// The request as the simulator received it, the auth verdict, and the encoding the verifiers recompute with.
// Deliberately separate from src/providers/signing: a signer bug must not hide in shared code.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** Outcome of an auth check: who called, or the cloud's own error status, code and message. */
export type AuthVerdict =
  | { ok: true; accessKey: string }
  | { ok: false; status: number; code: string; message: string };

/** A request exactly as it arrived: raw path and query, node's lower-cased headers, body bytes. */
export interface ReceivedRequest {
  readonly method: string;
  /** Path as received, still percent-encoded, without the query. */
  readonly path: string;
  /** Query string as received, without `?`; `''` for none. */
  readonly rawQuery: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
}

/** A header's value (repeated values joined by `,`), looked up case-insensitively. */
export function headerText(headers: ReceivedRequest['headers'], name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== wanted || value === undefined) continue;
    return Array.isArray(value) ? value.join(',') : value;
  }
  return undefined;
}

/** Lower-case names of the headers present. */
export function headerNames(headers: ReceivedRequest['headers']): string[] {
  return Object.entries(headers)
    .filter(([, value]) => value !== undefined)
    .map(([key]) => key.toLowerCase());
}

/** RFC 3986 percent-encoding over UTF-8 bytes: only `A-Z a-z 0-9 - _ . ~` stay literal. */
export function rfc3986(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const unreserved =
      (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x30 && byte <= 0x39) ||
      byte === 0x2d || byte === 0x5f || byte === 0x2e || byte === 0x7e;
    out += unreserved ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * Decoded `[name, value]` pairs of a raw query string. `+` is a space, as both SDKs' HTTP stacks
 * send it; a malformed escape is kept as written rather than failing the whole request.
 */
export function parseRawQuery(rawQuery: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = eq === -1 ? part : part.slice(0, eq);
    const value = eq === -1 ? '' : part.slice(eq + 1);
    pairs.push([decodeComponent(name), decodeComponent(value)]);
  }
  return pairs;
}

function decodeComponent(raw: string): string {
  const spaced = raw.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced;
  }
}

/** Hex SHA-256 of bytes or UTF-8 text. */
export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Hex HMAC-SHA256. */
export function hmacSha256Hex(key: string | Buffer, data: string): string {
  return createHmac('sha256', key).update(data, 'utf8').digest('hex');
}

/** Constant-time comparison of two hex signatures. */
export function sameSignature(expected: string, given: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(given, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Code-unit order, the order both clouds' specs sort names and values in. */
export function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
