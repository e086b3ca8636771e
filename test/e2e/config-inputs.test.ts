// Everything that passes validation works: Redis URLs, padded values, IoTDA endpoints (issue 11, item 10).
import { describe, expect, it } from 'vitest';
import { iotdaTime } from '../../src/simulator/iotda.js';
import { DEFAULT_SIM_PROJECTS } from '../../src/simulator/server.js';
import { runCli } from '../helpers/cli.js';
import { simulatorEnv, useSimulators } from '../helpers/janitor.js';
import { REDIS_URL } from '../helpers/redis.js';

const DAY = 86_400_000;
const PROJECT = DEFAULT_SIM_PROJECTS.iotda[0] as string;
const fixture = useSimulators('config-inputs');
const redisHost = new URL(REDIS_URL).host;

describe('configuration that passes validation works', () => {
  it.each([
    ['a port of 0', `redis://${new URL(REDIS_URL).hostname}:0`, 'expected redis://'],
    ['a database that is not a number', `redis://${redisHost}/abc`, 'database'],
    ['a db query that is not a number', `redis://${redisHost}?db=x`, 'database'],
    ['a database the server does not have', `redis://${redisHost}/9999`, 'database 9999'],
  ])('exits 2 naming REDIS_URL for %s, without a stack trace or any call', async (_, url, message) => {
    const sim = await fixture.start();
    const result = await runCli(['run'], simulatorEnv(sim, ['iotda'], fixture.prefix(), { REDIS_URL: url }));
    expect(result.stderr).toContain('REDIS_URL');
    expect(result.stderr).toContain(message);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.code).toBe(2);
    expect(sim.counters.iotda.list + sim.counters.iotda.delete).toBe(0);
  });

  it('reads a variable with a trailing newline (a Kubernetes Secret) as its file form would', async () => {
    const sim = await fixture.start();
    const id = '0'.repeat(23) + '1';
    sim.put('iotda', PROJECT, { task_id: id, task_name: 't', task_type: 'createDevices', status: 'Success', create_time: iotdaTime(new Date(Date.now() - 30 * DAY)) });
    const env = simulatorEnv(sim, ['iotda'], fixture.prefix(), { IOTDA_TASK_TYPES: 'createDevices' });
    const padded = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, k.startsWith('HUAWEICLOUD_') || k.startsWith('IOTDA_') || k === 'REDIS_URL' ? `${v}\n` : v]));
    const result = await runCli(['run'], padded);
    expect(result.stderr).not.toContain('"level":50');
    expect(result.code).toBe(0);
    expect(sim.deleted.map((d) => d.id)).toEqual([id]);
  });

  it('refuses an IoTDA instance endpoint without IOTDA_REGION, as derived signing needs the region', async () => {
    const sim = await fixture.start();
    const env = simulatorEnv(sim, ['iotda'], fixture.prefix(), { IOTDA_REGION: '' });
    const result = await runCli(['run'], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('IOTDA_REGION: is required');
    expect(sim.counters.iotda.list).toBe(0);
  });

  it('accepts IOTDA_TARGETS entries with an instance endpoint: each entry names its region', async () => {
    const sim = await fixture.start();
    const env = simulatorEnv(sim, ['iotda'], fixture.prefix(), {
      IOTDA_REGION: '', IOTDA_PROJECT_ID: '', IOTDA_ENDPOINT: '', IOTDA_TASK_TYPES: 'createDevices', JANITOR_DRY_RUN: 'true',
      IOTDA_TARGETS: `cn-north-4:${PROJECT};endpoint=${sim.url}`,
    });
    const result = await runCli(['run'], env);
    expect(result.stderr).not.toContain('IOTDA_REGION');
    expect(result.code).toBe(0);
  });
});
