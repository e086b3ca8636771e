import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisConfig } from '../../src/config.js';
import { assertRedisReachable, createRedisClient, dropQueuePrefix } from '../../src/redis.js';
import { startLocalSentinel, type LocalTopology } from '../../src/simulator/local-redis.js';
import type { RedisEndpoint } from '../../src/redis-config.js';
import { runCli } from '../helpers/cli.js';
import { captureLogs, runJanitor, simulatorEnv, useSimulators } from '../helpers/janitor.js';
import { uniquePrefix } from '../helpers/redis.js';

const MASTER = 'janitor-master';
const MASTER_PASSWORD = 'master-secret-51c2';
const SENTINEL_PASSWORD = 'sentinel-secret-9d04';
let topology: LocalTopology & { readonly master: RedisEndpoint };
let redis: Extract<RedisConfig, { readonly mode: 'sentinel' }>;
let secrets: string;
const fixture = useSimulators('sentinel');

beforeAll(async () => {
  topology = await startLocalSentinel(MASTER, { master: MASTER_PASSWORD, sentinel: SENTINEL_PASSWORD });
  redis = {
    mode: 'sentinel', sentinels: topology.nodes, masterName: MASTER, db: 0, tls: false,
    password: { name: 'REDIS_PASSWORD', kind: 'env', value: MASTER_PASSWORD },
    sentinelPassword: { name: 'REDIS_SENTINEL_PASSWORD', kind: 'env', value: SENTINEL_PASSWORD },
  };
  secrets = mkdtempSync(join(tmpdir(), 'janitor-sentinel-'));
}, 30_000);
afterAll(() => {
  topology?.stop();
  if (secrets) rmSync(secrets, { recursive: true, force: true });
});

const sentinelList = () => topology.nodes.map((n) => `${n.host}:${n.port}`).join(',');

/** The janitor's environment for Sentinel: `redisVars` instead of REDIS_URL, a prefix dropped afterwards. */
function sentinelEnv(base: Record<string, string>, redisVars: Record<string, string>): Record<string, string> {
  const { REDIS_URL: _single, ...rest } = base;
  fixture.onCleanup(() => dropQueuePrefix(redis, base.JANITOR_QUEUE_PREFIX ?? ''));
  return { ...rest, ...redisVars };
}

/** Keys under `prefix` on the master itself, read directly (not through the sentinel). */
async function masterKeys(prefix: string): Promise<string[]> {
  const client = createRedisClient({ mode: 'single', url: `redis://:${MASTER_PASSWORD}@${topology.master.host}:${topology.master.port}`, tls: false }, 'admin');
  try {
    return await client.keys(`${prefix}:*`);
  } finally {
    client.disconnect();
  }
}

describe('through a real Sentinel', () => {
  it('finds the master by name and deletes exactly the stale tasks, with passwords from a file and the environment', async () => {
    const sim = await fixture.start({ tasksPerProject: 80, seed: 51 });
    const prefix = uniquePrefix('sn');
    const passwordFile = join(secrets, 'redis-password');
    writeFileSync(passwordFile, `${MASTER_PASSWORD}\n`);
    const env = sentinelEnv(simulatorEnv(sim, ['vias', 'iotda'], prefix), {
      REDIS_SENTINELS: sentinelList(), REDIS_SENTINEL_NAME: MASTER, REDIS_PASSWORD_FILE: passwordFile, REDIS_SENTINEL_PASSWORD: SENTINEL_PASSWORD,
    });
    const logs = captureLogs();
    const report = await runJanitor(env, { logs: logs.stream, logLevel: 'info' });
    expect(report.exitCode).toBe(0);
    const deleted = sim.deleted.map((d) => `${d.provider}/${d.project}/${d.id}`).sort();
    const expected = report.stats.flatMap((s) => sim.expectedDeletions(s.provider, s.target, s.provider === 'vias'
      ? ['succeeded', 'failed', 'create_failed', 'start_failed'] : ['Success', 'Fail', 'PartialSuccess', 'Stopped'], 7 * 86_400_000)
      .map((id) => `${s.provider}/${s.target}/${id}`)).sort();
    expect(expected.length).toBeGreaterThan(20);
    expect(deleted).toEqual(expected);
    expect(await masterKeys(prefix)).not.toEqual([]);
    const text = JSON.stringify(logs.lines);
    expect(text).toContain(`Sentinel master ${MASTER} via ${sentinelList()}`);
    expect(text).not.toContain(MASTER_PASSWORD);
    expect(text).not.toContain(SENTINEL_PASSWORD);
  });

  it('runs from the CLI with a redis+sentinel:// URL and never prints its password', async () => {
    const sim = await fixture.start({ tasksPerProject: 30, seed: 52 });
    const env = sentinelEnv(simulatorEnv(sim, ['mpc'], uniquePrefix('snurl')), {
      REDIS_URL: `redis+sentinel://:${MASTER_PASSWORD}@${sentinelList()}/${MASTER}`, REDIS_SENTINEL_PASSWORD: SENTINEL_PASSWORD, LOG_LEVEL: 'info',
    });
    const result = await runCli(['run'], env);
    expect(result.stderr).not.toContain(MASTER_PASSWORD);
    expect(result.stdout + result.stderr).not.toContain(SENTINEL_PASSWORD);
    expect(result.code).toBe(0);
    expect(sim.deleted.length).toBeGreaterThan(0);
    expect(sim.deleted.length).toBe(new Set(sim.deleted.map((d) => d.id)).size);
  });

  it('reports an unknown master name or a wrong sentinel password as unreachable, within seconds', async () => {
    await expect(assertRedisReachable({ ...redis, masterName: 'no-such-master' }, 1_000)).rejects.toThrow(/Sentinel master no-such-master via .* is unreachable/);
    const wrong = { ...redis, sentinelPassword: { name: 'REDIS_SENTINEL_PASSWORD', kind: 'env' as const, value: 'wrong' } };
    await expect(assertRedisReachable(wrong, 1_000)).rejects.toThrow(/is unreachable/);
  });
});
