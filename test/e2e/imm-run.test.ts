import { setTimeout as sleep } from 'node:timers/promises';
import type { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import type { DeleteJobData, DeleteJobResult } from '../../src/queue.js';
import { immError, immTime } from '../../src/simulator/imm.js';
import { DEFAULT_SIM_PROJECTS, type Simulator } from '../../src/simulator/server.js';
import { captureLogs, expectedDeletions, produceOnly, runJanitor, simulatorEnv, useSimulators } from '../helpers/janitor.js';

const DAY = 86_400_000;
const PROJECT = DEFAULT_SIM_PROJECTS.imm[0] as string;
const DEFAULT_STATES = ['Succeeded', 'Failed'];
const ago = (ms: number) => immTime(new Date(Date.now() - ms));

const fixture = useSimulators('imm');

function env(s: Simulator, extra: Record<string, string> = {}): Record<string, string> {
  return simulatorEnv(s, ['imm'], fixture.prefix(), extra);
}

const deletedIds = (s: Simulator, project = PROJECT) => s.deleted.filter((d) => d.provider === 'imm' && d.project === project).map((d) => d.id).sort();

describe('run against the IMM simulator', () => {
  it('deletes exactly the stale Succeeded and Failed batches, none that can resume, and a second run finds nothing', async () => {
    const sim = await fixture.start({ tasksPerProject: 300, seed: 7 });
    // Traps outside the seed facts, so the oracle expects them kept: a broken UpdateTime over an old
    // CreateTime, and a batch created long ago that finished an hour ago.
    sim.put('imm', PROJECT, { Id: 'batch-trap-bad-update', State: 'Succeeded', CreateTime: ago(40 * DAY), UpdateTime: '2020-11-10 03:50:28' });
    sim.put('imm', PROJECT, { Id: 'batch-trap-just-finished', State: 'Failed', CreateTime: ago(40 * DAY), UpdateTime: ago(3_600_000) });
    const expected = expectedDeletions(sim, 'imm', PROJECT, DEFAULT_STATES, 7 * DAY);
    expect(expected.length).toBeGreaterThan(50);
    const facts = sim.facts('imm', PROJECT);
    const resumableOld = facts.filter((f) => ['Ready', 'Suspended'].includes(f.states[0] ?? '') && (f.ageMs ?? 0) > 7 * DAY);
    expect(resumableOld.length).toBeGreaterThan(5);

    const logs = captureLogs();
    const report = await runJanitor(env(sim), { logs: logs.stream, logLevel: 'info' });
    expect(deletedIds(sim)).toEqual(expected);
    expect(report.exitCode).toBe(0);
    expect(report.stats[0]).toMatchObject({ provider: 'imm', target: PROJECT, listed: 302, deleted: expected.length, gone: 0 });
    expect(report.stats[0]?.skipped['state-not-selected']).toBeGreaterThan(resumableOld.length);
    expect(report.stats[0]?.skipped['unknown-state']).toBeGreaterThan(0);
    expect(report.stats[0]?.skipped['invalid-timestamp']).toBeGreaterThan(0);
    // Failed batches can resume (ResumeBatch): every delete is preceded by exactly one GetBatch.
    expect(sim.counters.imm.get).toBe(expected.length);
    const events = logs.lines.filter((l) => l.msg === 'task deleted');
    expect(events).toHaveLength(expected.length);
    expect(events[0]).toMatchObject({ provider: 'imm', target: PROJECT, requestId: expect.stringMatching(/^[0-9A-F-]{36}$/) });
    expect(JSON.stringify(logs.lines)).not.toContain('simulator-alibaba-secret');

    const again = await runJanitor(env(sim));
    expect(again.stats[0]).toMatchObject({ candidates: 0, enqueued: 0 });
  });

  it('deletes stale Ready and Suspended batches only when IMM_STATES names them, re-checking each with GetBatch', async () => {
    const sim = await fixture.start({ tasksPerProject: 300, seed: 9 });
    const states = ['Succeeded', 'Failed', 'Ready', 'Suspended'];
    const expected = expectedDeletions(sim, 'imm', PROJECT, states, 7 * DAY);
    const resumable = sim.facts('imm', PROJECT).filter((f) => expected.includes(f.id) && ['Ready', 'Suspended'].includes(f.states[0] ?? ''));
    expect(resumable.length).toBeGreaterThan(5);
    const report = await runJanitor(env(sim, { IMM_STATES: states.join(',') }));
    expect(deletedIds(sim)).toEqual(expected);
    expect(report.exitCode).toBe(0);
    expect(sim.counters.imm.get).toBe(expected.length);
  });

  it('lists and reports each of several IMM projects separately, deleting in the right project', async () => {
    const sim = await fixture.start({ tasksPerProject: 150, seed: 13, projects: { imm: ['a', 'b'] } });
    // The same id in both projects: finished in a, still running in b.
    sim.put('imm', 'a', { Id: 'batch-shared', State: 'Succeeded', CreateTime: ago(30 * DAY), UpdateTime: ago(20 * DAY) });
    sim.put('imm', 'b', { Id: 'batch-shared', State: 'Running', CreateTime: ago(30 * DAY), UpdateTime: ago(20 * DAY) });
    const report = await runJanitor(env(sim, { IMM_PROJECTS: 'a,b' }));
    expect(report.stats.map((s) => [s.target, s.listed])).toEqual([['a', 151], ['b', 151]]);
    expect(deletedIds(sim, 'a')).toEqual([...expectedDeletions(sim, 'imm', 'a', DEFAULT_STATES, 7 * DAY), 'batch-shared'].sort());
    expect(deletedIds(sim, 'b')).toEqual(expectedDeletions(sim, 'imm', 'b', DEFAULT_STATES, 7 * DAY));
    expect(report.stats.map((s) => s.deleted)).toEqual([deletedIds(sim, 'a').length, deletedIds(sim, 'b').length]);
    expect(sim.records('imm', 'b').find((r) => r.Id === 'batch-shared')).toMatchObject({ State: 'Running' });
    expect(report.exitCode).toBe(0);
  });

  it('waits out HTTP 400 throttling without spending an attempt, and counts ResourceNotFound as gone', async () => {
    const sim = await fixture.start();
    sim.put('imm', PROJECT, { Id: 'batch-throttled', State: 'Succeeded', UpdateTime: ago(30 * DAY) });
    sim.put('imm', PROJECT, { Id: 'batch-vanished', State: 'Failed', UpdateTime: ago(30 * DAY) });
    sim.inject({ provider: 'imm', op: 'delete', taskId: 'batch-throttled', times: 2, response: { ...immError(400, 'Throttling.User', 'Request was denied due to user flow control.'), headers: { 'Retry-After': '0' } } });
    sim.inject({ provider: 'imm', op: 'delete', taskId: 'batch-vanished', times: 1, response: immError(400, 'ResourceNotFound', 'The specified resource Batch is not found.') });
    const report = await runJanitor(env(sim, { IMM_ATTEMPTS: '1' }));
    expect(deletedIds(sim)).toEqual(['batch-throttled']);
    expect(report.stats[0]).toMatchObject({ deleted: 1, gone: 1, failed: {} });
    expect(report.exitCode).toBe(0);
  });
});

describe('IMM resumable batches', () => {
  it('never deletes a batch listed as Suspended that resumed before the worker reached it', async () => {
    const sim = await fixture.start();
    const old = ago(30 * DAY);
    for (const id of ['batch-resumed-running', 'batch-resumed-ready', 'batch-still-suspended']) {
      sim.put('imm', PROJECT, { Id: id, State: 'Suspended', CreateTime: ago(40 * DAY), UpdateTime: old });
    }
    const produced = await produceOnly(fixture, env(sim, { IMM_STATES: 'Suspended,Ready', IMM_ATTEMPTS: '1' }));
    expect(produced.report.stats[0]?.enqueued).toBe(3);

    // Between the listing and the worker: one batch resumes and runs, another is resumed and is
    // Ready again (a state DeleteBatch would accept). Only the untouched one may go.
    sim.put('imm', PROJECT, { Id: 'batch-resumed-running', State: 'Running', CreateTime: ago(40 * DAY), UpdateTime: ago(1_000) });
    sim.put('imm', PROJECT, { Id: 'batch-resumed-ready', State: 'Ready', CreateTime: ago(40 * DAY), UpdateTime: ago(1_000) });
    produced.startWorkers();
    const queue = produced.queues.get('imm') as Queue<DeleteJobData, DeleteJobResult>;
    const settled = async () => (await queue.getJobs(['completed', 'failed'])).filter((j) => j.finishedOn !== undefined);
    const deadline = Date.now() + 20_000;
    while ((await settled()).length < 3 && Date.now() < deadline) await sleep(100);

    expect(deletedIds(sim)).toEqual(['batch-still-suspended']);
    expect(sim.counters.imm.get).toBe(3);
    expect(sim.counters.imm.delete).toBe(1);
    const results = (await settled()).flatMap((j) => j.returnvalue?.results ?? []);
    expect(results.filter((r) => r.result === 'skipped').map((r) => [r.id, r.reason]).sort()).toEqual([
      ['batch-resumed-ready', 'changed-before-delete'], ['batch-resumed-running', 'changed-before-delete'],
    ]);
    expect(sim.records('imm', PROJECT).map((r) => [r.Id, r.State]).sort()).toEqual([['batch-resumed-ready', 'Ready'], ['batch-resumed-running', 'Running']]);
  });
});
