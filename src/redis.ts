// Redis connections: a fast reachability check at start (exit 3 instead of a hang), the long-lived connection, prefix cleanup.
import { Redis } from 'ioredis';

/** Thrown when a dependency (Redis, a provider's list API) cannot be reached; main exits 3. */
export class DependencyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DependencyError';
  }
}

/** Strips the password from a redis URL so it can be printed. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'redis://(unparseable)';
  }
}

/** Pings Redis once with a short timeout and no reconnects; throws DependencyError within seconds. */
export async function assertRedisReachable(url: string, timeoutMs = 3_000): Promise<void> {
  const probe = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  probe.on('error', () => undefined); // reported through the rejected connect below
  try {
    await probe.connect();
    await probe.ping();
  } catch (err) {
    throw new DependencyError(`Redis at ${redactRedisUrl(url)} is unreachable: ${(err as Error).message}`);
  } finally {
    probe.disconnect();
  }
}

/** Deletes every key under a queue prefix, in batches (never FLUSHALL: the server may be shared). */
export async function dropQueuePrefix(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** The shared connection for queues and claims. BullMQ requires maxRetriesPerRequest: null. */
export function openRedis(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, enableAutoPipelining: true });
}
