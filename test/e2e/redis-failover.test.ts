// A Sentinel failover mid-run, through the built CLI, on redis-servers of its own: the master is
// killed while deletes go on, the Sentinel promotes its replica, and the janitor follows it. Nothing
// is deleted that is not stale and terminal, the run ends within its bounds, and the run after it
// deletes exactly the rest.
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { startRedisServer, type LocalServer } from '../../src/simulator/local-redis.js';
import { DEFAULT_SIM_PROJECTS } from '../../src/simulator/server.js';
import { runCli, startCli } from '../helpers/cli.js';
import { seedStaleAndKept, simulatorEnv, useSimulators } from '../helpers/janitor.js';
import { uniquePrefix } from '../helpers/redis.js';

const PROJECT = DEFAULT_SIM_PROJECTS.iotda[0] as string;
const NAME = 'janitor-failover';
const MAX_RUNTIME_MS = 25_000;
const GRACE_MS = 3_000;
const fixture = useSimulators('redis-failover');

async function server(config: readonly string[], sentinel = false): Promise<LocalServer> {
  const started = await startRedisServer(config, { sentinel });
  fixture.onCleanup(() => Promise.resolve(started.stop()));
  return started;
}

/** Waits until `check` holds, polling every 100 ms for at most `ms`. */
async function until(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('a Sentinel failover mid-run', () => {
  it('the janitor follows the promoted replica: nothing deleted wrongly, the run ends in bounds, the next run deletes exactly the rest', async () => {
    const master = await server([]);
    const replica = await server([`replicaof 127.0.0.1 ${master.port}`]);
    const sentinel = await server([
      `sentinel monitor ${NAME} 127.0.0.1 ${master.port} 1`, `sentinel down-after-milliseconds ${NAME} 1000`, `sentinel failover-timeout ${NAME} 4000`,
    ], true);
    const ask = new Redis({ host: '127.0.0.1', port: sentinel.port, lazyConnect: true });
    const onReplica = new Redis({ host: '127.0.0.1', port: replica.port, lazyConnect: true });
    fixture.onCleanup(() => Promise.resolve(ask.disconnect()));
    fixture.onCleanup(() => Promise.resolve(onReplica.disconnect()));
    await until(async () => (await onReplica.info('replication')).includes('master_link_status:up'), 10_000, 'the replica to sync');
    await until(async () => ((await ask.call('SENTINEL', 'replicas', NAME)) as unknown[]).length > 0, 15_000, 'the Sentinel to see the replica');

    const sim = await fixture.start({ latencyMs: 50 });
    const { stale, kept } = seedStaleAndKept(sim, PROJECT);
    const { REDIS_URL: _single, ...base } = simulatorEnv(sim, ['iotda'], uniquePrefix('failover'), {
      IOTDA_TASK_TYPES: 'createDevices', IOTDA_CONCURRENCY: '2', IOTDA_RATE_LIMIT: '10/s',
      JANITOR_JOB_LOCK: '2s', JANITOR_MAX_RUNTIME: `${MAX_RUNTIME_MS / 1000}s`, JANITOR_SHUTDOWN_GRACE: `${GRACE_MS / 1000}s`, LOG_LEVEL: 'warn',
    });
    const env = { ...base, REDIS_SENTINELS: `127.0.0.1:${sentinel.port}`, REDIS_SENTINEL_NAME: NAME };

    const run = startCli(['run'], env);
    fixture.onCleanup(() => Promise.resolve(run.child.kill('SIGKILL')));
    for (let i = 0; i < 600 && sim.deleted.length < 10; i++) await sleep(25);
    expect(sim.deleted.length).toBeGreaterThanOrEqual(10);
    master.stop(); // SIGKILL: the Sentinel sees it down after 1 s and promotes the replica
    await until(async () => ((await ask.call('SENTINEL', 'get-master-addr-by-name', NAME)) as string[])[1] === String(replica.port), 15_000, 'the failover');
    const first = await run.done;
    expect(first.ms).toBeLessThan(MAX_RUNTIME_MS + GRACE_MS + 6_000);
    expect(first.stdout, first.stderr.slice(-2_000)).toContain('task-janitor summary');
    const afterFirst = sim.deleted.length;
    // The summary says what the provider saw this run delete.
    expect(Number(/deleted (\d+), already gone 0/.exec(first.stdout)?.[1]), first.stdout).toBe(afterFirst);
    if (afterFirst === stale.length) expect(first.code).toBe(0);
    const second = await runCli(['run'], env);
    const ids = sim.deleted.map((d) => d.id).sort();
    expect(ids.filter((id) => kept.includes(id))).toEqual([]);
    expect(ids).toEqual(stale); // every stale task, each once
    expect(second.code, `${second.stdout}\n${second.stderr.slice(-2_000)}`).toBe(0);
  }, 90_000);
});
