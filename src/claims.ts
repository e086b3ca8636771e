// Per-task claims: the atomic, O(1)-per-task guard that keeps one task in at most one pending delete job.
import { redisScript, runScript } from './redis-scripts.js';
import type { RedisClient } from './redis.js';
import type { ProviderName } from './providers/catalog.js';
import { claimKeyFor, queueNameFor } from './queue.js';

/**
 * A claim is written before its job exists, so it starts provisional (it expires if the producer dies
 * before adding the job) and becomes permanent once the job is in Redis; the job's worker releases
 * it when the job settles. A permanent claim never expires while its job waits, however long.
 */
export const PROVISIONAL_CLAIM_MS = 60_000;

/**
 * KEYS: claim keys. ARGV[1]: job key prefix (`<prefix>:<queue>:`), ARGV[2]: provisional TTL in ms,
 * ARGV[2+i]: the job id meant for KEYS[i]. Returns, per key, '' when claimed for that job, or the
 * id of the job that holds it. A holder whose job hash has `finishedOn` has settled and is taken
 * over; a holder without a job hash is either being added (provisional claim, it keeps its TTL) or
 * was removed after settling (permanent claim), which is taken over. Every step is O(1).
 */
// Whether the claim at `key`, held by `holder`, may be taken by `mine` (ARGV[1] is the job key prefix).
const TAKEABLE = `
local function takeable(key, holder, mine)
  if not holder or holder == mine then return true end
  local job = ARGV[1] .. holder
  if redis.call('EXISTS', job) == 1 then return redis.call('HEXISTS', job, 'finishedOn') == 1 end
  return redis.call('PTTL', key) == -1
end`;

const CLAIM = redisScript(`${TAKEABLE}
local t = redis.call('TIME')
local out = {}
for i, key in ipairs(KEYS) do
  local mine = ARGV[2 + i]
  local holder = redis.call('GET', key)
  if holder ~= mine and takeable(key, holder, mine) then
    redis.call('SET', key, mine, 'PX', ARGV[2])
    out[i] = ''
  else
    out[i] = holder
  end
end
table.insert(out, t[1])
table.insert(out, t[2])
return out`);

/** All or nothing, for a job that already exists: ARGV[2] takes every claim (permanent), or the first live holder is returned. */
const RECLAIM = redisScript(`${TAKEABLE}
for i, key in ipairs(KEYS) do
  local holder = redis.call('GET', key)
  if not takeable(key, holder, ARGV[2]) then return {i, holder} end
end
for _, key in ipairs(KEYS) do redis.call('SET', key, ARGV[2]) end
return {}`);

/** Makes each claim still held by its job permanent; re-takes one that expired meanwhile. ARGV[i]: job id. */
const CONFIRM = redisScript(`
for i, key in ipairs(KEYS) do
  local holder = redis.call('GET', key)
  if holder == ARGV[i] then redis.call('PERSIST', key)
  elseif not holder then redis.call('SET', key, ARGV[i]) end
end
return 0`);

/** Drops each claim that still names the job (ARGV[1]); a claim already taken over stays. */
const RELEASE = redisScript(`
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) end
end
return 0`);

/** One task's intended job. */
export interface ClaimRequest {
  readonly taskId: string;
  readonly jobId: string;
}

/**
 * Claims every request in one atomic script. Returns, per request, undefined when claimed or the
 * holder's job id; and Redis's clock (ms) when it claimed them, which stamps the jobs' listing time.
 */
export async function claimTasks(
  redis: RedisClient, prefix: string, provider: ProviderName, target: string, requests: readonly ClaimRequest[],
): Promise<{ readonly holders: (string | undefined)[]; readonly redisMs: number }> {
  const keys = requests.map((r) => claimKeyFor(prefix, provider, target, r.taskId));
  const jobKeyPrefix = `${prefix}:${queueNameFor(provider)}:`;
  const answer = await runScript(redis, CLAIM, keys, [jobKeyPrefix, PROVISIONAL_CLAIM_MS, ...requests.map((r) => r.jobId)]) as string[];
  const [seconds, micros] = answer.slice(requests.length);
  return { holders: answer.slice(0, requests.length).map((holder) => (holder === '' ? undefined : holder)), redisMs: Number(seconds) * 1_000 + Number(micros) / 1_000 };
}

/**
 * For a job that exists already (a failed job retried by hand): takes every claim of `taskIds` for
 * it, or none and returns the first task held by a live job, with that job's id.
 */
export async function reclaimTasks(redis: RedisClient, prefix: string, provider: ProviderName, target: string, taskIds: readonly string[], jobId: string): Promise<{ taskId: string; holder: string } | undefined> {
  if (taskIds.length === 0) return undefined;
  const keys = taskIds.map((id) => claimKeyFor(prefix, provider, target, id));
  const [index, holder] = await runScript(redis, RECLAIM, keys, [`${prefix}:${queueNameFor(provider)}:`, jobId]) as [number?, string?];
  return index === undefined || holder === undefined ? undefined : { taskId: taskIds[index - 1] ?? '', holder };
}

/** Called once the claimed tasks' jobs are in Redis. */
export async function confirmClaims(redis: RedisClient, prefix: string, provider: ProviderName, target: string, requests: readonly ClaimRequest[]): Promise<void> {
  if (requests.length === 0) return;
  const keys = requests.map((r) => claimKeyFor(prefix, provider, target, r.taskId));
  await runScript(redis, CONFIRM, keys, requests.map((r) => r.jobId));
}

/** Called when a job has settled (or could not be added): its tasks may be claimed again. */
export async function releaseClaims(redis: RedisClient, prefix: string, provider: ProviderName, target: string, taskIds: readonly string[], jobId: string): Promise<void> {
  if (taskIds.length === 0) return;
  const keys = taskIds.map((id) => claimKeyFor(prefix, provider, target, id));
  await runScript(redis, RELEASE, keys, [jobId]);
}
