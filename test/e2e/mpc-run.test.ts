import { randomBytes } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { huaweiError, json } from '../../src/simulator/api.js';
import { mpcTime } from '../../src/simulator/mpc.js';
import { mpcCancelCalls } from '../helpers/provider.js';
import type { Simulator } from '../../src/simulator/server.js';
import { captureLogs, expectedDeletions, runJanitor, simulatorEnv, useSimulators } from '../helpers/janitor.js';

const DAY = 86_400_000;
const TERMINAL = ['SUCCEED', 'FAILED', 'CANCELED'];
// Fresh project ids per test, so the simulator's cancel log of one test never leaks into another.
let A = '';
let B = '';
beforeEach(() => { [A, B] = [randomBytes(16).toString('hex'), randomBytes(16).toString('hex')]; });

const fixture = useSimulators('mpc');

function env(s: Simulator, extra: Record<string, string> = {}) {
  return simulatorEnv(s, ['mpc'], fixture.prefix(), { MPC_PROJECT_ID: `${A},${B}`, ...extra });
}

const ago = (ms: number) => mpcTime(new Date(Date.now() - ms));

function putTask(s: Simulator, id: number, over: Record<string, unknown> = {}, project = A): string {
  s.put('mpc', project, { task_id: String(id), status: 'SUCCEED', create_time: ago(31 * DAY), start_time: ago(30 * DAY), end_time: ago(30 * DAY), ...over });
  return String(id);
}

const deletedIn = (s: Simulator, project: string) => s.deleted.filter((d) => d.provider === 'mpc' && d.project === project).map((d) => d.id).sort();

/** Every record still stored has the state the seeder gave it: nothing was canceled or otherwise changed. */
function expectStatesUntouched(s: Simulator, project: string) {
  const seeded = new Map(s.facts('mpc', project).map((f) => [f.id, f.states[0]]));
  for (const record of s.records('mpc', project)) expect(record.status).toBe(seeded.get(String(record.task_id)));
}

// Whole runs over hundreds of tasks, each deleted after a fresh re-read: on a busy 2-core machine
// they outlast vitest's default 30 s without anything being wrong, so they get a larger budget.
describe('run against the MPC simulator', { timeout: 120_000 }, () => {
  it('deletes exactly the stale finished records of both projects, and never cancels a task', async () => {
    const sim = await fixture.start({ tasksPerProject: 300, seed: 23, projects: { mpc: [A, B] } });
    const expected = { a: expectedDeletions(sim, 'mpc', A, TERMINAL, 7 * DAY), b: expectedDeletions(sim, 'mpc', B, TERMINAL, 7 * DAY) };
    expect(expected.a.length).toBeGreaterThan(50);
    // Seeded ids repeat across projects with different records: a cross-project mix-up shows here.
    expect(expected.a).not.toEqual(expected.b);
    const e = env(sim);
    const logs = captureLogs();
    const first = await runJanitor(e, { logs: logs.stream, logLevel: 'info' });
    expect(first.exitCode).toBe(0);
    expect(first.stats.map((s) => s.target)).toEqual([A, B]);
    // The seed holds finished records without a usable age; the oracle keeps them, so must we.
    expect(sim.facts('mpc', A).filter((f) => TERMINAL.includes(f.states[0] ?? '') && f.ageMs === undefined).length).toBeGreaterThan(0);
    expect(logs.lines.filter((l) => l.msg === 'task deleted')[0]).toMatchObject({ provider: 'mpc', target: A, requestId: expect.any(String) as string });

    // The walk runs last page first, so deletes behind it never shift an unread record: one run
    // deletes the whole set, and a second finds nothing left to enqueue.
    for (const s of first.stats) expect(s.listed).toBe(300);
    const again = await runJanitor(e);
    expect(again.stats.map((s) => s.enqueued)).toEqual([0, 0]);
    expect(deletedIn(sim, A)).toEqual(expected.a);
    expect(deletedIn(sim, B)).toEqual(expected.b);
    expect(sim.counters.mpc.delete).toBe(expected.a.length + expected.b.length);
    expect(mpcCancelCalls(sim, A)).toEqual([]);
    expect(mpcCancelCalls(sim, B)).toEqual([]);
    expectStatesUntouched(sim, A);
    expectStatesUntouched(sim, B);
  });

  it('never deletes or cancels a queued or running task, however old', async () => {
    const sim = await fixture.start({ projects: { mpc: [A, B] } });
    for (const [i, status] of ['INIT', 'WAITING', 'PROCESSING'].entries()) {
      putTask(sim, 10 + i, { status, create_time: ago(400 * DAY), start_time: undefined, end_time: undefined });
    }
    const report = await runJanitor(env(sim));
    expect(report.exitCode).toBe(0);
    expect(sim.counters.mpc.delete).toBe(0);
    expect(mpcCancelCalls(sim, A)).toEqual([]);
    expect(sim.records('mpc', A).map((r) => r.status)).toEqual(['INIT', 'WAITING', 'PROCESSING']);
  });

  it('ages a record from end_time, and keeps one whose end_time is present but malformed', async () => {
    const sim = await fixture.start({ projects: { mpc: [A, B] } });
    const recent = putTask(sim, 20, { create_time: ago(60 * DAY), end_time: ago(DAY) });
    const malformed = putTask(sim, 21, { create_time: ago(60 * DAY), end_time: '20241345996000' });
    const numeric = putTask(sim, 22, { create_time: Number(ago(31 * DAY)), end_time: Number(ago(30 * DAY)) });
    const canceledQueued = putTask(sim, 23, { status: 'CANCELED', create_time: ago(9 * DAY), start_time: undefined, end_time: '' });
    const report = await runJanitor(env(sim));
    expect(deletedIn(sim, A)).toEqual([numeric, canceledQueued].sort());
    expect(report.stats[0]?.skipped).toEqual({ 'too-recent': 1, 'invalid-timestamp': 1 });
    expect(sim.records('mpc', A).map((r) => String(r.task_id)).sort()).toEqual([recent, malformed]);
  });

  it('deletes only in the project a record was listed in, when the same task id exists in both', async () => {
    const sim = await fixture.start({ projects: { mpc: [A, B] } });
    const id = putTask(sim, 30, {}, A);
    putTask(sim, 30, { end_time: ago(DAY) }, B);
    putTask(sim, 31, { status: 'PROCESSING', end_time: undefined }, B);
    const report = await runJanitor(env(sim));
    expect(report.stats.map((s) => [s.target, s.deleted])).toEqual([[A, 1], [B, 0]]);
    expect(sim.deleted).toEqual([{ provider: 'mpc', project: A, id }]);
    expect(sim.records('mpc', B)).toHaveLength(2);
  });

  it('fails MPC.10211 for a record that still exists permanently, keeping the code and message', async () => {
    const sim = await fixture.start({ projects: { mpc: [A, B] } });
    const id = putTask(sim, 40);
    sim.inject({ provider: 'mpc', op: 'delete', taskId: id, times: 10, response: huaweiError(403, 'MPC.10211', 'The packaging task record cannot be deleted.') });
    const report = await runJanitor(env(sim));
    expect(report.exitCode).toBe(1);
    expect(report.stats[0]).toMatchObject({ deleted: 0, gone: 0, retries: 0 });
    expect(Object.keys(report.stats[0]?.failed ?? {})).toEqual([expect.stringMatching(/^MPC\.10211: The packaging task record cannot be deleted\..*SUCCEED/)]);
    expect(sim.counters.mpc.delete).toBe(1);
    expect(sim.records('mpc', A)).toHaveLength(1);
  });

  it('counts MPC.10211 as already gone when the record no longer exists', async () => {
    const sim = await fixture.start({ projects: { mpc: [A, B] } });
    // Listed, then deleted by someone else before the worker got to it: the store never holds it.
    sim.inject({ provider: 'mpc', op: 'list', times: 1, response: json(200, { total: 1, tasks: [{ task_id: 41, status: 'FAILED', create_time: 20200101000000, end_time: 20200101000100 }] }) });
    const report = await runJanitor(env(sim));
    expect(report.exitCode).toBe(0);
    expect(report.stats[0]).toMatchObject({ deleted: 0, gone: 1 });
    expect(sim.counters.mpc.get).toBe(1);
  });

  it('slows down on APIG throttling without spending attempts, then deletes', async () => {
    const sim = await fixture.start({ projects: { mpc: [A, B] } });
    const id = putTask(sim, 50);
    sim.inject({ provider: 'mpc', op: 'delete', taskId: id, times: 2, response: { ...huaweiError(429, 'APIGW.0308', 'The request is throttled.'), headers: { 'Retry-After': '0' } } });
    const report = await runJanitor(env(sim, { MPC_ATTEMPTS: '1' }));
    expect(sim.deleted.map((d) => d.id)).toEqual([id]);
    expect(report.stats[0]).toMatchObject({ deleted: 1, retries: 0 });
  });
});
