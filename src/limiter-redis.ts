// The shared budget store: src/budget.ts's steps as Lua scripts, atomic in Redis and timed by Redis's
// own clock (TIME), so every process and pod draws on one budget whatever their clocks say.
import { redisClockMs, type RedisClient } from './redis.js';
import { redisScript, runScript } from './redis-scripts.js';
import {
  ACCEPT_MARGIN, DECREASE_FACTOR, effectiveRate, FLOOR_FACTOR, GROWTH_PER_SECOND, MIN_PAUSE_MS, type BudgetParams, type BudgetState,
} from './budget.js';
import type { BudgetStore } from './limiter.js';

/** A budget left alone this long is forgotten: the next run starts at the configured rate. */
const STATE_TTL_MS = 3_600_000;

// Redis's clock in epoch ms, and the budget state every step reads.
const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000`;

const COMMON = `${NOW}
local max, dur = tonumber(ARGV[1]), tonumber(ARGV[2])
local s = redis.call('HMGET', KEYS[1], 'tat', 'rate', 'since', 'paused', 'cool')
local current = max
if s[2] then current = math.min(max, tonumber(s[2]) * math.pow(1 + ${GROWTH_PER_SECOND}, math.max(0, now - tonumber(s[3])) / 1000)) end
local paused = tonumber(s[4]) or 0
local function num(x) return string.format('%.3f', x) end
`;

// ARGV: max, durationMs, guardMs, then one maxWaitMs per caller (-1: no limit). Slots go to the callers
// in order, spaced as if each had reserved alone; a caller whose slot would lie beyond its maxWaitMs
// gets none. Returns {rate, pause left (ms), then granted 0|1, waitMs, slot per caller}.
const RESERVE = `${COMMON}
local spacing = (dur + tonumber(ARGV[3])) / current
local slot = math.max(tonumber(s[1]) or 0, now, paused)
local out = {num(current), num(math.max(0, paused - now))}
local granted, bucket, inBucket = 0, nil, 0
local function count() if inBucket > 0 then redis.call('INCRBY', bucket, inBucket) redis.call('PEXPIRE', bucket, dur * 3) end end
for i = 4, #ARGV do
  local maxWait = tonumber(ARGV[i])
  if maxWait >= 0 and slot - now > maxWait then
    table.insert(out, 0) table.insert(out, num(slot - now)) table.insert(out, num(slot))
  else
    table.insert(out, 1) table.insert(out, num(slot - now)) table.insert(out, num(slot))
    local b = KEYS[1] .. ':g:' .. math.floor(slot / dur)
    if b ~= bucket then count() bucket, inBucket = b, 0 end
    inBucket = inBucket + 1
    granted = granted + 1
    slot = slot + spacing
  end
end
count()
if granted > 0 then
  redis.call('HSET', KEYS[1], 'tat', num(slot))
  if s[2] and current >= max then redis.call('HDEL', KEYS[1], 'rate', 'since') end
  redis.call('PEXPIRE', KEYS[1], ${STATE_TTL_MS})
end
return out`;

// ARGV: max, durationMs, minRate, retryAfterMs (-1: none). Returns {pauseMs, rate}.
const THROTTLED = `${COMMON}
local w = math.floor(now / dur)
local tkey = KEYS[1] .. ':t:' .. w
redis.call('INCR', tkey)
redis.call('PEXPIRE', tkey, dur * 3)
local retry = tonumber(ARGV[4])
if now < (tonumber(s[5]) or 0) then
  if retry >= 0 and now + retry > paused then
    paused = now + retry
    redis.call('HSET', KEYS[1], 'paused', num(paused))
  end
  return {num(math.max(0, paused - now)), num(current)}
end
local function count(k) return tonumber(redis.call('GET', k) or '0') end
local p = KEYS[1]
local accepted = math.max(count(p .. ':g:' .. w) - count(p .. ':t:' .. w), count(p .. ':g:' .. (w - 1)) - count(p .. ':t:' .. (w - 1)))
local guided = math.max(accepted * ${ACCEPT_MARGIN}, current * ${FLOOR_FACTOR})
local rate = math.max(tonumber(ARGV[3]), math.min(current * ${DECREASE_FACTOR}, guided))
local pause = retry
if retry < 0 then pause = math.max(${MIN_PAUSE_MS}, dur * (1 - rate / current)) end
paused = math.max(paused, now + pause)
local cool = math.max(paused, now + dur)
redis.call('HSET', KEYS[1], 'rate', num(rate), 'since', num(cool), 'paused', num(paused), 'cool', num(cool))
redis.call('PEXPIRE', KEYS[1], ${STATE_TTL_MS})
return {num(paused - now), num(rate)}`;

// ARGV: pauseMs. An unpaced budget has no rate to lower: its pause only grows. Returns the pause left (ms).
const PAUSE = `${NOW}
local paused = math.max(tonumber(redis.call('HGET', KEYS[1], 'paused')) or 0, now + tonumber(ARGV[1]))
redis.call('HSET', KEYS[1], 'paused', string.format('%.3f', paused))
redis.call('PEXPIRE', KEYS[1], ${STATE_TTL_MS})
return string.format('%.3f', paused - now)`;

const SCRIPTS = { reserve: redisScript(RESERVE), throttled: redisScript(THROTTLED), pause: redisScript(PAUSE) };

export class RedisBudgetStore implements BudgetStore {
  /** `owned`: the store opened this connection and quits it on close. */
  constructor(private readonly redis: RedisClient, private readonly options: { readonly owned?: boolean } = {}) {}

  private async run(script: keyof typeof SCRIPTS, key: string, args: readonly (string | number)[]): Promise<string[]> {
    return await runScript(this.redis, SCRIPTS[script], [key], args) as string[];
  }

  async reserve(key: string, params: BudgetParams, maxWaitsMs: readonly number[]) {
    const waits = maxWaitsMs.map((ms) => (Number.isFinite(ms) ? ms : -1));
    const [rate, pausedMs, ...answers] = await this.run('reserve', key, [params.max, params.durationMs, params.guardMs, ...waits]);
    const slots = waits.map((_, i) => ({ refused: Number(answers[3 * i]) !== 1, waitMs: Number(answers[3 * i + 1]), slot: Number(answers[3 * i + 2]) }));
    return { rate: Number(rate), pausedMs: Number(pausedMs), slots };
  }

  async throttled(key: string, params: BudgetParams, retryAfterMs: number | undefined) {
    const [pauseMs, rate] = await this.run('throttled', key, [params.max, params.durationMs, params.minRate, retryAfterMs ?? -1]);
    return { pauseMs: Number(pauseMs), rate: Number(rate) };
  }

  async pause(key: string, pauseMs: number): Promise<number> {
    return Number(await runScript(this.redis, SCRIPTS.pause, [key], [pauseMs]));
  }

  async read(key: string, params: BudgetParams): Promise<BudgetState> {
    const [now, fields] = await Promise.all([redisClockMs(this.redis), this.redis.hmget(key, 'tat', 'rate', 'since', 'paused', 'cool')]);
    const [tat, rate, since, paused, cool] = fields.map((f) => (f === null ? undefined : Number(f)));
    const state = { tat: tat ?? 0, rate, since: since ?? 0, pausedUntil: paused ?? 0, coolUntil: cool ?? 0 };
    // Report the pause on this machine's clock, as callers compare it with Date.now().
    return { ...state, rate: effectiveRate(state, params, now), pausedUntil: state.pausedUntil > now ? Date.now() + state.pausedUntil - now : 0 };
  }

  async close(): Promise<void> {
    if (this.options.owned) await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
