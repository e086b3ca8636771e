import { Job } from 'bullmq';
import { describe, expect, it } from 'vitest';
import type { DeleteJobData } from '../../src/queue.js';
import { iotdaTime } from '../../src/simulator/iotda.js';
import { DEFAULT_SIM_PROJECTS, type Simulator } from '../../src/simulator/server.js';
import { startWorkersWithQueue, useSimulators } from '../helpers/janitor.js';

const PROJECT = DEFAULT_SIM_PROJECTS.iotda[0] as string;
const OLD = new Date(Date.now() - 30 * 86_400_000).toISOString();
const fixture = useSimulators('safety');

/** Starts real workers, then pushes hand-made jobs straight into Redis, as an attacker or a bug could. */
async function workForgedJobs(jobs: DeleteJobData[]): Promise<{ sim: Simulator; jobs: Job<DeleteJobData>[] }> {
  const sim = await fixture.start();
  for (const [i, id] of ['1', '2', '3', '4', '5'].entries()) {
    sim.put('iotda', PROJECT, { task_id: id.repeat(24), task_type: 'createDevices', status: i === 0 ? 'Processing' : 'Success', create_time: iotdaTime(new Date(OLD)) });
  }
  const { queue, events } = await startWorkersWithQueue(fixture, sim, 'iotda', 'safety', { IOTDA_ATTEMPTS: '1' });
  const added = await Promise.all(jobs.map((data, i) => queue.add('delete', data, { jobId: `forged-${i}`, attempts: 1 })));
  await Promise.all(added.map((job) => job.waitUntilFinished(events).catch(() => undefined)));
  return { sim, jobs: await Promise.all(added.map(async (job) => (await Job.fromId<DeleteJobData>(queue, job.id ?? '')) as Job<DeleteJobData>)) };
}

const forged = (over: Partial<DeleteJobData> & { task?: Partial<DeleteJobData['tasks'][number]> }): DeleteJobData => ({
  provider: 'iotda', target: PROJECT, runId: 'forged',
  tasks: [{ id: '2'.repeat(24), states: ['Success'], agedFrom: { field: 'create_time', at: OLD }, ...over.task }],
  ...over,
});

describe('the worker treats every job in Redis as untrusted input', () => {
  it('never deletes for a project outside its configuration, a wrong provider, a non-terminal or unknown state, or a fresh or future timestamp', async () => {
    const { sim, jobs } = await workForgedJobs([
      forged({ target: 'someone-elses-project' }),
      forged({ provider: 'mpc' }),
      forged({ task: { id: '1'.repeat(24), states: ['Processing'] } }),
      forged({ task: { id: '3'.repeat(24), states: ['Exploded'] } }),
      forged({ task: { id: '4'.repeat(24), agedFrom: { field: 'create_time', at: new Date().toISOString() } } }),
      forged({ task: { id: '5'.repeat(24), agedFrom: { field: 'create_time', at: new Date(Date.now() + 86_400_000).toISOString() } } }),
      forged({ task: { id: '5'.repeat(24), agedFrom: { field: 'create_time', at: 'not a date' } } }),
    ]);
    expect(sim.counters.iotda.delete).toBe(0);
    expect(jobs[0]?.failedReason).toContain('out of scope');
    expect(jobs[1]?.failedReason).toContain('out of scope');
    for (const job of jobs.slice(2)) expect(job.returnvalue).toMatchObject({ results: [{ result: 'skipped' }] });
  });

  it('does delete a well-formed job for a stale terminal task (the control case)', async () => {
    const { sim, jobs } = await workForgedJobs([forged({})]);
    expect(jobs[0]?.returnvalue).toMatchObject({ results: [{ result: 'deleted' }] });
    expect(sim.deleted.map((d) => d.id)).toEqual(['2'.repeat(24)]);
  });
});
