// Real Redis for tests: REDIS_URL or the local server, isolated by a unique queue prefix per test.
import { randomBytes } from 'node:crypto';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export function uniquePrefix(label: string): string {
  return `jt-${label}-${randomBytes(4).toString('hex')}`;
}

/** Every key under `prefix` with its whole value as text (strings, hashes, lists, sets, sorted sets, streams), for tests that search Redis for a value. */
export async function redisTextUnder(prefix: string, url = REDIS_URL): Promise<string> {
  const { Redis } = await import('ioredis');
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    const parts: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      for (const key of keys) {
        const type = await client.type(key);
        const value = type === 'string' ? await client.get(key)
          : type === 'hash' ? await client.hgetall(key)
            : type === 'list' ? await client.lrange(key, 0, -1)
              : type === 'set' ? await client.smembers(key)
                : type === 'zset' ? await client.zrange(key, '0', '-1')
                  : type === 'stream' ? await client.xrange(key, '-', '+') : null;
        parts.push(`${key} ${JSON.stringify(value)}`);
      }
      cursor = next;
    } while (cursor !== '0');
    return parts.join('\n');
  } finally {
    client.disconnect();
  }
}
