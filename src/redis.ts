// The one Redis connection factory (one node, Redis Cluster or Sentinel, from config), the start-up
// reachability probe (exit 3 instead of a hang), and prefix cleanup.
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { ConfigError, type RedisConfig } from './config.js';
import { optionalSecretReader } from './providers/credentials.js';
import { redactText } from './redact.js';
import { redisCause, watchRedisErrors } from './redis-errors.js';

/** Thrown when a dependency (Redis, a provider's list API) cannot be reached; main exits 3. */
export class DependencyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DependencyError';
  }
}

/** A connection to a single node or Sentinel-managed master (Redis), or to a Redis Cluster. */
export type RedisClient = Redis | Cluster;

/**
 * What each connection is for:
 * - shared: queues, claims, job reads and call budgets. Every command is bounded (REDIS_COMMAND_TIMEOUT_MS,
 *   and a failed reconnect fails it), so a Redis that is gone for good cannot keep a run past its
 *   deadline or its signal; BullMQ needs `maxRetriesPerRequest: null` only on blocking connections.
 * - worker: a lazy template for Worker and QueueEvents, which duplicate it into their own
 *   blocking connections (and close those); the template itself never connects.
 * - probe: fails within the timeout, no reconnects, no offline queue.
 * - admin: short maintenance commands (prefix cleanup), bounded like shared ones.
 */
export type RedisPurpose = 'shared' | 'worker' | 'probe' | 'admin';

/** The longest any non-blocking Redis command may wait (queued while reconnecting, or unanswered). */
export const REDIS_COMMAND_TIMEOUT_MS = 5_000;

// Options that ioredis's Cluster takes at its own level; the rest go to each node's connection.
const CLUSTER_LEVEL = ['lazyConnect', 'enableAutoPipelining', 'enableOfflineQueue'] as const;

/** The connection options of each purpose (exported for the tests that prove every wait is bounded). */
export function tuningFor(purpose: RedisPurpose, timeoutMs = 3_000): RedisOptions {
  switch (purpose) {
    case 'shared': return { maxRetriesPerRequest: 1, commandTimeout: REDIS_COMMAND_TIMEOUT_MS, enableAutoPipelining: true };
    case 'worker': return { maxRetriesPerRequest: null, lazyConnect: true };
    case 'admin': return { maxRetriesPerRequest: 1, commandTimeout: REDIS_COMMAND_TIMEOUT_MS };
    case 'probe': return {
      lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 0, enableOfflineQueue: false,
      retryStrategy: () => null, sentinelRetryStrategy: () => null,
    };
  }
}

/** Opens a connection for `purpose` to the configured Redis; passwords are read from env or file now. */
export function createRedisClient(redis: RedisConfig, purpose: RedisPurpose, timeoutMs = 3_000): RedisClient {
  const auth: RedisOptions = {
    ...(redis.username ? { username: redis.username } : {}),
    ...(redis.password ? { password: optionalSecretReader(redis.password)() } : {}),
    ...(redis.tls ? { tls: {} } : {}),
  };
  const tuning = tuningFor(purpose, timeoutMs);
  switch (redis.mode) {
    case 'single':
      // A password inside the URL stays; REDIS_PASSWORD(_FILE) is refused with one by the config.
      return new Redis(redis.url, { ...auth, ...tuning });
    case 'sentinel':
      return new Redis({
        sentinels: redis.sentinels.map((s) => ({ ...s })), name: redis.masterName, db: redis.db, ...auth, ...tuning,
        ...(redis.sentinelPassword ? { sentinelPassword: optionalSecretReader(redis.sentinelPassword)() } : {}),
        ...(redis.tls ? { enableTLSForSentinelMode: true, sentinelTLS: {} } : {}),
      });
    case 'cluster': {
      const nodeOptions: RedisOptions = { ...auth, ...tuning };
      const clusterOptions: ClusterOptions = {};
      for (const key of CLUSTER_LEVEL) {
        if (key in nodeOptions) Object.assign(clusterOptions, { [key]: nodeOptions[key] });
        delete nodeOptions[key];
      }
      return new Cluster(redis.nodes.map((n) => ({ ...n })), {
        ...clusterOptions, redisOptions: nodeOptions,
        ...(purpose === 'probe' ? { clusterRetryStrategy: () => null } : {}),
        // Managed TLS clusters announce node IPs their certificate does not name: connect by the
        // given host names (ioredis docs, "Special note: AWS ElastiCache Clusters with TLS").
        ...(redis.tls ? { dnsLookup: (address: string, done: (err: Error | null, family: string) => void) => done(null, address) } : {}),
      });
    }
  }
}

/** Where Redis is, for logs and errors: never a password. */
export function describeRedis(redis: RedisConfig): string {
  const list = (nodes: readonly { host: string; port: number }[]) => nodes.map((n) => `${n.host}:${n.port}`).join(',');
  switch (redis.mode) {
    case 'single': return redactText(redis.url);
    case 'cluster': return `Redis Cluster ${list(redis.nodes)}`;
    case 'sentinel': return `Sentinel master ${redis.masterName} via ${list(redis.sentinels)}`;
  }
}

/** A one-node RedisConfig from a URL (tests, the demo, the throwaway local server). */
export function singleNode(url: string): RedisConfig {
  return { mode: 'single', url, tls: url.startsWith('rediss:') };
}

/** Pings Redis once with a short timeout and no reconnects; throws DependencyError within seconds. */
export async function assertRedisReachable(redis: RedisConfig, timeoutMs = 3_000): Promise<void> {
  const probe = createRedisClient(redis, 'probe', timeoutMs);
  watchRedisErrors(probe, () => undefined); // its cause is named by the rejected connect below
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs * 2);
  });
  try {
    const clusterNode = await Promise.race([checkTopology(probe, redis), deadline]);
    if (clusterNode) {
      throw new DependencyError(`Redis at ${describeRedis(redis)} is a Redis Cluster node; set REDIS_CLUSTER_NODES=host:port,… instead of REDIS_URL`);
    }
  } catch (err) {
    if (err instanceof DependencyError || err instanceof ConfigError) throw err;
    throw new DependencyError(`Redis at ${describeRedis(redis)} is unreachable: ${redisCause(err, probe)}`);
  } finally {
    clearTimeout(timer);
    probe.disconnect();
  }
}

/** Connects and pings; true when a one-node URL points at a cluster node (every script would fail). */
async function checkTopology(probe: RedisClient, redis: RedisConfig): Promise<boolean> {
  await probe.connect();
  await probe.ping();
  if (probe instanceof Cluster) return false;
  await checkDatabase(probe, redis);
  const info = await probe.info('cluster').catch(() => '');
  return /cluster_enabled:1/.test(info) && !probe.options.sentinels;
}

/**
 * The configured database must exist: ioredis selects it in the background and only reports a
 * refusal as an error event, after which every command would run against database 0. Selected
 * here so a number the server does not have is a configuration error (exit 2), named.
 */
async function checkDatabase(probe: Redis, redis: RedisConfig): Promise<void> {
  const db = probe.options.db ?? 0;
  if (db === 0) return;
  try {
    await probe.select(db);
  } catch (err) {
    if (!/DB index is out of range|invalid DB index/i.test((err as Error).message)) throw err;
    throw new ConfigError([`REDIS_URL: database ${db} does not exist on ${describeRedis(redis)} (${(err as Error).message}); expected a database index below the server's "databases" setting (16 by default)`]);
  }
}

/** Deletes every key under a queue prefix, in batches (never FLUSHALL: the server may be shared). */
export async function dropQueuePrefix(redis: RedisConfig | string, prefix: string): Promise<void> {
  const client = createRedisClient(typeof redis === 'string' ? singleNode(redis) : redis, 'admin');
  try {
    // A cluster's keys live on its masters: scan each one; delete key by key (keys may span slots).
    await client.ping(); // a cluster knows its masters once connected
    const nodes = client instanceof Cluster ? client.nodes('master') : [client];
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
        if (keys.length > 0) await Promise.all(keys.map((key) => client.unlink(key)));
        cursor = next;
      } while (cursor !== '0');
    }
  } finally {
    client.disconnect();
  }
}

/** Redis's own clock (TIME) in epoch ms: one clock for every process and pod that shares the server. */
export async function redisClockMs(redis: RedisClient): Promise<number> {
  const [seconds, micros] = await redis.time();
  return Number(seconds) * 1_000 + Number(micros) / 1_000;
}

/** A lazy template for BullMQ Workers and QueueEvents (maxRetriesPerRequest: null, never connects itself). */
export function workerConnection(redis: RedisConfig): RedisClient {
  return createRedisClient(redis, 'worker');
}

/** The shared connection for queues and claims. */
export function openRedis(redis: RedisConfig): RedisClient {
  return createRedisClient(redis, 'shared');
}
