// The one redaction of free text: URL credentials, password and token query values, and access-key
// ids, masked wherever text may reach stderr, logs, Redis (failed reasons) or the audit file.

const MASK = '***';

// A run of text without spaces or quotes: where a URL (or a mistyped one) and its userinfo may be.
const TOKEN = /[^\s"'<>]+/g;
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:\/{0,2}/;
// `?password=…`, `&token=…` and the like: the forms ioredis and webhook URLs accept.
const QUERY_SECRET = /([?&;](?:password|pass|pwd|secret|token|access_token|auth|sig|signature)=)[^&#\s"']*/gi;
// Access-key ids in provider messages: APIG's "Get secretKey failed,ak:<AK>,err:ak not exist",
// `Access=<AK>` and `Credential=<AK>/…` of a quoted Authorization header, `AccessKeyId: <id>`.
const ACCESS_KEY = /(\bak\s*[:=]\s*|\bAccess=|\bCredential=|\bAccessKeyId["']?\s*[:=]\s*["']?|\baccess[ _-]?key(?:[ _-]?id)?\s*[:=]\s*)([^\s,;"'/&]+)/gi;
// Alibaba Cloud access-key ids have a fixed prefix and may appear bare.
const ALIBABA_KEY_ID = /\bLTAI[0-9A-Za-z]{8,}/g;

/** `text` with every credential this module recognises replaced by `***`. Pure; safe on any string. */
export function redactText(text: string): string {
  return text
    .replace(TOKEN, maskUserinfo)
    .replace(QUERY_SECRET, `$1${MASK}`)
    .replace(ACCESS_KEY, `$1${MASK}`)
    .replace(ALIBABA_KEY_ID, `LTAI${MASK}`);
}

/**
 * `scheme://user:password@host…` keeps the user and masks the rest up to the last `@`, so a password
 * holding `/`, `:` or `@` is masked whole; a token with an `@` but no scheme (`password@host`, a
 * mistyped URL) is masked up to it too. An e-mail address loses its local part: harmless.
 */
function maskUserinfo(token: string): string {
  const at = token.lastIndexOf('@');
  const start = token.indexOf('://') >= 0 ? token.indexOf('://') + 3 : (SCHEME.exec(token)?.[0].length ?? 0);
  if (at < start) return maskCutPassword(token);
  const userinfo = token.slice(start, at);
  const colon = userinfo.indexOf(':');
  return `${token.slice(0, start)}${colon >= 0 ? userinfo.slice(0, colon + 1) : ''}${MASK}${token.slice(at)}`;
}

/**
 * `scheme://user:pass` with no `@`: a password cut short by a space or a quote (the rest, up to its
 * `@`, is another token, masked as `password@host`). Whatever follows the colon is masked unless it
 * is a port (`host:6379`, `s1:26379,s2`, `host:6379:` ending a sentence); an IPv6 host in brackets is left alone.
 */
function maskCutPassword(token: string): string {
  const scheme = token.indexOf('://');
  if (scheme < 0 || token[scheme + 3] === '[') return token;
  const authority = token.slice(scheme + 3).split(/[/?#]/, 1)[0] ?? '';
  const colon = authority.indexOf(':');
  if (colon < 0 || /^\d{1,5}(?:,|\W*$)/.test(authority.slice(colon + 1))) return token;
  return `${token.slice(0, scheme + 3 + colon + 1)}${MASK}`;
}

/**
 * A URL whose path or query may itself be the secret (a Slack webhook, a gateway URL): its scheme
 * and host, the rest masked; a schemeless `host/path` likewise. Credentials are masked first.
 */
export function redactUrlPath(text: string): string {
  const redacted = redactText(text);
  const scheme = redacted.indexOf('://');
  const rest = redacted.search(scheme >= 0 ? /(?<=:\/\/[^/?#]*)[/?#]/ : /[/?#]/);
  return rest < 0 ? redacted : `${redacted.slice(0, rest + 1)}${MASK}`;
}
