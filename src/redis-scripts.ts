// Lua scripts sent by digest: EVALSHA, and the script itself only when Redis does not hold it yet
// (a new or restarted server), so a busy worker does not send and hash the same text on every call.
import { createHash } from 'node:crypto';
import type { RedisClient } from './redis.js';

export interface RedisScript {
  readonly lua: string;
  readonly sha: string;
}

export function redisScript(lua: string): RedisScript {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') };
}

/** Runs `script` over `keys` and `args`, as EVAL would. */
export async function runScript(redis: RedisClient, script: RedisScript, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
  try {
    return await redis.evalsha(script.sha, keys.length, ...keys, ...args);
  } catch (err) {
    if (!(err as Error).message.includes('NOSCRIPT')) throw err;
    return redis.eval(script.lua, keys.length, ...keys, ...args);
  }
}
