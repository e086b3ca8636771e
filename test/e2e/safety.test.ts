import { Job, Queue, QueueEvents } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createProviders } from '../../src/providers/registry.js';
import { queueNameFor, type DeleteJobData } from '../../src/queue.js';
import { connectRedis, openQueues, startWorkers } from '../../src/run.js';
import { createShutdown } from '../../src/shutdown.js';
import { iotdaTime } from '../../src/simulator/iotda.js';
import { DEFAULT_SIM_PROJECTS, startSimulator, type Simulator } from '../../src/simulator/server.js';
import { simulatorEnv } from '../helpers/janitor.js';
import { dropPrefix, REDIS_URL, uniquePrefix } from '../helpers/redis.js';

const PROJECT = DEFAULT_SIM_PROJECTS.iotda[0] as string;
const OLD = new Date(Date.now() - 30 * 86_400_000).toISOString();
let sim: Simulator | undefined;
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await sim?.close();
  sim = undefined;
});

/** Starts real workers, then pushes hand-made jobs straight into Redis, as an attacker or a bug could. */
async function workForgedJobs(jobs: DeleteJobData[]): Promise<Job<DeleteJobData>[]> {
  sim = await startSimulator();
  for (const [i, id] of ['1', '2', '3', '4', '5'].entries()) {
    sim.put('iotda', PROJECT, { task_id: id.repeat(24), task_type: 'createDevices', status: i === 0 ? 'Processing' : 'Success', create_time: iotdaTime(new Date(OLD)) });
  }
  const prefix = uniquePrefix('safety');
  cleanups.push(() => dropPrefix(prefix));
  const config = loadConfig(simulatorEnv(sim, ['iotda'], prefix, { IOTDA_ATTEMPTS: '1' }));
  const logger = createLogger('silent');
  const shutdown = createShutdown(logger, { stepTimeoutMs: 5_000, handleSignals: false });
  cleanups.push(() => shutdown.close());
  const queues = await openQueues(config, await connectRedis(config, shutdown), shutdown);
  startWorkers({ config, logger, providers: createProviders(config), shutdown }, queues);
  const queue = new Queue<DeleteJobData>(queueNameFor('iotda'), { connection: { url: REDIS_URL }, prefix });
  const events = new QueueEvents(queueNameFor('iotda'), { connection: { url: REDIS_URL }, prefix });
  cleanups.push(() => queue.close(), () => events.close());
  await events.waitUntilReady();
  const added = await Promise.all(jobs.map((data, i) => queue.add('delete', data, { jobId: `forged-${i}`, attempts: 1 })));
  await Promise.all(added.map((job) => job.waitUntilFinished(events).catch(() => undefined)));
  return Promise.all(added.map(async (job) => (await Job.fromId<DeleteJobData>(queue, job.id ?? '')) as Job<DeleteJobData>));
}

const forged = (over: Partial<DeleteJobData> & { task?: Partial<DeleteJobData['tasks'][number]> }): DeleteJobData => ({
  provider: 'iotda', target: PROJECT, runId: 'forged',
  tasks: [{ id: '2'.repeat(24), states: ['Success'], agedFrom: { field: 'create_time', at: OLD }, ...over.task }],
  ...over,
});

describe('the worker treats every job in Redis as untrusted input', () => {
  it('never deletes for a project outside its configuration, a wrong provider, a non-terminal or unknown state, or a fresh or future timestamp', async () => {
    const jobs = await workForgedJobs([
      forged({ target: 'someone-elses-project' }),
      forged({ provider: 'mpc' }),
      forged({ task: { id: '1'.repeat(24), states: ['Processing'] } }),
      forged({ task: { id: '3'.repeat(24), states: ['Exploded'] } }),
      forged({ task: { id: '4'.repeat(24), agedFrom: { field: 'create_time', at: new Date().toISOString() } } }),
      forged({ task: { id: '5'.repeat(24), agedFrom: { field: 'create_time', at: new Date(Date.now() + 86_400_000).toISOString() } } }),
      forged({ task: { id: '5'.repeat(24), agedFrom: { field: 'create_time', at: 'not a date' } } }),
    ]);
    expect(sim?.counters.iotda.delete).toBe(0);
    expect(jobs[0]?.failedReason).toContain('out of scope');
    expect(jobs[1]?.failedReason).toContain('out of scope');
    for (const job of jobs.slice(2)) expect(job.returnvalue).toMatchObject({ results: [{ result: 'skipped' }] });
  });

  it('does delete a well-formed job for a stale terminal task (the control case)', async () => {
    const jobs = await workForgedJobs([forged({})]);
    expect(jobs[0]?.returnvalue).toMatchObject({ results: [{ result: 'deleted' }] });
    expect(sim?.deleted.map((d) => d.id)).toEqual(['2'.repeat(24)]);
  });
});
