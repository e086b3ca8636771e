import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimTasks, confirmClaims, PROVISIONAL_CLAIM_MS, releaseClaims } from '../src/claims.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { enqueueCandidates, type HeldJob } from '../src/producer.js';
import { createProviders } from '../src/providers/registry.js';
import { claimKeyFor, queueNameFor, type DeleteJobData } from '../src/queue.js';
import { iotdaTime } from '../src/simulator/iotda.js';
import { DEFAULT_SIM_PROJECTS, type Simulator } from '../src/simulator/server.js';
import { simulatorEnv, useSimulators } from './helpers/janitor.js';
import { REDIS_URL } from './helpers/redis.js';

const PROJECT = DEFAULT_SIM_PROJECTS.iotda[0] as string;
const fixture = useSimulators('claims');
let redis: Redis;

beforeAll(() => { redis = new Redis(REDIS_URL); });
afterAll(async () => { await redis.quit(); });

function seed(sim: Simulator, count: number): string[] {
  return Array.from({ length: count }, (_, n) => {
    const id = (n + 1).toString(16).padStart(24, '0');
    sim.put('iotda', PROJECT, { task_id: id, task_type: 'createDevices', status: 'Success', create_time: iotdaTime(new Date(Date.now() - 30 * 86_400_000)) });
    return id;
  });
}

/** One producer, as a `produce` run would be, with its own run id; returns the jobs it held or added. */
async function produce(sim: Simulator, prefix: string, runId: string, queue: Queue<DeleteJobData>) {
  const config = loadConfig(simulatorEnv(sim, ['iotda'], prefix, { IOTDA_TASK_TYPES: 'createDevices' }));
  const providerConfig = config.providers[0];
  if (!providerConfig) throw new Error('no provider');
  const held: HeldJob[] = [];
  const [stats] = await enqueueCandidates({
    config, provider: createProviders(config).get('iotda') as never, providerConfig, logger: createLogger('silent'),
    now: () => new Date(), runId, queue, redis, onJob: (job) => held.push(job),
  });
  return { stats, held };
}

function openQueue(prefix: string): Queue<DeleteJobData> {
  const queue = new Queue<DeleteJobData>(queueNameFor('iotda'), { connection: { url: REDIS_URL }, prefix });
  fixture.onCleanup(() => queue.close());
  return queue;
}

async function queuedTaskIds(queue: Queue<DeleteJobData>): Promise<string[]> {
  const jobs = await queue.getJobs(['waiting', 'delayed', 'active', 'prioritized']);
  return jobs.flatMap((j) => j.data.tasks.map((t) => t.id)).sort();
}

describe('claims', () => {
  it('never enqueues one task twice when two producers race (20 rounds)', async () => {
    const sim = await fixture.start();
    const ids = seed(sim, 12);
    for (let round = 0; round < 20; round++) {
      const prefix = fixture.prefix(`race${round}`);
      const queue = openQueue(prefix);
      const [a, b] = await Promise.all([produce(sim, prefix, `ra${round}`, queue), produce(sim, prefix, `rb${round}`, queue)]);
      expect(await queuedTaskIds(queue)).toEqual(ids);
      // Each task is enqueued by one producer and known to the other as held by that producer's job.
      expect((a.stats?.enqueued ?? 0) + (b.stats?.enqueued ?? 0)).toBe(ids.length);
      expect((a.stats?.alreadyQueued ?? 0) + (b.stats?.alreadyQueued ?? 0)).toBe(ids.length);
      const ownA = a.held.filter((h) => h.own).map((h) => h.id);
      expect(b.held.filter((h) => !h.own).every((h) => ownA.includes(h.id))).toBe(true);
    }
  });

  it('keeps a claim without expiry while its job waits, and releases it when the job settles', async () => {
    const sim = await fixture.start();
    const [id] = seed(sim, 1);
    const prefix = fixture.prefix();
    const queue = openQueue(prefix);
    const first = await produce(sim, prefix, 'first', queue);
    const key = claimKeyFor(prefix, 'iotda', PROJECT, id as string);
    expect(await redis.pttl(key)).toBe(-1);
    const jobId = first.held[0]?.id as string;
    expect(await redis.get(key)).toBe(jobId);
    // A later run finds it held, and is told by which job.
    const second = await produce(sim, prefix, 'second', queue);
    expect(second.held).toEqual([{ id: jobId, taskIds: [id], own: false }]);
    expect(second.stats?.enqueued).toBe(0);
    await releaseClaims(redis, prefix, 'iotda', PROJECT, [id as string], 'some-other-job');
    expect(await redis.get(key)).toBe(jobId);
    await releaseClaims(redis, prefix, 'iotda', PROJECT, [id as string], jobId);
    expect(await redis.exists(key)).toBe(0);
  });

  it('takes over a claim whose job settled or was removed, but not one whose job is still being added', async () => {
    const prefix = fixture.prefix();
    const jobKey = (jobId: string) => `${prefix}:${queueNameFor('iotda')}:${jobId}`;
    const claim = async (taskId: string, jobId: string) => (await claimTasks(redis, prefix, 'iotda', PROJECT, [{ taskId, jobId }])).holders;
    // Settled: the holder's job hash has finishedOn.
    await claim('t1', 'job-a');
    await redis.hset(jobKey('job-a'), 'finishedOn', Date.now());
    expect(await claim('t1', 'job-b')).toEqual([undefined]);
    // Waiting: the holder's job hash exists without finishedOn.
    await redis.hset(jobKey('job-b'), 'timestamp', Date.now());
    expect(await claim('t1', 'job-c')).toEqual(['job-b']);
    // Being added: provisional claim, no job hash yet; it expires on its own if its producer dies.
    expect(await claim('t2', 'job-d')).toEqual([undefined]);
    const ttl = await redis.pttl(claimKeyFor(prefix, 'iotda', PROJECT, 't2'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(PROVISIONAL_CLAIM_MS);
    expect(await claim('t2', 'job-e')).toEqual(['job-d']);
    // Confirmed, then its job removed after settling: taken over.
    await confirmClaims(redis, prefix, 'iotda', PROJECT, [{ taskId: 't2', jobId: 'job-d' }]);
    expect(await redis.pttl(claimKeyFor(prefix, 'iotda', PROJECT, 't2'))).toBe(-1);
    expect(await claim('t2', 'job-e')).toEqual([undefined]);
  });
});
