// The request shape both signers take, plus the RFC 3986 encoding and query parsing they share.
import { createHash } from 'node:crypto';

/** A request exactly as it will be sent: the signers hash these bytes and headers, nothing else. */
export interface RequestToSign {
  /** HTTP method, upper case (`GET`, `POST`, `DELETE`, `PUT`). */
  readonly method: string;
  /** Absolute URL with its query, path segments already percent-encoded as they will be sent. */
  readonly url: string;
  /** Headers to send; names in any case. */
  readonly headers: Readonly<Record<string, string>>;
  /** The exact body to send (UTF-8), `''` for none. */
  readonly body: string;
}

/** Hex SHA-256 of the UTF-8 bytes of `data`. */
export function sha256Hex(data: string): string {
  return createHash('sha256').update(data, 'utf8').digest('hex');
}

/**
 * Percent-encodes `value` per RFC 3986: only `A-Z a-z 0-9 - _ . ~` stay literal, everything else
 * becomes `%XX` (upper-case hex of its UTF-8 bytes). Both clouds' signing specs use this set.
 */
export function percentEncode(value: string): string {
  // encodeURIComponent keeps !'()* literal; RFC 3986 reserves them, so encode them too.
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/**
 * Decoded `[name, value]` pairs of a URL's query, in order. A bare `k` gives `['k', '']`; `+` reads
 * as a space, as the SDKs' HTTP stacks (axios, querystring) and the gateways treat it.
 */
export function queryPairs(url: URL): Array<[string, string]> {
  return [...url.searchParams.entries()];
}

/** Lower-cases header names, refusing two names that differ only in case (which to sign is ambiguous). */
export function lowerCaseHeaders(headers: Readonly<Record<string, string>>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (out.has(lower)) throw new Error(`header "${name}" is given twice in different case`);
    out.set(lower, value);
  }
  return out;
}
