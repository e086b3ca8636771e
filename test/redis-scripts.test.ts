// Scripts go by digest, and by text only when the server lacks them (a new or restarted Redis).
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { redisScript, runScript } from '../src/redis-scripts.js';
import { startRedisServer } from '../src/simulator/local-redis.js';

const servers: { stop(): void }[] = [];
afterAll(() => { for (const s of servers) s.stop(); });

const calls = async (redis: Redis) => Object.fromEntries((await redis.info('commandstats')).split('\n')
  .map((line) => /^cmdstat_(\w+):calls=(\d+)/.exec(line)).filter((m) => m !== null).map((m) => [m[1], Number(m[2])]));

describe('runScript', () => {
  it('sends the text once to a server that lacks the script, then only its digest', async () => {
    const server = await startRedisServer([]);
    servers.push(server);
    const redis = new Redis({ port: server.port });
    const double = redisScript("return tonumber(ARGV[1]) * 2 + #KEYS");
    expect(await runScript(redis, double, ['k1'], [20])).toBe(41);
    expect(await runScript(redis, double, ['k1', 'k2'], [5])).toBe(12);
    expect(await calls(redis)).toMatchObject({ eval: 1, evalsha: 2 }); // the first EVALSHA answered NOSCRIPT
    // An error of the script itself is not taken for a missing script.
    await expect(runScript(redis, redisScript("return redis.call('INCR', KEYS[1], 'x')"), ['k'], [])).rejects.toThrow(/wrong number of arguments|ERR/);
    redis.disconnect();
  });
});
