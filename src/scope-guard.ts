// One queue prefix, one scope. Two deployments with different targets on the same queues (two
// regions left on the default prefix) would each have their workers fail the other's jobs as out of
// scope. Every process that opens the queues registers its scope with a heartbeat and refuses to
// start beside a live process of another scope, or over pending jobs of targets outside its own.
import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import { ConfigError, type Config } from './config.js';
import type { ProviderName } from './providers/catalog.js';
import { jobIdPrefixFor, type DeleteJobData } from './queue.js';
import { redisClockMs, type RedisClient } from './redis.js';
import type { Shutdown } from './shutdown.js';
import { formatDuration } from './units.js';

/** How often a running process renews its registration, and how long one counts as alive after that. */
export const HEARTBEAT_MS = 15_000;
export const LIVE_MS = 45_000;
/** A registration not renewed for this long (a killed pod) is removed by the next process that looks. */
const FORGET_MS = 3_600_000;
/** Pending job ids read per provider queue at start, at most (ids only: no job hash is read). */
const MAX_IDS_SCANNED = 1_000_000;
const CHUNK = 10_000;

interface Registration {
  /** Targets per provider of the registering process. */
  readonly scope: Partial<Record<ProviderName, readonly string[]>>;
  /** Redis time (ms) of the last heartbeat. */
  readonly at: number;
}

export function registryKey(prefix: string): string {
  return `${prefix}:deployments`;
}

/**
 * Registers this process's scope, then refuses (ConfigError, exit 2) when another live process on
 * the same prefix has a different scope for a shared provider, or when a queue holds pending jobs
 * of targets outside this scope. Registering before checking makes two processes starting at once
 * both see each other (both refuse) rather than both miss each other.
 */
export async function guardDeploymentScope(
  config: Config, redis: RedisClient, queues: ReadonlyMap<ProviderName, Queue<DeleteJobData>>, shutdown: Shutdown,
): Promise<void> {
  const key = registryKey(config.queuePrefix);
  const field = randomUUID();
  const scope = Object.fromEntries(config.providers.map((pc) => [pc.name, [...pc.targets].sort()]));
  const beat = async () => redis.hset(key, field, JSON.stringify({ scope, at: await redisClockMs(redis) } satisfies Registration));
  await beat();
  const unregister = async () => { await redis.hdel(key, field); };
  try {
    const problems = [...await liveConflicts(config, redis, key, field), ...await foreignPendingJobs(config, redis, queues)];
    if (problems.length > 0) throw new ConfigError(problems);
  } catch (err) {
    await unregister().catch(() => undefined);
    throw err;
  }
  const timer = setInterval(() => { beat().catch(() => undefined); }, HEARTBEAT_MS);
  timer.unref();
  // With intake, first: once this process takes no new job, another scope may start; waiting for
  // the close steps could leave the registration behind when the grace runs out.
  shutdown.onStop('scope registration', async () => {
    clearInterval(timer);
    await unregister();
  });
}

const sameTargets = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((t, i) => t === b[i]);

async function liveConflicts(config: Config, redis: RedisClient, key: string, own: string): Promise<string[]> {
  const [registrations, now] = await Promise.all([redis.hgetall(key), redisClockMs(redis)]);
  const problems: string[] = [];
  const forgotten: string[] = [];
  for (const [field, raw] of Object.entries(registrations)) {
    if (field === own) continue;
    let other: Registration;
    try {
      other = JSON.parse(raw) as Registration;
    } catch {
      forgotten.push(field);
      continue;
    }
    const age = now - other.at;
    if (age > FORGET_MS) forgotten.push(field);
    if (age > LIVE_MS) continue;
    for (const pc of config.providers) {
      const theirs = other.scope[pc.name];
      const mine = [...pc.targets].sort();
      if (!theirs || sameTargets(theirs, mine)) continue;
      problems.push(`JANITOR_QUEUE_PREFIX: queue prefix "${config.queuePrefix}" is in use by another process with a different ${pc.name} scope `
        + `(targets ${theirs.join(', ')} there; ${mine.join(', ')} here; seen ${formatDuration(Math.max(0, age))} ago). The workers of each would fail `
        + `the other's jobs as out of scope: give each deployment its own JANITOR_QUEUE_PREFIX (e.g. ${config.queuePrefix}-<region>), or the same targets`);
    }
  }
  if (forgotten.length > 0) await redis.hdel(key, ...forgotten);
  return problems;
}

/**
 * Pending jobs (waiting, delayed, prioritized, paused, active) whose id does not start with one of
 * this scope's targets. Only ids are read; the few foreign jobs named in the message are read whole.
 */
async function foreignPendingJobs(config: Config, redis: RedisClient, queues: ReadonlyMap<ProviderName, Queue<DeleteJobData>>): Promise<string[]> {
  const problems: string[] = [];
  for (const pc of config.providers) {
    const queue = queues.get(pc.name);
    if (!queue) continue;
    const ownPrefixes = pc.targets.map((t) => jobIdPrefixFor(pc.name, t));
    const foreign: string[] = [];
    let scanned = 0;
    for await (const ids of pendingJobIds(redis, queue)) {
      scanned += ids.length;
      for (const id of ids) if (!ownPrefixes.some((p) => id.startsWith(p))) foreign.push(id);
      if (scanned >= MAX_IDS_SCANNED) break;
    }
    if (foreign.length === 0) continue;
    const targets = new Set<string>();
    for (const id of foreign.slice(0, 20)) {
      const data = await redis.hget(queue.toKey(id), 'data');
      const target = data ? (JSON.parse(data) as Partial<DeleteJobData>).target : undefined;
      if (typeof target === 'string') targets.add(target);
    }
    problems.push(`JANITOR_QUEUE_PREFIX: queue ${queue.name} (prefix "${config.queuePrefix}") holds ${foreign.length} pending delete job(s) for targets outside `
      + `this deployment's ${pc.name} scope (${[...targets].join(', ') || 'unreadable'}). Another deployment, or this one before its targets changed, queued them, and `
      + `these workers would fail them as out of scope: give each deployment its own JANITOR_QUEUE_PREFIX; after changing targets on purpose, use a new prefix or let `
      + `the old jobs settle first (run once more with the previous targets)`);
  }
  return problems;
}

async function* pendingJobIds(redis: RedisClient, queue: Queue<DeleteJobData>): AsyncGenerator<string[]> {
  for (const list of ['wait', 'paused', 'active']) {
    for (let start = 0; ; start += CHUNK) {
      const ids = await redis.lrange(queue.toKey(list), start, start + CHUNK - 1);
      if (ids.length > 0) yield ids;
      if (ids.length < CHUNK) break;
    }
  }
  for (const set of ['delayed', 'prioritized']) {
    for (let start = 0; ; start += CHUNK) {
      const ids = await redis.zrange(queue.toKey(set), String(start), String(start + CHUNK - 1));
      if (ids.length > 0) yield ids;
      if (ids.length < CHUNK) break;
    }
  }
}
