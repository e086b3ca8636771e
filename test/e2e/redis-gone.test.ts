import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { iotdaTime } from '../../src/simulator/iotda.js';
import { startRedisServer } from '../../src/simulator/local-redis.js';
import { DEFAULT_SIM_PROJECTS, type Simulator } from '../../src/simulator/server.js';
import { startCli } from '../helpers/cli.js';
import { simulatorEnv, useSimulators } from '../helpers/janitor.js';

const PROJECT = DEFAULT_SIM_PROJECTS.iotda[0] as string;
const fixture = useSimulators('redis-gone');

function seed(sim: Simulator, count: number): void {
  for (let n = 1; n <= count; n++) {
    sim.put('iotda', PROJECT, { task_id: n.toString(16).padStart(24, '0'), task_type: 'createDevices', status: 'Success', create_time: iotdaTime(new Date(Date.now() - 30 * 86_400_000)) });
  }
}

/** A run on its own redis-server, slowed so that it is mid-delete when Redis goes away for good. */
async function runThenLoseRedis(extra: Record<string, string>, tasks = 40) {
  const redis = await startRedisServer();
  fixture.onCleanup(() => Promise.resolve(redis.stop()));
  const sim = await fixture.start({ latencyMs: 200 });
  seed(sim, tasks);
  const run = startCli(['run'], simulatorEnv(sim, ['iotda'], fixture.prefix(), {
    REDIS_URL: `redis://127.0.0.1:${redis.port}`, IOTDA_TASK_TYPES: 'createDevices', IOTDA_CONCURRENCY: '1', LOG_LEVEL: 'info', ...extra,
  }));
  fixture.onCleanup(() => Promise.resolve(run.child.kill('SIGKILL')));
  for (let i = 0; i < 400 && sim.deleted.length < 3; i++) await sleep(50);
  expect(sim.deleted.length).toBeGreaterThanOrEqual(3);
  redis.stop();
  const lostAt = Date.now();
  return { run, sim, lostAt };
}

describe('Redis gone for good', () => {
  it('the run still ends at JANITOR_MAX_RUNTIME, within its shutdown grace, with a summary', async () => {
    const { run, lostAt } = await runThenLoseRedis({ JANITOR_MAX_RUNTIME: '8s', JANITOR_SHUTDOWN_GRACE: '3s' });
    const result = await run.done;
    // The deadline falls at most 8 s after Redis went; then at most the 3 s grace and a margin for exiting.
    expect(Date.now() - lostAt).toBeLessThan(8_000 + 3_000 + 6_000);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('task-janitor summary');
    expect(result.stdout).toMatch(/iotda .*: listed 40/);
    // A Redis outage prints no raw stack traces: every stderr line is one JSON log event.
    for (const line of result.stderr.split('\n').filter((l) => l.trim() !== '')) expect(() => JSON.parse(line) as unknown, line.slice(0, 200)).not.toThrow();
  }, 60_000);

  it('a run whose Redis goes while it is still listing and enqueuing ends at JANITOR_MAX_RUNTIME too', async () => {
    // 2,000 tasks are 40 pages: Redis goes while the producer is still claiming and enqueuing.
    const { run, lostAt, sim } = await runThenLoseRedis({ JANITOR_MAX_RUNTIME: '8s', JANITOR_SHUTDOWN_GRACE: '3s' }, 2_000);
    const result = await run.done;
    expect(sim.counters.iotda.list).toBeLessThan(40);
    expect(Date.now() - lostAt).toBeLessThan(8_000 + 3_000 + 6_000);
    // Redis failed, not the provider: exit 3, and the summary names Redis and the cause.
    expect(result.code).toBe(3);
    expect(result.stdout).toMatch(/REDIS FAILED .*Redis at redis:\/\/127\.0\.0\.1:\d+: connection refused \(ECONNREFUSED\)/);
    expect(result.stdout).not.toContain('LIST FAILED');
  }, 60_000);

  it('SIGTERM wins: the run ends within its shutdown grace with a summary', async () => {
    const { run } = await runThenLoseRedis({ JANITOR_MAX_RUNTIME: '10m', JANITOR_SHUTDOWN_GRACE: '3s' });
    await sleep(1_000);
    const signalledAt = Date.now();
    run.child.kill('SIGTERM');
    const result = await run.done;
    expect(Date.now() - signalledAt).toBeLessThan(3_000 + 6_000);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('task-janitor summary');
  }, 60_000);

  it('a second signal still prints the summary, then exits at once', async () => {
    const { run } = await runThenLoseRedis({ JANITOR_MAX_RUNTIME: '10m', JANITOR_SHUTDOWN_GRACE: '1h' });
    await sleep(1_000);
    run.child.kill('SIGTERM');
    await sleep(500);
    const secondAt = Date.now();
    run.child.kill('SIGTERM');
    const result = await run.done;
    expect(Date.now() - secondAt).toBeLessThan(3_000);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('task-janitor summary');
    expect(result.stdout).toMatch(/iotda .*: listed 40/);
  }, 60_000);
});
