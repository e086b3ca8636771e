import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SIMULATOR_CREDENTIALS } from '../src/simulator/server.js';
import { freePort, runCli } from './helpers/cli.js';
import { simulatorEnv, useSimulators } from './helpers/janitor.js';

const fixture = useSimulators('cli-check');
const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const UNKNOWN_PROJECT = 'abcdefabcdefabcdefabcdefabcdef00';

describe('task-janitor --version, config and check', () => {
  it.each([[['--version']], [['check', '--version']]])('prints the version for %j and exits 0', async (args) => {
    const result = await runCli(args, {});
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(`task-janitor ${VERSION}`);
  });

  it('prints the effective configuration with defaults filled in and no secret, and warns about a misspelled variable', async () => {
    const sim = await fixture.start();
    const env = simulatorEnv(sim, ['iotda', 'imm'], fixture.prefix(), {
      JANITOR_RETENTON: '1d', REDIS_URL: 'redis://:hunter2-redis@127.0.0.1:6379/0', IOTDA_RATE_LIMIT: 'none', IMM_RATE_LIMIT: '300/m',
    });
    const result = await runCli(['config'], env);
    expect(result.code).toBe(0);
    const config = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(config).toMatchObject({ dryRun: false, retentionMs: 7 * 86_400_000, maxRuntimeMs: 2 * 60_000, redis: { mode: 'single', url: 'redis://:***@127.0.0.1:6379/0', tls: false } });
    // A rate of none reads as configured, not as JSON's null for infinity.
    expect(config.providers).toEqual(expect.arrayContaining([
      expect.objectContaining({ name: 'iotda', rateLimit: 'none' }), expect.objectContaining({ name: 'imm', rateLimit: { max: 300, durationMs: 60_000 } }),
    ]));
    expect(config.huaweiAuth).toEqual({ kind: 'aksk', accessKey: { from: 'HUAWEICLOUD_SDK_AK', value: '[redacted]' }, secretKey: { from: 'HUAWEICLOUD_SDK_SK', value: '[redacted]' } });
    const output = result.stdout + result.stderr;
    for (const secret of [SIMULATOR_CREDENTIALS.huawei.secretKey, SIMULATOR_CREDENTIALS.huawei.accessKey, SIMULATOR_CREDENTIALS.alibaba.accessKeySecret, SIMULATOR_CREDENTIALS.alibaba.accessKeyId, 'hunter2-redis']) {
      expect(output).not.toContain(secret);
    }
    expect(result.stderr).toContain('warning: JANITOR_RETENTON: is not a task-janitor variable and is ignored; did you mean JANITOR_RETENTION?');
  });

  it('proves every target with one read and exits 0 when all answer', async () => {
    const sim = await fixture.start({ tasksPerProject: 5 });
    const result = await runCli(['check'], simulatorEnv(sim, ['iotda', 'imm', 'mpc', 'vias', 'workspace'], fixture.prefix()));
    expect(result.stdout.split('\n').filter((l) => l.startsWith('ok '))).toHaveLength(6);
    expect(result.code).toBe(0);
    expect(sim.deleted).toHaveLength(0);
  });

  it('exits 2 naming the provider and project when credentials or a project are refused', async () => {
    const sim = await fixture.start();
    const refused = await runCli(['check'], simulatorEnv(sim, ['mpc'], fixture.prefix(), { HUAWEICLOUD_SDK_SK: 'wrong-secret-value' }));
    expect(refused.code).toBe(2);
    expect(refused.stdout).toMatch(/^CONFIG mpc 2c3d4e5f60718293a4b5c6d7e8f90a1b .*credentials or permissions refused/m);
    expect(refused.stdout + refused.stderr).not.toContain('wrong-secret-value');

    const unknown = await runCli(['check'], simulatorEnv(sim, ['iotda'], fixture.prefix(), { IOTDA_PROJECT_ID: UNKNOWN_PROJECT }));
    expect(unknown.code).toBe(2);
    expect(unknown.stdout).toMatch(new RegExp(`^CONFIG iotda ${UNKNOWN_PROJECT} `, 'm'));
  });

  it('exits 3 when a provider endpoint cannot be reached', async () => {
    const sim = await fixture.start();
    const closed = `http://127.0.0.1:${await freePort()}`;
    const down = await runCli(['check'], simulatorEnv(sim, ['mpc'], fixture.prefix(), { MPC_ENDPOINT: closed, JANITOR_DRY_RUN: 'true' }));
    expect(down.code).toBe(3);
    expect(down.stdout).toMatch(/^OUTAGE mpc /m);
  });

  it('exits 3 when Redis cannot be reached for a real run, and forgives a missing Redis in a dry run', async () => {
    const sim = await fixture.start();
    const noRedis = { REDIS_URL: `redis://127.0.0.1:${await freePort()}` };
    const live = await runCli(['check'], simulatorEnv(sim, ['mpc'], fixture.prefix(), noRedis));
    expect(live.code).toBe(3);
    expect(live.stdout).toMatch(/^OUTAGE redis: /m);
    const dry = await runCli(['check'], simulatorEnv(sim, ['mpc'], fixture.prefix(), { ...noRedis, JANITOR_DRY_RUN: 'true' }));
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/^ok {5}redis: .*not needed while JANITOR_DRY_RUN=true/m);
  });
});
