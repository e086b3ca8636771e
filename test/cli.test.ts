import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { iotdaTime } from '../src/simulator/iotda.js';
import { DEFAULT_SIM_PROJECTS } from '../src/simulator/server.js';
import { freePort, runCli, startCli } from './helpers/cli.js';
import { runJanitor, simulatorEnv, useSimulators } from './helpers/janitor.js';

const DAY = 86_400_000;
const fixture = useSimulators('cli');

describe('task-janitor CLI', () => {
  it.each(['run', 'produce', 'work', 'daemon', 'simulate'])('prints help for %s and exits 0', async (command) => {
    const result = await runCli([command, '--help'], {});
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`task-janitor ${command}`);
  });

  it('exits 2 on an unknown command', async () => {
    const result = await runCli(['purge'], {});
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unknown command "purge"');
  });

  it('exits 2 on bad configuration, naming each bad variable, without a stack trace or any deletion', async () => {
    const sim = await fixture.start();
    const p = fixture.prefix();
    const env = simulatorEnv(sim, ['iotda'], p, { JANITOR_RETENTION: 'forever', IOTDA_STATES: 'Processing', IOTDA_CONCURRENCY: '0' });
    const result = await runCli(['run'], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('JANITOR_RETENTION: got "forever"');
    expect(result.stderr).toContain('IOTDA_STATES: got "Processing"');
    expect(result.stderr).toContain('IOTDA_CONCURRENCY: got "0"; expected a whole number from 1 to 100');
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(sim.counters.iotda.list + sim.counters.iotda.delete).toBe(0);
  });

  it('exits 3 within seconds when Redis is unreachable', async () => {
    const sim = await fixture.start();
    const env = simulatorEnv(sim, ['iotda'], fixture.prefix(), { REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
    const result = await runCli(['run'], env);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('is unreachable');
    expect(result.ms).toBeLessThan(10_000);
    expect(sim.counters.iotda.delete).toBe(0);
  });

  it('exits 3 when a provider list API fails, after reporting it', async () => {
    const sim = await fixture.start();
    const env = simulatorEnv(sim, ['iotda'], fixture.prefix(), { HUAWEICLOUD_SDK_SK: 'wrong-secret', JANITOR_DRY_RUN: 'true' });
    const result = await runCli(['run'], env);
    expect(result.code).toBe(3);
    expect(result.stdout).toContain('LIST FAILED: APIGW.0301');
    expect(result.stdout + result.stderr).not.toContain('wrong-secret');
  });

  it('refuses to start workers in a dry run', async () => {
    const sim = await fixture.start();
    const result = await runCli(['work'], simulatorEnv(sim, ['iotda'], fixture.prefix(), { JANITOR_DRY_RUN: 'true' }));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('JANITOR_DRY_RUN: is true');
  });

  it('runs a cleanup and prints the summary', async () => {
    const sim = await fixture.start({ tasksPerProject: 100 });
    const result = await runCli(['run'], simulatorEnv(sim, ['iotda'], fixture.prefix()));
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/iotda 1b2c3d4e5f60718293a4b5c6d7e8f90a: listed 100, candidates \d+, deleted \d+, already gone 0, failed 0/);
    expect(sim.deleted.length).toBeGreaterThan(10);
  });

  it('on SIGTERM lets in-flight deletes finish, takes no new job, and exits 0', async () => {
    const sim = await fixture.start({ latencyMs: 700 });
    const project = DEFAULT_SIM_PROJECTS.iotda[0] as string;
    for (let n = 1; n <= 8; n++) {
      sim.put('iotda', project, { task_id: n.toString(16).padStart(24, '0'), task_type: 'createDevices', status: 'Success', create_time: iotdaTime(new Date(Date.now() - 30 * DAY)) });
    }
    const env = simulatorEnv(sim, ['iotda'], fixture.prefix(), { IOTDA_CONCURRENCY: '2', IOTDA_TASK_TYPES: 'createDevices' });
    const produced = await runJanitor(env, { mode: 'produce' });
    expect(produced.stats[0]?.enqueued).toBe(8);
    const worker = startCli(['work'], env);
    while (sim.counters.iotda.delete === 0) await sleep(20);
    worker.child.kill('SIGTERM');
    const result = await worker.done;
    expect(result.code).toBe(0);
    // Every delete that started also completed; the rest stay queued for the next worker.
    expect(sim.deleted.length).toBe(sim.counters.iotda.delete);
    expect(sim.deleted.length).toBeLessThan(8);
  });
});
