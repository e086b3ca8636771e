// Names what went wrong with Redis, in one place: the component (where Redis is) and the real cause
// (NOAUTH/WRONGPASS, OOM, READONLY, ECONNREFUSED…) instead of the client's "Connection is closed.".
import type { RedisClient } from './redis.js';

/** Reply codes Redis starts an error with, and what each means for an operator. */
const REPLY_CAUSES: Record<string, string> = {
  WRONGPASS: 'authentication failed (WRONGPASS): the password or user name is wrong (REDIS_PASSWORD, REDIS_USERNAME or the URL)',
  NOAUTH: 'authentication required (NOAUTH): Redis wants a password; set REDIS_PASSWORD or put it in the URL',
  NOPERM: 'permission denied (NOPERM): the Redis ACL user may not run this command or touch these keys',
  OOM: 'out of memory (OOM): Redis reached maxmemory and refuses writes; raise maxmemory or free memory (BullMQ needs maxmemory-policy noeviction)',
  READONLY: 'read-only replica (READONLY): the address points at a replica, or a failover is under way; point it at the master',
  LOADING: 'still loading its data set (LOADING): Redis is starting; retry shortly',
  MASTERDOWN: 'master down (MASTERDOWN): the replica lost its master',
  CLUSTERDOWN: 'cluster down (CLUSTERDOWN): the Redis Cluster is not serving every slot',
  MISCONF: 'cannot persist (MISCONF): Redis refuses writes because its last snapshot failed',
};

/** Socket error codes and what they mean. */
const SOCKET_CAUSES: Record<string, string> = {
  ECONNREFUSED: 'connection refused (ECONNREFUSED): nothing listens there',
  ENOTFOUND: 'host not found (ENOTFOUND)',
  EAI_AGAIN: 'host name lookup failed (EAI_AGAIN)',
  ETIMEDOUT: 'no answer (ETIMEDOUT)',
  ECONNRESET: 'connection reset (ECONNRESET)',
  EHOSTUNREACH: 'host unreachable (EHOSTUNREACH)',
  EPIPE: 'connection broken (EPIPE)',
};

// What ioredis says when a command fails because of the connection, not because of Redis's answer.
const CONNECTION_MESSAGES = [/^Connection is closed\.?$/, /^Command timed out$/, /^Stream isn't writeable/, /^Reached the max retries per request limit/, /^None of the sentinels are available/, /^Failed to refresh slots cache/, /^All sentinels are unreachable/];

// The last connection error each client reported: a failed command only says "Connection is closed.".
const lastErrors = new WeakMap<object, Error>();

/** Remembers `client`'s connection errors for describeRedisError, and passes each to `onError` (a log). */
export function watchRedisErrors(client: RedisClient, onError: (err: Error) => void): void {
  client.on('error', (err: Error) => {
    lastErrors.set(client, err);
    onError(err);
  });
}

function replyCode(err: Error): string | undefined {
  const code = /^([A-Z]{2,})\b/.exec(err.message)?.[1];
  return code !== undefined && (err.name === 'ReplyError' || code in REPLY_CAUSES) ? code : undefined;
}

/** Whether `err` came from Redis or its client (a refused command, a lost connection), not from a provider. */
export function isRedisError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.cause instanceof Error) return isRedisError(err.cause);
  return err.name === 'ReplyError' || err.name === 'MaxRetriesPerRequestError' || err.name === 'ClusterAllFailedError'
    || CONNECTION_MESSAGES.some((m) => m.test(err.message));
}

/** The cause of a Redis failure in words; `client` lends its last connection error when `err` says only "closed". */
export function redisCause(err: unknown, client?: RedisClient): string {
  if (!(err instanceof Error)) return String(err);
  if (err.cause instanceof Error && isRedisError(err.cause)) return redisCause(err.cause, client);
  const code = replyCode(err);
  if (code !== undefined) return REPLY_CAUSES[code] ?? `refused the command (${code}): ${err.message}`;
  const socket = (err as NodeJS.ErrnoException).code;
  if (socket !== undefined && socket in SOCKET_CAUSES) return SOCKET_CAUSES[socket] ?? socket;
  const last = client && lastErrors.get(client);
  if (last && last !== err && CONNECTION_MESSAGES.some((m) => m.test(err.message))) return redisCause(last);
  if (/^Command timed out$/.test(err.message)) return 'no answer within the command timeout (Redis overloaded, or the connection is lost)';
  if (CONNECTION_MESSAGES.some((m) => m.test(err.message))) return 'connection lost (no reconnect succeeded)';
  return err.message;
}

/** `Redis at <where>: <cause>`: the component and the real cause, never a password (`where` comes from describeRedis). */
export function describeRedisError(where: string, err: unknown, client?: RedisClient): string {
  return `Redis at ${where}: ${redisCause(err, client)}`;
}
