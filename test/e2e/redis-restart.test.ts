// Redis stopped (SIGKILL) and restarted on the same port mid-run, through the built CLI, on its own
// redis-server: with persistence (jobs and claims survive) and without (Redis comes back empty).
// The run ends within its bounds with a true summary; nothing is deleted wrongly, nothing is lost:
// the run after it deletes exactly the rest. (Redis gone for good: test/e2e/redis-gone.test.ts.)
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { startRestartableRedis, type RestartableServer } from '../../src/simulator/local-redis.js';
import { DEFAULT_SIM_PROJECTS, type Simulator } from '../../src/simulator/server.js';
import { runCli, startCli, type CliResult } from '../helpers/cli.js';
import { recordFigures } from '../helpers/figures.js';
import { seedStaleAndKept, simulatorEnv, useSimulators } from '../helpers/janitor.js';
import { uniquePrefix } from '../helpers/redis.js';

const PROJECT = DEFAULT_SIM_PROJECTS.iotda[0] as string;
const MAX_RUNTIME_MS = 20_000;
const GRACE_MS = 3_000;
const fixture = useSimulators('redis-restart');
const figures = { faultsInjected: 0, tasksSeeded: 0, wronglyDeleted: 0, lost: 0, deletedTwice: 0 };
afterAll(() => recordFigures('redis-restart', figures));

/** Stale terminal tasks (the oracle's set), and tasks that must stay: running ones and fresh terminal ones. */
function seed(sim: Simulator): { stale: string[]; kept: string[] } {
  const seeded = seedStaleAndKept(sim, PROJECT);
  figures.tasksSeeded += seeded.stale.length + seeded.kept.length;
  return seeded;
}

const deletedIds = (sim: Simulator) => sim.deleted.map((d) => d.id).sort();

/** What a run reports for its own jobs and for those it waited for (queued by another run): deleted, already gone. */
function reported(result: CliResult): { deleted: number; gone: number } {
  const own = /deleted (\d+), already gone (\d+)/.exec(result.stdout);
  const other = /of those queued by another run .*: deleted (\d+), already gone (\d+)/.exec(result.stdout);
  return { deleted: Number(own?.[1] ?? 0) + Number(other?.[1] ?? 0), gone: Number(own?.[2] ?? 0) + Number(other?.[2] ?? 0) };
}

/** A run slowed to ~10 deletes a second; Redis is SIGKILLed once it has deleted 10 tasks, and restarted 1.5 s later. */
async function runWithRedisRestart(redis: RestartableServer) {
  const sim = await fixture.start({ latencyMs: 50 });
  const seeded = seed(sim);
  // The queues live on the throwaway server only (removed after the test): a plain unique prefix, nothing on the shared Redis.
  const env = simulatorEnv(sim, ['iotda'], uniquePrefix('redis-restart'), {
    REDIS_URL: `redis://127.0.0.1:${redis.port}`, IOTDA_TASK_TYPES: 'createDevices', IOTDA_CONCURRENCY: '2', IOTDA_RATE_LIMIT: '10/s',
    JANITOR_JOB_LOCK: '2s', JANITOR_MAX_RUNTIME: `${MAX_RUNTIME_MS / 1000}s`, JANITOR_SHUTDOWN_GRACE: `${GRACE_MS / 1000}s`, LOG_LEVEL: 'warn',
  });
  const run = startCli(['run'], env);
  fixture.onCleanup(() => Promise.resolve(run.child.kill('SIGKILL')));
  for (let i = 0; i < 600 && sim.deleted.length < 10; i++) await sleep(25);
  expect(sim.deleted.length).toBeGreaterThanOrEqual(10);
  redis.kill();
  figures.faultsInjected += 1;
  await sleep(1_500);
  expect(sim.deleted.length, 'deletes are still going on when Redis comes back').toBeLessThan(seeded.stale.length);
  await redis.restart();
  const first = await run.done;
  const afterFirst = sim.deleted.length;
  const second = await runCli(['run'], env);
  const ids = deletedIds(sim);
  figures.wronglyDeleted += ids.filter((id) => !seeded.stale.includes(id)).length;
  figures.lost += seeded.stale.filter((id) => !ids.includes(id)).length;
  figures.deletedTwice += ids.length - new Set(ids).size;
  return { sim, seeded, first, afterFirst, second, ids };
}

async function ownRedis(config: readonly string[]): Promise<RestartableServer> {
  const redis = await startRestartableRedis(config);
  fixture.onCleanup(() => Promise.resolve(redis.stop()));
  return redis;
}

describe('Redis stopped and restarted mid-run', () => {
  it('with persistence (AOF, fsync always): the run ends in bounds with a true summary; the next run deletes exactly the rest, exit 0', async () => {
    const redis = await ownRedis(['appendonly yes', 'appendfsync always']);
    const { seeded, first, afterFirst, second, ids } = await runWithRedisRestart(redis);
    expect(first.ms).toBeLessThan(MAX_RUNTIME_MS + GRACE_MS + 6_000);
    expect(first.stdout, first.stderr.slice(-2_000)).toContain('task-janitor summary');
    // The provider saw every deletion of this run made by this run: none is "already gone", not even a job
    // redone after the outage (its first attempt's deletions were never written to Redis).
    expect(reported(first), first.stdout).toEqual({ deleted: afterFirst, gone: 0 });
    if (afterFirst < seeded.stale.length) expect(first.code).not.toBe(0);
    expect(ids).toEqual(seeded.stale);
    expect(second.code, second.stdout).toBe(0);
    expect(reported(second), second.stdout).toEqual({ deleted: seeded.stale.length - afterFirst, gone: 0 });
  }, 60_000);

  it('without persistence (Redis comes back empty): the run ends in bounds; the next run re-finds and deletes the rest, exit 0', async () => {
    const redis = await ownRedis([]);
    const { seeded, first, afterFirst, second, ids } = await runWithRedisRestart(redis);
    expect(first.ms).toBeLessThan(MAX_RUNTIME_MS + GRACE_MS + 6_000);
    expect(first.stdout, first.stderr.slice(-2_000)).toContain('task-janitor summary');
    // The jobs are gone with Redis, but this process knows what it deleted: the summary says so, and names the rest
    // as lost with their jobs, once they were missing at two reconciles in a row (not only at the deadline).
    expect(reported(first), first.stdout).toEqual({ deleted: afterFirst, gone: 0 });
    expect(first.stdout).toContain(`failed ${seeded.stale.length - afterFirst}: job vanished from Redis before its outcome was read`);
    expect(first.ms).toBeLessThan(MAX_RUNTIME_MS);
    if (afterFirst < seeded.stale.length) expect(first.code).not.toBe(0);
    expect(ids).toEqual(seeded.stale);
    expect(second.code, second.stdout).toBe(0);
    expect(reported(second), second.stdout).toEqual({ deleted: seeded.stale.length - afterFirst, gone: 0 });
  }, 60_000);
});
