import { setTimeout as sleep } from 'node:timers/promises';
import type { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import type { ProviderName } from '../../src/providers/catalog.js';
import type { DeleteJobData, DeleteJobResult } from '../../src/queue.js';
import { immError, immTime } from '../../src/simulator/imm.js';
import { iotdaTime } from '../../src/simulator/iotda.js';
import { mpcTime } from '../../src/simulator/mpc.js';
import { DEFAULT_SIM_PROJECTS, type Simulator } from '../../src/simulator/server.js';
import { workspaceTime } from '../../src/simulator/workspace.js';
import { produceOnly, runJanitor, simulatorEnv, useSimulators } from '../helpers/janitor.js';

const DAY = 86_400_000;
const OLD = new Date(Date.now() - 30 * DAY);
const project = (p: ProviderName) => DEFAULT_SIM_PROJECTS[p][0] as string;

const fixture = useSimulators('recheck');

function env(sim: Simulator, provider: ProviderName, extra: Record<string, string> = {}): Record<string, string> {
  return simulatorEnv(sim, [provider], fixture.prefix(), extra);
}

const deletesOf = (sim: Simulator, provider: ProviderName, id: string) => sim.requests.filter((r) => r.provider === provider && r.op === 'delete' && (r.taskId === id || r.body.includes(id)));

const upgradeTask = (id: string, status: string) => ({ task_id: id, task_type: 'firmwareUpgrade', status, create_time: iotdaTime(OLD) });

/** Two old IoTDA upgrade tasks, a (Fail) and b (`other`); task a is retried (running again) right after the listing. */
async function retriedAfterListing(other: string) {
  const sim = await fixture.start();
  const iotda = project('iotda');
  sim.put('iotda', iotda, upgradeTask('a'.repeat(24), 'Fail'));
  sim.put('iotda', iotda, upgradeTask('b'.repeat(24), other));
  sim.onAnswered({ provider: 'iotda', op: 'list' }, () => sim.restart('iotda', iotda, 'a'.repeat(24)));
  return { sim, iotda };
}

describe('a task that runs again between its listing and its delete', () => {
  it('never deletes an IMM Failed batch resumed after listing that finished seconds before the delete', async () => {
    const sim = await fixture.start();
    const imm = project('imm');
    sim.put('imm', imm, { Id: 'batch-resumed', State: 'Failed', CreateTime: immTime(OLD), UpdateTime: immTime(OLD) });
    sim.put('imm', imm, { Id: 'batch-control', State: 'Failed', CreateTime: immTime(OLD), UpdateTime: immTime(OLD) });
    sim.onAnswered({ provider: 'imm', op: 'list' }, () => {
      sim.restart('imm', imm, 'batch-resumed');
      sim.update('imm', imm, 'batch-resumed', { State: 'Succeeded', UpdateTime: immTime(new Date(Date.now() - 2_000)) });
    });
    const report = await runJanitor(env(sim, 'imm'));
    expect(sim.deleted.map((d) => d.id)).toEqual(['batch-control']);
    expect(deletesOf(sim, 'imm', 'batch-resumed')).toHaveLength(0);
    expect(report.stats[0]).toMatchObject({ candidates: 2, deleted: 1, skipped: { 'changed-before-delete': 1 } });
    expect(report.exitCode).toBe(0);
  });

  it('sends no DELETE for a VIAS batch restarted after listing', async () => {
    const sim = await fixture.start();
    const vias = project('vias');
    const batch = (id: string, name: string) => ({ id, batch_task_name: name, num_task: 2, created_at: OLD.getTime(), batch_task_status_info: { failed: 2, running: 0 } });
    sim.put('vias', vias, batch('a'.repeat(32), 'cameras-east'));
    sim.put('vias', vias, batch('b'.repeat(32), 'cameras-west'));
    sim.onAnswered({ provider: 'vias', op: 'list' }, () => sim.restart('vias', vias, 'a'.repeat(32)));
    const report = await runJanitor(env(sim, 'vias'));
    expect(deletesOf(sim, 'vias', 'a'.repeat(32))).toHaveLength(0);
    expect(sim.deleted.map((d) => d.id)).toEqual(['b'.repeat(32)]);
    expect(report.stats[0]).toMatchObject({ deleted: 1, skipped: { 'changed-before-delete': 1 }, failed: {} });
  });

  it('never deletes an IoTDA upgrade task retried after listing', async () => {
    const { sim, iotda } = await retriedAfterListing('PartialSuccess');
    const report = await runJanitor(env(sim, 'iotda', { IOTDA_TASK_TYPES: 'firmwareUpgrade' }));
    expect(deletesOf(sim, 'iotda', 'a'.repeat(24))).toHaveLength(0);
    expect(sim.records('iotda', iotda)).toMatchObject([{ task_id: 'a'.repeat(24), status: 'Processing' }]);
    expect(report.stats[0]).toMatchObject({ deleted: 1, skipped: { 'changed-before-delete': 1 }, failed: {} });
  });

  it('never acts on a re-read that answers for another task: an IoTDA task retried after listing, its re-read misrouted to a finished one', async () => {
    const { sim, iotda } = await retriedAfterListing('Success');
    // A gateway or cache in the way answers the re-read of task a with task b's (finished) record.
    sim.inject({ provider: 'iotda', op: 'get', taskId: 'a'.repeat(24), times: 10, response: { status: 200, body: { batchtask: upgradeTask('b'.repeat(24), 'Success') } } });
    const report = await runJanitor(env(sim, 'iotda', { IOTDA_TASK_TYPES: 'firmwareUpgrade' }));
    expect(deletesOf(sim, 'iotda', 'a'.repeat(24))).toHaveLength(0);
    expect(sim.records('iotda', iotda)).toMatchObject([{ task_id: 'a'.repeat(24), status: 'Processing' }]);
    expect(report.stats[0]).toMatchObject({ deleted: 1, skipped: { 'reread-inconclusive': 1 }, failed: {} });
  });

  it('never deletes an MPC record whose status changed after listing, and counts one deleted meanwhile as gone', async () => {
    const sim = await fixture.start();
    const mpc = project('mpc');
    for (const id of ['1001', '1002', '1003']) sim.put('mpc', mpc, { task_id: id, status: 'FAILED', create_time: mpcTime(OLD), end_time: mpcTime(OLD) });
    sim.onAnswered({ provider: 'mpc', op: 'list' }, () => {
      sim.update('mpc', mpc, '1001', { status: 'PROCESSING', end_time: '' });
      sim.remove('mpc', mpc, '1002');
    });
    const report = await runJanitor(env(sim, 'mpc'));
    expect(deletesOf(sim, 'mpc', '1001')).toHaveLength(0);
    expect(deletesOf(sim, 'mpc', '1002')).toHaveLength(0);
    expect(sim.deleted.map((d) => d.id)).toEqual(['1003']);
    expect(report.stats[0]).toMatchObject({ deleted: 1, gone: 1, skipped: { 'changed-before-delete': 1 }, failed: {} });
  });

  it('never sends a Workspace sub-job to batch-delete once it is running again', async () => {
    const sim = await fixture.start();
    const ws = project('workspace');
    const subJob = (id: string) => ({ id, job_id: 'parent-1', job_type: 'createDesktops', status: 'SUCCESS', begin_time: workspaceTime(OLD), end_time: workspaceTime(OLD) });
    sim.put('workspace', ws, subJob('ff8080a'));
    sim.put('workspace', ws, subJob('ff8080b'));
    sim.onAnswered({ provider: 'workspace', op: 'list' }, () => sim.update('workspace', ws, 'ff8080a', { status: 'RUNNING', end_time: '' }));
    const report = await runJanitor(env(sim, 'workspace'));
    expect(deletesOf(sim, 'workspace', 'ff8080a')).toHaveLength(0);
    expect(sim.deleted.map((d) => d.id)).toEqual(['ff8080b']);
    expect(report.stats[0]).toMatchObject({ deleted: 1, skipped: { 'changed-before-delete': 1 }, failed: {} });
  });
});

describe('re-reading several tasks in one call', () => {
  it('re-reads the Workspace sub-jobs of one delete call with one listing per parent job, not one call each', async () => {
    const sim = await fixture.start();
    const ws = project('workspace');
    const subJob = (id: string, parent: string) => ({ id, job_id: parent, job_type: 'createDesktops', status: 'SUCCESS', begin_time: workspaceTime(OLD), end_time: workspaceTime(OLD) });
    const ids = Array.from({ length: 10 }, (_, i) => `ff90${i.toString().padStart(2, '0')}`);
    ids.forEach((id, i) => sim.put('workspace', ws, subJob(id, i < 7 ? 'parent-a' : 'parent-b')));
    sim.onAnswered({ provider: 'workspace', op: 'list' }, () => sim.update('workspace', ws, 'ff9003', { status: 'RUNNING', end_time: '' }));
    const report = await runJanitor(env(sim, 'workspace'));
    const reReads = sim.requests.filter((r) => r.provider === 'workspace' && /(^|&)job_id=/.test(r.rawQuery));
    // One delete job of 10 sub-jobs, one delete call: its re-read is one listing of each parent.
    expect(reReads.map((r) => /job_id=([^&]+)/.exec(r.rawQuery)?.[1]).sort()).toEqual(['parent-a', 'parent-b']);
    expect(deletesOf(sim, 'workspace', 'ff9003')).toHaveLength(0);
    expect(sim.deleted.map((d) => d.id).sort()).toEqual(ids.filter((id) => id !== 'ff9003'));
    expect(report.stats[0]).toMatchObject({ deleted: 9, skipped: { 'changed-before-delete': 1 }, failed: {} });
  });
});

describe('errors from the re-read are handled like errors from the delete', () => {
  const suspended = (sim: Simulator) => sim.put('imm', project('imm'), { Id: 'batch-s', State: 'Suspended', CreateTime: immTime(OLD), UpdateTime: immTime(OLD) });

  it('waits out five Throttling.User answers to the re-read without spending an attempt, then deletes', async () => {
    const sim = await fixture.start();
    suspended(sim);
    sim.inject({ provider: 'imm', op: 'get', times: 5, response: { ...immError(400, 'Throttling.User', 'Request was denied due to user flow control.'), headers: { 'Retry-After': '0' } } });
    const report = await runJanitor(env(sim, 'imm', { IMM_STATES: 'Suspended', IMM_ATTEMPTS: '2' }));
    expect(sim.deleted.map((d) => d.id)).toEqual(['batch-s']);
    expect(sim.counters.imm.get).toBe(6);
    expect(report.stats[0]).toMatchObject({ deleted: 1, failed: {}, retries: 0 });
    expect(report.exitCode).toBe(0);
  });

  it('fails at once, after one attempt, when the re-read is refused with 403', async () => {
    const sim = await fixture.start();
    suspended(sim);
    sim.inject({ provider: 'imm', op: 'get', times: 10, response: immError(403, 'Forbidden.RAM', 'The user is not authorized to operate the specified resource.') });
    const report = await runJanitor(env(sim, 'imm', { IMM_STATES: 'Suspended', IMM_ATTEMPTS: '3' }));
    expect(sim.counters.imm.get).toBe(1);
    expect(sim.counters.imm.delete).toBe(0);
    expect(report.stats[0]?.failed).toEqual({ 'Forbidden.RAM: The user is not authorized to operate the specified resource.': 1 });
    expect(report.exitCode).toBe(1);
  });
});

/** Waits (up to 20 s) until one job of `queue` has settled; the first completed one. */
async function firstCompleted(queue: Queue<DeleteJobData, DeleteJobResult>) {
  const deadline = Date.now() + 20_000;
  while ((await queue.getJobs(['completed', 'failed'])).length < 1 && Date.now() < deadline) await sleep(100);
  const [job] = await queue.getJobs(['completed']);
  return job;
}

describe('a task the API cannot read back', () => {
  it('is not acted on when its listing is too old, even by a worker whose clock runs behind the producer\'s', async () => {
    const sim = await fixture.start();
    const vias = project('vias');
    sim.put('vias', vias, { id: 'd'.repeat(32), num_task: 1, created_at: OLD.getTime(), batch_task_status_info: { succeeded: 1 } });
    const produced = await produceOnly(fixture, env(sim, 'vias', { JANITOR_MAX_SNAPSHOT_AGE: '3s' }));
    expect(produced.report.stats[0]?.enqueued).toBe(1);
    await sleep(4_000); // the listing is now 4 s old, beyond the bound
    // A work pod on another node whose clock is 3 s behind: by its own clock the listing is 1 s old.
    produced.startWorkers(() => new Date(Date.now() - 3_000));
    const job = await firstCompleted(produced.queues.get('vias') as Queue<DeleteJobData, DeleteJobResult>);
    expect(job?.returnvalue?.results).toMatchObject([{ id: 'd'.repeat(32), result: 'skipped', reason: 'stale-snapshot' }]);
    expect(sim.counters.vias.delete).toBe(0);
  });

  it('is left for the next run when its listing is older than JANITOR_MAX_SNAPSHOT_AGE, and the next run deletes it', async () => {
    const sim = await fixture.start();
    const vias = project('vias');
    // No batch_task_name: VIAS has no other way to read one batch back.
    sim.put('vias', vias, { id: 'c'.repeat(32), num_task: 1, created_at: OLD.getTime(), batch_task_status_info: { succeeded: 1 } });
    const e = env(sim, 'vias', { JANITOR_MAX_SNAPSHOT_AGE: '1s' });
    const produced = await produceOnly(fixture, e);
    expect(produced.report.stats[0]?.enqueued).toBe(1);
    await sleep(1_500); // the job waits in the queue longer than the bound
    produced.startWorkers();
    const job = await firstCompleted(produced.queues.get('vias') as Queue<DeleteJobData, DeleteJobResult>);
    expect(job?.returnvalue?.results).toMatchObject([{ id: 'c'.repeat(32), result: 'skipped', reason: 'stale-snapshot' }]);
    expect(sim.counters.vias.delete).toBe(0);
    await produced.shutdown.close();

    // The next run lists it again (its claim is free) and, acting on a fresh listing, deletes it.
    const next = await runJanitor({ ...e, JANITOR_MAX_SNAPSHOT_AGE: '15m' });
    expect(next.stats[0]).toMatchObject({ enqueued: 1, deleted: 1 });
    expect(sim.deleted.map((d) => d.id)).toEqual(['c'.repeat(32)]);
  });
});
