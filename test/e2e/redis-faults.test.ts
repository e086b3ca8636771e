import { Queue, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { queueNameFor } from '../../src/queue.js';
import { iotdaTime } from '../../src/simulator/iotda.js';
import { startRedisServer } from '../../src/simulator/local-redis.js';
import { DEFAULT_SIM_PROJECTS, type Simulator } from '../../src/simulator/server.js';
import { freePort, runCli } from '../helpers/cli.js';
import { simulatorEnv, useSimulators } from '../helpers/janitor.js';

const PROJECT = DEFAULT_SIM_PROJECTS.iotda[0] as string;
const PASSWORD = 'redis-fault-secret-7f3a';
const fixture = useSimulators('redis-faults');

function seed(sim: Simulator, count: number): void {
  for (let n = 1; n <= count; n++) {
    sim.put('iotda', PROJECT, { task_id: n.toString(16).padStart(24, '0'), task_type: 'createDevices', status: 'Success', create_time: iotdaTime(new Date(Date.now() - 30 * 86_400_000)) });
  }
}

async function ownRedis(config: readonly string[] = [], options: { password?: string } = {}) {
  const server = await startRedisServer(config, options);
  fixture.onCleanup(() => Promise.resolve(server.stop()));
  return server;
}

async function run(sim: Simulator, redisUrl: string, extra: Record<string, string> = {}) {
  return runCli(['run'], simulatorEnv(sim, ['iotda'], fixture.prefix(), { REDIS_URL: redisUrl, IOTDA_TASK_TYPES: 'createDevices', LOG_LEVEL: 'info', ...extra }));
}

/** Every stderr line is one pino JSON object (nothing raw, no stack trace). */
function expectOnlyJsonLines(stderr: string): Record<string, unknown>[] {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('task-janitor: '));
  return lines.map((line) => {
    expect(() => JSON.parse(line) as unknown, line.slice(0, 200)).not.toThrow();
    return JSON.parse(line) as Record<string, unknown>;
  });
}

describe('Redis faults are named: the component and the real cause', () => {
  it('a wrong password: WRONGPASS, exit 3, the password never printed', async () => {
    const sim = await fixture.start();
    const redis = await ownRedis([`requirepass ${PASSWORD}`], { password: PASSWORD });
    const result = await run(sim, `redis://:wrong-${PASSWORD}@127.0.0.1:${redis.port}`);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(new RegExp(`Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${redis.port} is unreachable: authentication failed \\(WRONGPASS\\)`));
    expect(result.stderr).not.toContain('Connection is closed');
    expect(result.stderr + result.stdout).not.toContain(PASSWORD);
    expectOnlyJsonLines(result.stderr);
  });

  it('a missing password: NOAUTH, exit 3', async () => {
    const sim = await fixture.start();
    const redis = await ownRedis([`requirepass ${PASSWORD}`], { password: PASSWORD });
    const result = await run(sim, `redis://127.0.0.1:${redis.port}`);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('authentication required (NOAUTH)');
    expect(result.stderr).not.toContain('Connection is closed');
  });

  it('nothing listening: connection refused (ECONNREFUSED), exit 3', async () => {
    const sim = await fixture.start();
    const result = await run(sim, `redis://127.0.0.1:${await freePort()}`);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('connection refused (ECONNREFUSED)');
    expect(result.stderr).not.toContain('Connection is closed');
  });

  it('a read-only replica: READONLY, exit 3, nothing listed as failed', async () => {
    const sim = await fixture.start();
    seed(sim, 3);
    const primary = await ownRedis();
    const replica = await ownRedis([`replicaof 127.0.0.1 ${primary.port}`]);
    const result = await run(sim, `redis://127.0.0.1:${replica.port}`);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(new RegExp(`Redis at redis://127\\.0\\.0\\.1:${replica.port}: read-only replica \\(READONLY\\)`));
    expect(result.stdout).not.toContain('LIST FAILED');
    expect(sim.deleted).toHaveLength(0);
    expectOnlyJsonLines(result.stderr);
  });

  it('retry-failed on a read-only replica: READONLY named, exit 3, not "left" as if the job were held by a later run', async () => {
    const sim = await fixture.start();
    const primary = await ownRedis();
    const replica = await ownRedis([`replicaof 127.0.0.1 ${primary.port}`]);
    const prefix = fixture.prefix();
    // One failed delete job on the primary, replicated to the replica.
    const connection = { host: '127.0.0.1', port: primary.port };
    const queue = new Queue(queueNameFor('iotda'), { connection, prefix });
    const worker = new Worker(queueNameFor('iotda'), () => Promise.reject(new UnrecoverableError('IOTDA.000000 refused')), { connection, prefix });
    fixture.onCleanup(async () => { await worker.close(); await queue.close(); });
    const failed = new Promise((resolve) => worker.once('failed', resolve));
    await queue.add('delete', {
      provider: 'iotda', target: PROJECT, tasks: [{ id: 'a'.repeat(24), states: ['Success'], agedFrom: { field: 'create_time', at: new Date(0).toISOString() } }],
    }, { attempts: 1 });
    await failed;
    const onReplica = new Redis(`redis://127.0.0.1:${replica.port}`);
    fixture.onCleanup(() => Promise.resolve(onReplica.disconnect()));
    for (let i = 0; i < 100 && await onReplica.zcard(`${prefix}:${queueNameFor('iotda')}:failed`) === 0; i++) await new Promise((r) => setTimeout(r, 100));

    const result = await runCli(['retry-failed'], simulatorEnv(sim, ['iotda'], prefix, { REDIS_URL: `redis://127.0.0.1:${replica.port}` }));
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(new RegExp(`Redis at redis://127\\.0\\.0\\.1:${replica.port}: read-only replica \\(READONLY\\)`));
    expect(result.stdout).not.toContain('left 1');
    expect(await onReplica.zcard(`${prefix}:${queueNameFor('iotda')}:failed`)).toBe(1);
  });

  it('out of memory while enqueueing: REDIS FAILED (OOM), not LIST FAILED; a bounded number of log lines, all JSON', async () => {
    const sim = await fixture.start({ latencyMs: 20 });
    seed(sim, 3_000);
    const redis = await ownRedis(['maxmemory 8mb', 'maxmemory-policy noeviction']);
    // Fill Redis to its limit, then free a little: the run starts, and its enqueueing runs out of memory.
    const filler = new Redis(`redis://127.0.0.1:${redis.port}`, { maxRetriesPerRequest: 1 });
    fixture.onCleanup(() => Promise.resolve(filler.disconnect()));
    let n = 0;
    for (;; n++) {
      const ok = await filler.set(`filler:${n}`, 'x'.repeat(4_096)).then(() => true, () => false);
      if (!ok) break;
    }
    await filler.del(...Array.from({ length: 400 }, (_, i) => `filler:${n - 1 - i}`));
    const result = await run(sim, `redis://127.0.0.1:${redis.port}`, { JANITOR_MAX_RUNTIME: '15s', JANITOR_SHUTDOWN_GRACE: '3s' });
    expect(result.code).toBe(3);
    expect(result.stdout).toMatch(/REDIS FAILED .*Redis at redis:\/\/127\.0\.0\.1:\d+: out of memory \(OOM\)/);
    expect(result.stdout).not.toContain('LIST FAILED');
    const lines = expectOnlyJsonLines(result.stderr);
    // Before: hundreds of thousands of lines a minute. A repeating error is logged once per source, cause and
    // 10 s window (with the count of the others); a job that fails for good is still one event each.
    const repeating = lines.filter((l) => Number(l.level) >= 40 && l.msg !== 'delete failed');
    const counts = new Map<string, number>();
    for (const l of repeating) counts.set(String(l.msg), (counts.get(String(l.msg)) ?? 0) + 1);
    for (const [msg, count] of counts) expect(count, msg).toBeLessThanOrEqual(6);
    expect(lines.filter((l) => l.msg === 'delete failed').length).toBeLessThanOrEqual(Number(/enqueued (\d+)/.exec(result.stdout)?.[1] ?? 0));
  }, 90_000);
});
