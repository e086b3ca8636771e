// The Redis part of the configuration: one node, a Redis Cluster or Sentinel, auth and TLS, and the
// hash-tagged queue prefix a cluster needs. Called by loadConfig with its readers (never process.env).
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { SecretSource } from './config.js';
import { variableText } from './variables.js';
import { redactText } from './redact.js';

/** A Redis host and port (cluster seed node or sentinel). */
export interface RedisEndpoint {
  readonly host: string;
  readonly port: number;
}

/** How to reach Redis: one node by URL, a Redis Cluster from seed nodes, or a master found through Sentinel. */
export type RedisTopology =
  | { readonly mode: 'single'; readonly url: string }
  | { readonly mode: 'cluster'; readonly nodes: readonly RedisEndpoint[] }
  | { readonly mode: 'sentinel'; readonly sentinels: readonly RedisEndpoint[]; readonly masterName: string; readonly db: number; readonly sentinelPassword?: SecretSource };

export type RedisConfig = RedisTopology & {
  readonly username?: string;
  /** REDIS_PASSWORD(_FILE), or the password inside a redis+sentinel:// URL (a redis:// URL keeps its own). */
  readonly password?: SecretSource;
  readonly tls: boolean;
};

/** What loadConfig lends this module: its variable readers and the problem list they fill. */
export interface EnvReaders {
  readonly problems: string[];
  readonly given: (name: string) => boolean;
  readonly read: <S extends z.ZodType>(name: string, schema: S, fallback?: string) => z.output<S> | undefined;
  readonly secret: (name: string) => SecretSource | undefined;
  readonly boolean: z.ZodType<boolean, string>;
  readonly list: z.ZodType<string[], string>;
}

/** Redis Cluster hashes only the part between the first `{` and the next `}`, when that part is not empty. */
export function hasHashTag(key: string): boolean {
  const open = key.indexOf('{');
  const close = key.indexOf('}', open + 1);
  return open >= 0 && close > open + 1;
}

/**
 * BullMQ's scripts touch several keys of a queue at once, and a cluster runs them only when every key
 * hashes to one slot; a hash tag in the prefix guarantees it (BullMQ docs, "Redis Cluster"). In
 * cluster mode a prefix without one is wrapped: `janitor` becomes `{janitor}`.
 */
export function prefixFor(redis: RedisConfig | undefined, prefix: string): string {
  return redis?.mode === 'cluster' && !hasHashTag(prefix) ? `{${prefix}}` : prefix;
}

// BullMQ joins prefix, queue name and key type with ':'; a `{tag}` keeps a queue in one cluster slot.
export const queuePrefix = z.string().transform((raw, ctx) => {
  const v = raw.trim();
  return /^[A-Za-z0-9_-]*(\{[A-Za-z0-9_-]+\})?[A-Za-z0-9_-]*$/.test(v) && v.length >= 1 && v.length <= 64
    ? v : fail(ctx, 'expected 1-64 letters, digits, _ or -, optionally with one {hash tag} such as {janitor} (no colon)');
});

const HOST = /^(?:[A-Za-z0-9][A-Za-z0-9-]{0,62}(?:\.[A-Za-z0-9-]{1,63})*|\[[0-9A-Fa-f:.]+\])$/;

function endpoint(raw: string, defaultPort: number): RedisEndpoint | undefined {
  const m = /^(.+?)(?::(\d{1,5}))?$/.exec(raw.trim());
  const host = m?.[1] ?? '';
  const port = m?.[2] === undefined ? defaultPort : Number(m[2]);
  if (!HOST.test(host) || port < 1 || port > 65535) return undefined;
  return { host: host.replace(/^\[(.*)\]$/, '$1'), port };
}

function endpoints(list: EnvReaders['list'], defaultPort: number) {
  return list.transform((items, ctx) => {
    const parsed = items.map((i) => endpoint(i, defaultPort));
    const bad = items.filter((_, i) => parsed[i] === undefined);
    return bad.length === 0 ? (parsed as RedisEndpoint[]) : fail(ctx, `invalid address(es) ${bad.map(redactText).join(', ')}; expected host:port entries like 10.0.0.5:${defaultPort} (port 1-65535)`);
  });
}

// redis+sentinel://[user:password@]host[:port][,host[:port]…][/master[/db]] (rediss+sentinel for TLS),
// the form redis-py, redisvl and others accept; sentinels default to port 26379.
const SENTINEL_URL = /^(rediss?)\+sentinel:\/\/(?:([^:@/]*)(?::(.*))?@)?([^/?#@]+)(?:\/([A-Za-z0-9_.-]+)?(?:\/(\d{1,2}))?)?\/?$/;

type ParsedRedisUrl =
  | { mode: 'single'; url: string }
  | { mode: 'sentinel'; sentinels: RedisEndpoint[]; masterName?: string; db: number; username?: string; password?: string; tls: boolean };

const redisUrl = z.string().transform((raw, ctx): ParsedRedisUrl => {
  const v = raw.trim();
  const m = SENTINEL_URL.exec(v);
  if (m) {
    const sentinels = (m[4] ?? '').split(',').map((h) => endpoint(h, 26379));
    if (sentinels.every((s) => s !== undefined)) {
      if (!decodable(m[2]) || !decodable(m[3])) return fail(ctx, `${MALFORMED_ESCAPE}; ${URL_HINT}`);
      const decode = (part: string | undefined) => (part ? decodeURIComponent(part) : undefined);
      const username = decode(m[2]);
      const password = decode(m[3]);
      return {
        mode: 'sentinel', sentinels, db: Number(m[6] ?? 0), tls: m[1] === 'rediss',
        ...(m[5] ? { masterName: m[5] } : {}), ...(username ? { username } : {}), ...(password ? { password } : {}),
      };
    }
  } else if (/^rediss?:\/\/\S+$/.test(v) && URL.canParse(v)) {
    const problem = singleNodeProblem(new URL(v));
    return problem === undefined ? { mode: 'single', url: v } : fail(ctx, `${problem}; ${URL_HINT}`);
  }
  return fail(ctx, URL_HINT);
});

const MALFORMED_ESCAPE = 'the user or password holds a malformed %-escape (write % as %25)';

function decodable(part: string | undefined): boolean {
  try {
    decodeURIComponent(part ?? '');
    return true;
  } catch {
    return false;
  }
}

/**
 * What ioredis would trip over later in a URL that parses: port 0, or a database (path or `?db=`)
 * that is not a whole number (ioredis sends `SELECT NaN` and crashes on the reply).
 */
function singleNodeProblem(url: URL): string | undefined {
  if (url.hostname === '') return 'no host';
  // ioredis decodes them (decodeURIComponent) and would throw URIError at connect time.
  if (!decodable(url.username) || !decodable(url.password)) return MALFORMED_ESCAPE;
  if (url.port === '0') return 'port 0 is not a port (expected 1-65535)';
  const path = url.pathname === '/' ? '' : url.pathname.slice(1);
  const db = url.searchParams.get('db');
  for (const [where, value] of [['path', path], ['db query', db ?? '']] as const) {
    if (value !== '' && !/^\d{1,5}$/.test(value)) return `database ${JSON.stringify(value)} in the ${where} is not a whole number (a database index such as /0)`;
  }
  return path !== '' && db !== null ? 'a database both in the path and in ?db=; give it once' : undefined;
}

const URL_HINT = 'expected redis://[user:password@]host:port[/db], rediss://… for TLS, or redis+sentinel://[:password@]host:port[,host:port…]/master[/db]';

/** Reads REDIS_* into one RedisConfig; problems go into `env.problems`, each naming its variable. */
export function readRedisConfig(env: EnvReaders): RedisConfig | undefined {
  const { problems, given, read } = env;
  if (given('REDIS_URL') && given('REDIS_URL_FILE')) {
    problems.push('REDIS_URL: set both REDIS_URL and REDIS_URL_FILE; set only one');
    return undefined;
  }
  const modes = ['REDIS_CLUSTER_NODES', 'REDIS_SENTINELS', 'REDIS_URL', 'REDIS_URL_FILE'].filter(given);
  if (modes.length > 1) {
    problems.push(`${modes[0]}: set together with ${modes.slice(1).join(' and ')}; set only one of REDIS_URL (one node, or a redis+sentinel:// URL), REDIS_CLUSTER_NODES (Redis Cluster) or REDIS_SENTINELS (Sentinel)`);
    return undefined;
  }
  const username = read('REDIS_USERNAME', z.string().regex(/^\S{1,128}$/, 'expected a Redis ACL user name without spaces'));
  const password = env.secret('REDIS_PASSWORD');
  const sentinelPassword = env.secret('REDIS_SENTINEL_PASSWORD');
  const tlsFlag = read('REDIS_TLS', env.boolean);
  let sentinelName = read('REDIS_SENTINEL_NAME', z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, 'expected a Sentinel master name (letters, digits, _ . -)'));
  const auth: { username?: string; password?: SecretSource } = { ...(username ? { username } : {}), ...(password ? { password } : {}) };
  let tls = tlsFlag ?? false;
  let topology: RedisTopology | undefined;

  if (given('REDIS_CLUSTER_NODES')) {
    const nodes = read('REDIS_CLUSTER_NODES', endpoints(env.list, 6379));
    topology = nodes && { mode: 'cluster', nodes };
  } else if (given('REDIS_SENTINELS')) {
    const sentinels = read('REDIS_SENTINELS', endpoints(env.list, 26379));
    if (!given('REDIS_SENTINEL_NAME')) problems.push('REDIS_SENTINEL_NAME: is required with REDIS_SENTINELS; expected the master name the sentinels monitor (e.g. mymaster)');
    topology = sentinels && sentinelName ? { mode: 'sentinel', sentinels, masterName: sentinelName, db: 0 } : undefined;
    sentinelName = undefined;
  } else {
    const parsed = given('REDIS_URL_FILE') ? urlFromFile(env) : read('REDIS_URL', redisUrl, 'redis://127.0.0.1:6379');
    if (parsed?.mode === 'sentinel') {
      if (parsed.masterName && sentinelName) problems.push('REDIS_SENTINEL_NAME: set while REDIS_URL names the master too; set only one');
      const masterName = parsed.masterName ?? sentinelName;
      if (!masterName && !given('REDIS_SENTINEL_NAME')) problems.push('REDIS_SENTINEL_NAME: is required when the redis+sentinel:// REDIS_URL names no master; expected the master name (or redis+sentinel://host:port/mymaster)');
      if (parsed.password && password) problems.push('REDIS_PASSWORD: set while REDIS_URL carries a password; set only one');
      topology = masterName ? { mode: 'sentinel', sentinels: parsed.sentinels, masterName, db: parsed.db } : undefined;
      sentinelName = undefined;
      if (parsed.username && !username) auth.username = parsed.username;
      if (parsed.password && !password) auth.password = { name: 'REDIS_URL', kind: 'env', value: parsed.password };
      tls ||= parsed.tls;
    } else if (parsed) {
      if (password && new URL(parsed.url).password) problems.push('REDIS_PASSWORD: set while REDIS_URL carries a password; set only one');
      if (tlsFlag !== undefined) problems.push('REDIS_TLS: is for REDIS_CLUSTER_NODES and REDIS_SENTINELS; with REDIS_URL, rediss:// means TLS');
      topology = { mode: 'single', url: parsed.url };
      tls = parsed.url.startsWith('rediss:');
    }
  }
  if (sentinelName !== undefined) problems.push('REDIS_SENTINEL_NAME: is only used with REDIS_SENTINELS or a redis+sentinel:// REDIS_URL');
  if (sentinelPassword && topology?.mode !== 'sentinel' && modes[0] !== 'REDIS_SENTINELS') {
    problems.push('REDIS_SENTINEL_PASSWORD: is only used with Sentinel (REDIS_SENTINELS or a redis+sentinel:// REDIS_URL)');
  }
  if (!topology) return undefined;
  const withSentinelAuth = topology.mode === 'sentinel' && sentinelPassword ? { ...topology, sentinelPassword } : topology;
  return { ...withSentinelAuth, ...auth, tls };
}

/** REDIS_URL_FILE: the URL from a mounted Secret, so a password stays out of the ConfigMap; never echoed. */
function urlFromFile(env: EnvReaders): ParsedRedisUrl | undefined {
  const path = (env.read('REDIS_URL_FILE', z.string()) ?? '').trim();
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    env.problems.push(`REDIS_URL_FILE: cannot read ${JSON.stringify(path)} (${(err as NodeJS.ErrnoException).code ?? 'error'}); expected a path to a readable file holding the Redis URL`);
    return undefined;
  }
  const parsed = redisUrl.safeParse(variableText(text));
  if (parsed.success) return parsed.data;
  env.problems.push(`REDIS_URL_FILE: the file ${JSON.stringify(path)} does not hold a Redis URL (content not shown); ${URL_HINT}`);
  return undefined;
}

function fail(ctx: z.RefinementCtx, message: string): never {
  ctx.addIssue({ code: 'custom', message });
  return z.NEVER;
}
