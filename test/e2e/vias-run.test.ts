import { describe, expect, it } from 'vitest';
import { apigThrottled, huaweiError, json } from '../../src/simulator/api.js';
import type { Simulator, SimulatorOptions } from '../../src/simulator/server.js';
import { captureLogs, expectedDeletions, runJanitor, simulatorEnv, useSimulators } from '../helpers/janitor.js';

const DAY = 86_400_000;
const PROJECTS = ['0a1b2c3d4e5f60718293a4b5c6d7e8f9', 'f9e8d7c6b5a4938271605f4e3d2c1b0a'];
const [A, B] = PROJECTS as [string, string];
// The default selection: sub-task states that can never run again; `stopped` is opt-in.
const DEFAULT_TERMINAL = ['succeeded', 'failed', 'create_failed', 'start_failed'];

const fixture = useSimulators('vias');

function env(s: Simulator, extra: Record<string, string> = {}) {
  return simulatorEnv(s, ['vias'], fixture.prefix(), { VIAS_PROJECT_ID: PROJECTS.join(','), ...extra });
}

const start = (options: SimulatorOptions = {}) => fixture.start({ projects: { vias: PROJECTS }, ...options });
const deletedIn = (s: Simulator, project: string) => s.deleted.filter((d) => d.provider === 'vias' && d.project === project).map((d) => d.id).sort();

let serial = 0;
/** Puts one batch in the API's own shape; by default 30 days old (ms), every sub-task succeeded. */
function putBatch(s: Simulator, over: Record<string, unknown> = {}, project = A): string {
  serial += 1;
  const id = serial.toString(16).padStart(32, '0');
  s.put('vias', project, { id, batch_task_name: `b${serial}`, num_task: 2, created_at: Date.now() - 30 * DAY, batch_task_status_info: { succeeded: 2, running: 0 }, ...over });
  return id;
}

// Whole runs over hundreds of tasks, each deleted after a fresh re-read: on a busy 2-core machine
// they outlast vitest's default 30 s without anything being wrong, so they get a larger budget.
describe('run against the VIAS simulator', { timeout: 120_000 }, () => {
  it('deletes exactly the stale terminal batches of every project, and a second run finds nothing left', async () => {
    const sim = await start({ tasksPerProject: 300, seed: 5 });
    const expected = PROJECTS.map((p) => expectedDeletions(sim, 'vias', p, DEFAULT_TERMINAL, 7 * DAY));
    for (const ids of expected) expect(ids.length).toBeGreaterThan(40);
    const logs = captureLogs();
    const e = env(sim);
    const report = await runJanitor(e, { logs: logs.stream, logLevel: 'info' });
    expect(report.exitCode).toBe(0);
    PROJECTS.forEach((p, i) => {
      expect(deletedIn(sim, p)).toEqual(expected[i]);
      const stats = report.stats.find((s) => s.target === p);
      expect(stats).toMatchObject({ listed: 300, deleted: expected[i]?.length, failed: {} });
      for (const reason of ['unknown-state', 'state-not-selected', 'invalid-timestamp', 'too-recent']) expect(stats?.skipped).toHaveProperty(reason);
    });
    const event = logs.lines.find((l) => l.msg === 'task deleted');
    expect(event).toMatchObject({ provider: 'vias', taskId: expect.any(String), state: expect.any(String), ageMs: expect.any(Number), requestId: expect.any(String) });
    expect(JSON.stringify(logs.lines)).not.toContain('simulator-huawei-secret');

    const again = await runJanitor(e);
    expect(again.stats.map((s) => s.candidates)).toEqual([0, 0]);
    expect(sim.deleted).toHaveLength(expected.flat().length);
  });

  it('in a dry run deletes nothing and reports exactly the set a real run deletes', async () => {
    const sim = await start({ tasksPerProject: 200, seed: 9 });
    const expected = PROJECTS.flatMap((p) => expectedDeletions(sim, 'vias', p, DEFAULT_TERMINAL, 7 * DAY)).sort();
    const logs = captureLogs();
    await runJanitor(env(sim, { JANITOR_DRY_RUN: 'true' }), { logs: logs.stream, logLevel: 'info' });
    expect(sim.counters.vias.delete).toBe(0);
    expect(logs.lines.filter((l) => l.msg === 'task would be deleted').map((l) => String(l.taskId)).sort()).toEqual(expected);
  });

  it('misses no stale batch in one run while workers delete behind the paging producer', async () => {
    const sim = await start({ latencyMs: 3 });
    // Three pages of 200; every delete is preceded by its re-read, so 450 batches make 900 calls.
    const ids = Array.from({ length: 450 }, (_, i) => putBatch(sim, { created_at: Date.now() - 30 * DAY + i * 1000 }));
    const report = await runJanitor(env(sim, { VIAS_CONCURRENCY: '8' }));
    expect(deletedIn(sim, A)).toEqual(ids.sort());
    expect(report.stats.find((s) => s.target === A)).toMatchObject({ listed: 450, deleted: 450 });
  });

  it('deletes a batch only when every sub-task state with a non-zero count is selected', async () => {
    const sim = await start();
    const zero = { pending: 0, running: 0, succeeded: 0, failed: 0 };
    const deletable = [
      putBatch(sim, { batch_task_status_info: { ...zero, succeeded: 3 } }),
      putBatch(sim, { batch_task_status_info: { SUCCEEDED: 1, FAILED: 2, RUNNING: 0 } }),
      putBatch(sim, { batch_task_status_info: { create_failed: 1, start_failed: 1, failed: '1', running: '0' } }),
    ];
    putBatch(sim, { batch_task_status_info: { ...zero, succeeded: 9, running: 1 } }); // one sub-task still running
    putBatch(sim, { batch_task_status_info: { SUCCEEDED: 4, PENDING: 1 } });
    putBatch(sim, { batch_task_status_info: { succeeded: 1, abnormal: 1 } });
    putBatch(sim, { batch_task_status_info: { succeeded: 1, frozen: 1 } });
    putBatch(sim, { batch_task_status_info: { succeeded: 1, scheduling: 1 } });
    const stopped = putBatch(sim, { batch_task_status_info: { succeeded: 1, stopped: 1 } }); // opt-in only
    putBatch(sim, { batch_task_status_info: zero }); // every count zero: no state at all
    putBatch(sim, { batch_task_status_info: undefined });
    putBatch(sim, { batch_task_status_info: { succeeded: 1, paused: 1 } }); // a state the docs do not list
    putBatch(sim, { batch_task_status_info: { succeeded: 1, running: 'n/a' } }); // unreadable count
    const e = env(sim);
    const report = await runJanitor(e);
    expect(deletedIn(sim, A)).toEqual([...deletable].sort());
    expect(report.stats.find((s) => s.target === A)?.skipped).toEqual({ 'state-not-selected': 6, 'unknown-state': 4 });
    expect(report.exitCode).toBe(0);

    const optIn = await runJanitor({ ...e, VIAS_STATES: 'SUCCEEDED,failed,create_failed,start_failed,stopped' });
    expect(deletedIn(sim, A)).toEqual([...deletable, stopped].sort());
    expect(optIn.stats.find((s) => s.target === A)?.skipped).toEqual({ 'state-not-selected': 5, 'unknown-state': 4 });
  });

  it('tells seconds from milliseconds and never deletes a batch dated implausibly, in the future or too recently', async () => {
    const sim = await start();
    const now = Date.now();
    const stale = [
      putBatch(sim, { created_at: Math.floor((now - 30 * DAY) / 1000) }),
      putBatch(sim, { created_at: String(Math.floor((now - 30 * DAY) / 1000)) }),
      putBatch(sim, { created_at: String(now - 30 * DAY) }),
      putBatch(sim, { created_at: now - 8 * DAY }),
    ];
    putBatch(sim, { created_at: Math.floor((now - 3 * DAY) / 1000) }); // recent, in seconds: read as ms it would look ancient
    putBatch(sim, { created_at: now - 6 * DAY });
    putBatch(sim, { created_at: Math.floor((now + DAY) / 1000) });
    putBatch(sim, { created_at: now + DAY });
    putBatch(sim, { created_at: 1_234_567 }); // neither seconds nor milliseconds of 2000-2100
    putBatch(sim, { created_at: 4_200_000_000_000_000 });
    putBatch(sim, { created_at: '2024-05-01T00:00:00Z' });
    putBatch(sim, { created_at: undefined });
    const report = await runJanitor(env(sim));
    expect(deletedIn(sim, A)).toEqual(stale.sort());
    expect(report.stats.find((s) => s.target === A)?.skipped).toEqual({
      'too-recent': 2, 'future-timestamp': 2, 'invalid-timestamp': 3, 'missing-timestamp': 1,
    });
  });

  it('retries a 200 whose sub-tasks partly failed, then fails the job with the error list recorded', async () => {
    const sim = await start();
    const id = putBatch(sim);
    const partial = json(200, { total_count: 2, failed_count: 1, succeed_count: 1, id, error_list: ['job 7f3a is busy'] });
    sim.inject({ provider: 'vias', op: 'delete', taskId: id, times: 2, response: partial });
    const report = await runJanitor(env(sim, { VIAS_ATTEMPTS: '2' }));
    expect(sim.counters.vias.delete).toBe(2);
    expect(sim.deleted).toHaveLength(0);
    const stats = report.stats.find((s) => s.target === A);
    expect(stats).toMatchObject({ deleted: 0, gone: 0, failed: { 'VIAS delete incomplete: 1 of 2 sub-tasks not deleted: job 7f3a is busy': 1 } });
    expect(report.exitCode).toBe(1);
  });

  it('deletes after a partial 200 once the retry succeeds', async () => {
    const sim = await start();
    const id = putBatch(sim);
    sim.inject({ provider: 'vias', op: 'delete', taskId: id, times: 1, response: json(200, { total_count: 2, failed_count: 0, succeed_count: 2, id, error_list: ['warning: slow'] }) });
    const report = await runJanitor(env(sim));
    expect(deletedIn(sim, A)).toEqual([id]);
    expect(report.stats.find((s) => s.target === A)).toMatchObject({ deleted: 1, retries: 1, failed: {} });
  });

  it('counts a missing batch as already gone, but never a 404 from APIG itself', async () => {
    const sim = await start();
    const gone = putBatch(sim);
    const wrongEndpoint = putBatch(sim, {}, B);
    sim.inject({ provider: 'vias', op: 'delete', taskId: gone, times: 1, response: huaweiError(404, 'VIAS.00010404', 'Not found.') });
    sim.inject({ provider: 'vias', op: 'delete', taskId: wrongEndpoint, times: 10, response: huaweiError(404, 'APIGW.0101', 'The API does not exist.') });
    const report = await runJanitor(env(sim));
    expect(report.stats.find((s) => s.target === A)).toMatchObject({ deleted: 0, gone: 1 });
    expect(report.stats.find((s) => s.target === B)).toMatchObject({ gone: 0, failed: { 'APIGW.0101: The API does not exist.': 1 } });
    expect(report.exitCode).toBe(1);
  });

  it('slows down on throttling without spending attempts', async () => {
    const sim = await start();
    const id = putBatch(sim);
    sim.inject({ provider: 'vias', op: 'delete', taskId: id, times: 3, response: { ...apigThrottled('r'), headers: { 'Retry-After': '0' } } });
    const report = await runJanitor(env(sim, { VIAS_ATTEMPTS: '1' }));
    expect(deletedIn(sim, A)).toEqual([id]);
    expect(report.stats.find((s) => s.target === A)).toMatchObject({ deleted: 1, retries: 0 });
  });
});
