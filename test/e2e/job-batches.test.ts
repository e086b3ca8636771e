// Delete jobs carry up to ten tasks (tasksPerJob; issue 8: Redis per queued task), deleted one call each
// for single-delete APIs: each task re-read just before its own delete, failures kept per task.
import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { tasksPerJob } from '../../src/delete-permits.js';
import { queueNameFor, type DeleteJobData } from '../../src/queue.js';
import { huaweiError } from '../../src/simulator/api.js';
import { iotdaTime } from '../../src/simulator/iotda.js';
import { DEFAULT_SIM_PROJECTS, type Simulator } from '../../src/simulator/server.js';
import { runJanitor, simulatorEnv, useSimulators } from '../helpers/janitor.js';
import { REDIS_URL } from '../helpers/redis.js';

const DAY = 86_400_000;
const PROJECT = DEFAULT_SIM_PROJECTS.iotda[0] as string;
const fixture = useSimulators('job-batches');

function env(s: Simulator, prefix: string, extra: Record<string, string> = {}) {
  return simulatorEnv(s, ['iotda'], prefix, { IOTDA_TASK_TYPES: 'createDevices', ...extra });
}

function putTasks(s: Simulator, from: number, count: number): string[] {
  return Array.from({ length: count }, (_, i) => {
    const id = (from + i).toString(16).padStart(24, '0');
    s.put('iotda', PROJECT, { task_id: id, task_name: `t${from + i}`, task_type: 'createDevices', status: 'Success', create_time: iotdaTime(new Date(Date.now() - 30 * DAY)) });
    return id;
  });
}

describe('delete jobs of several tasks', () => {
  it('puts up to ten tasks in one job, type standing in for an equal label', async () => {
    const perJob = tasksPerJob(1);
    expect(perJob).toBe(10);
    const sim = await fixture.start();
    const ids = putTasks(sim, 1, 2 * perJob + 5);
    const prefix = fixture.prefix();
    const report = await runJanitor(env(sim, prefix), { mode: 'produce' });
    expect(report.stats[0]?.enqueued).toBe(2 * perJob + 5);
    const queue = new Queue<DeleteJobData>(queueNameFor('iotda'), { connection: { url: REDIS_URL }, prefix });
    try {
      const jobs = await queue.getJobs(['wait']);
      expect(jobs.map((j) => j.data.tasks.length).sort((a, b) => b - a)).toEqual([perJob, perJob, 5]);
      expect(jobs.flatMap((j) => j.data.tasks.map((t) => t.id)).sort()).toEqual(ids);
      const task = jobs[0]?.data.tasks[0];
      expect(task).toMatchObject({ type: 'createDevices', name: expect.stringMatching(/^t\d+$/) });
      expect(task).not.toHaveProperty('label');
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });

  it('re-reads each task just before its own delete, one task after another', async () => {
    const sim = await fixture.start();
    const ids = putTasks(sim, 100, 8);
    const report = await runJanitor(env(sim, fixture.prefix(), { IOTDA_CONCURRENCY: '1' }));
    expect(report.stats[0]).toMatchObject({ deleted: 8 });
    const calls = sim.requests.filter((r) => r.op === 'get' || r.op === 'delete').map((r) => `${r.op} ${r.taskId}`);
    // Newest first, as listed; each delete right after its own re-read.
    expect(calls).toEqual([...ids].reverse().flatMap((id) => [`get ${id}`, `delete ${id}`]));
  });

  it('deletes the other tasks of a job when one fails for good, and counts only that one as failed', async () => {
    const sim = await fixture.start();
    const ids = putTasks(sim, 200, 6);
    const refused = ids[2] as string;
    sim.inject({ provider: 'iotda', op: 'delete', taskId: refused, times: 1, response: huaweiError(400, 'IOTDA.014111', 'The task cannot be deleted.') });
    const report = await runJanitor(env(sim, fixture.prefix()));
    expect(sim.deleted.map((d) => d.id).sort()).toEqual(ids.filter((id) => id !== refused));
    expect(report.stats[0]).toMatchObject({ deleted: 5, failed: { 'IOTDA.014111: The task cannot be deleted.': 1 } });
    expect(report.exitCode).toBe(1);
  });

  it('retries only the task whose delete failed; the job\'s other tasks are not deleted twice', async () => {
    const sim = await fixture.start();
    const ids = putTasks(sim, 300, 6);
    const flaky = ids[4] as string;
    sim.inject({ provider: 'iotda', op: 'delete', taskId: flaky, times: 2, response: huaweiError(503, 'APIGW.0103', 'backend unavailable') });
    sim.inject({ provider: 'iotda', op: 'get', taskId: ids[1], times: 1, response: huaweiError(503, 'APIGW.0103', 'backend unavailable') });
    const report = await runJanitor(env(sim, fixture.prefix()));
    expect(sim.deleted.map((d) => d.id).sort()).toEqual(ids);
    const deleteCalls = (id: string) => sim.requests.filter((r) => r.op === 'delete' && r.taskId === id).length;
    expect(ids.map(deleteCalls)).toEqual(ids.map((id) => (id === flaky ? 3 : 1)));
    expect(report.stats[0]).toMatchObject({ deleted: 6, retries: 2 });
    expect(report.exitCode).toBe(0);
  });

  it('stops a job between tasks when the run closes: what it deleted is counted, the rest stays queued for the next run', async () => {
    const sim = await fixture.start();
    const ids = putTasks(sim, 400, tasksPerJob(1)); // one job
    const prefix = fixture.prefix();
    const first = await runJanitor(env(sim, prefix, { IOTDA_RATE_LIMIT: '2/s', IOTDA_CONCURRENCY: '1', JANITOR_MAX_RUNTIME: '2s' }));
    const deletedFirst = sim.deleted.length;
    expect(deletedFirst).toBeGreaterThan(0);
    expect(deletedFirst).toBeLessThan(ids.length);
    expect(first.stats[0]).toMatchObject({ deleted: deletedFirst, unsettled: ids.length - deletedFirst });
    expect(first.exitCode).toBe(1);

    const second = await runJanitor(env(sim, prefix));
    expect(sim.deleted.map((d) => d.id).sort()).toEqual(ids);
    expect(second.stats[0]).toMatchObject({ alreadyQueued: ids.length - deletedFirst, otherRuns: { deleted: ids.length - deletedFirst, pending: 0 } });
    expect(second.exitCode).toBe(0);
  });
});
