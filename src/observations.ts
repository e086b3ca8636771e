// Observed mode (P_AGE_FROM=observed): when the janitor first saw each task terminal, one Redis hash per provider target.
import { redisScript, runScript } from './redis-scripts.js';
import { isInSelectedStates, type PolicyRule } from './policy.js';
import type { ProviderName } from './providers/catalog.js';
import type { CloudTask } from './providers/provider.js';
import { queueNameFor } from './queue.js';
import type { RedisClient } from './redis.js';

/**
 * The hash of one target, under the queue prefix (so its hash tag puts it in the queues' cluster
 * slot). Field: task id. Value: `<first seen terminal>:<last seen terminal>`, epoch seconds: the
 * first is the age reference, the second lets a complete listing drop records of vanished tasks.
 */
export function observationKeyFor(prefix: string, provider: ProviderName, target: string): string {
  return `${prefix}:${queueNameFor(provider)}:observed:${target}`;
}

/**
 * One page, atomically. ARGV[1]: now (s), ARGV[2]: n, ARGV[3..2+n]: tasks seen terminal (a record is
 * kept, or started now; its last sighting becomes now), ARGV[3+n..]: tasks seen in any other state
 * (their record is dropped: restarted, resumed, retried). Returns each terminal task's first sighting.
 */
const OBSERVE = redisScript(`
local now = ARGV[1]
local n = tonumber(ARGV[2])
local out = {}
for i = 1, n do
  local id = ARGV[2 + i]
  local first = string.match(redis.call('HGET', KEYS[1], id) or '', '^(%d+):') or now
  redis.call('HSET', KEYS[1], id, first .. ':' .. now)
  out[i] = first
end
for i = 3 + n, #ARGV do redis.call('HDEL', KEYS[1], ARGV[i]) end
return out`);

/** ARGV[1]: the listing's start (s); ARGV[2..]: fields. Drops each not seen terminal since then (or unreadable). */
const SWEEP = redisScript(`
local dropped = 0
for i = 2, #ARGV do
  local value = redis.call('HGET', KEYS[1], ARGV[i])
  local last = value and tonumber(string.match(value, ':(%d+)$'))
  if value and (not last or last < tonumber(ARGV[1])) then
    redis.call('HDEL', KEYS[1], ARGV[i])
    dropped = dropped + 1
  end
end
return dropped`);

const SWEEP_BATCH = 1_000;

/**
 * How a listing may use the sightings: `record` (a real run: reads and writes), `read` (a dry run
 * with Redis, or a counting pass: reads what real runs recorded, writes nothing).
 */
export interface SightingAccess {
  readonly redis: RedisClient;
  readonly access: 'record' | 'read';
}

/** One page's first sightings of its terminal tasks, by task id. */
/**
 * One page's first sightings, recorded at `now` (or, with `record` false, only read: while the
 * provider's clock says this machine's is wrong, a sighting dated on it would misstate ages later).
 */
export type PageSightings = (page: readonly CloudTask[], now: Date, record?: boolean) => Promise<ReadonlyMap<string, Date>>;

/**
 * For an observed-mode rule, what the listing calls per page: records the page's sightings (one
 * atomic script) or only reads them. Undefined in documented mode, or without access to Redis
 * (then every terminal task counts as seen just now).
 */
export function pageSightings(access: SightingAccess | undefined, prefix: string, provider: ProviderName, target: string, rule: PolicyRule): PageSightings | undefined {
  if (rule.ageFrom !== 'observed' || !access) return undefined;
  return async (page, now, record = true) => {
    const terminal = page.filter((t) => isInSelectedStates(t, rule)).map((t) => t.id);
    if (access.access === 'read') return readSightings(access.redis, prefix, provider, target, terminal);
    const others = page.filter((t) => t.id.trim() !== '' && !isInSelectedStates(t, rule)).map((t) => t.id);
    if (record) return recordSightings(access.redis, prefix, provider, target, terminal, others, now);
    // A disputed clock: nothing is dated on it, but a task seen running again still loses its record.
    await forgetSightings(access.redis, prefix, provider, target, others);
    return readSightings(access.redis, prefix, provider, target, terminal);
  };
}

const seconds = (at: Date) => Math.floor(at.getTime() / 1000);

/** The first sighting from a stored value (`first:last`) or from OBSERVE's answer (`first`). */
function firstSightingOf(value: string | null | undefined): Date | undefined {
  const match = /^(\d+)(?::\d+)?$/.exec(value ?? '');
  return match ? new Date(Number(match[1]) * 1000) : undefined;
}

/**
 * A real run's sightings of one page: starts or keeps the record of every task in `terminalIds`,
 * drops those of `otherIds`; returns when each terminal task was first seen terminal.
 */
export async function recordSightings(
  redis: RedisClient, prefix: string, provider: ProviderName, target: string, terminalIds: readonly string[], otherIds: readonly string[], now: Date,
): Promise<Map<string, Date>> {
  if (terminalIds.length === 0 && otherIds.length === 0) return new Map();
  const key = observationKeyFor(prefix, provider, target);
  const firsts = await runScript(redis, OBSERVE, [key], [seconds(now), terminalIds.length, ...terminalIds, ...otherIds]) as string[];
  return sightingsOf(terminalIds, firsts);
}

/** A dry run's view: the recorded first sightings of `ids`, written by real runs; changes nothing. */
export async function readSightings(redis: RedisClient, prefix: string, provider: ProviderName, target: string, ids: readonly string[]): Promise<Map<string, Date>> {
  if (ids.length === 0) return new Map();
  const values = await redis.hmget(observationKeyFor(prefix, provider, target), ...ids);
  return sightingsOf(ids, values);
}

function sightingsOf(ids: readonly string[], values: readonly (string | null | undefined)[]): Map<string, Date> {
  const out = new Map<string, Date>();
  ids.forEach((id, i) => {
    const first = firstSightingOf(values[i]);
    if (first) out.set(id, first);
  });
  return out;
}

/** The worker's check just before a delete: when the task was first seen terminal, or undefined without a record. */
export async function firstSeenTerminal(redis: RedisClient, prefix: string, provider: ProviderName, target: string, taskId: string): Promise<Date | undefined> {
  return firstSightingOf(await redis.hget(observationKeyFor(prefix, provider, target), taskId));
}

/** Drops the records of tasks deleted, gone, or seen in a non-selected state again. */
export async function forgetSightings(redis: RedisClient, prefix: string, provider: ProviderName, target: string, taskIds: readonly string[]): Promise<void> {
  if (taskIds.length > 0) await redis.hdel(observationKeyFor(prefix, provider, target), ...taskIds);
}

/**
 * After a COMPLETE listing of the target that started at `listingStartedAt`: drops every record not
 * seen terminal since (the task vanished, or was not listed). Never call it after a partial listing.
 * Walks the hash in batches (HSCAN), each checked and dropped atomically; returns how many it dropped.
 */
export async function sweepSightings(redis: RedisClient, prefix: string, provider: ProviderName, target: string, listingStartedAt: Date): Promise<number> {
  const key = observationKeyFor(prefix, provider, target);
  let cursor = '0';
  let dropped = 0;
  do {
    const [next, flat] = await redis.hscan(key, cursor, 'COUNT', SWEEP_BATCH);
    cursor = next;
    const fields = flat.filter((_, i) => i % 2 === 0);
    if (fields.length > 0) dropped += await runScript(redis, SWEEP, [key], [seconds(listingStartedAt), ...fields]) as number;
  } while (cursor !== '0');
  return dropped;
}

/** Documented mode keeps no record: a hash left from observed mode is dropped, so records that went unmaintained are never trusted later. */
export async function dropSightings(redis: RedisClient, prefix: string, provider: ProviderName, target: string): Promise<void> {
  await redis.del(observationKeyFor(prefix, provider, target));
}
