import { Job } from 'bullmq';
import { describe, expect, it } from 'vitest';
import type { DeleteJobData } from '../../src/queue.js';
import { iotdaTime } from '../../src/simulator/iotda.js';
import { DEFAULT_SIM_PROJECTS, type Simulator } from '../../src/simulator/server.js';
import { renderSummary } from '../../src/summary.js';
import { runJanitor, simulatorEnv, startWorkersWithQueue, useSimulators } from '../helpers/janitor.js';

const DAY = 86_400_000;
const PROJECT = DEFAULT_SIM_PROJECTS.iotda[0] as string;
const fixture = useSimulators('valves');

let serial = 0;
/** One IoTDA task in the API's own shape; ids grow so marker paging sees them in a stable order. */
function put(sim: Simulator, ageDays: number, over: { name?: string; type?: string; status?: string } = {}): string {
  serial += 1;
  const id = `${serial.toString(16).padStart(8, '0')}bbbbbbbbbbbbbbbb`;
  sim.put('iotda', PROJECT, {
    task_id: id, task_name: over.name ?? `job-${serial}`, task_type: over.type ?? 'createDevices', status: over.status ?? 'Success',
    create_time: iotdaTime(new Date(Date.now() - ageDays * DAY)),
  });
  return id;
}

function env(sim: Simulator, extra: Record<string, string> = {}): Record<string, string> {
  return simulatorEnv(sim, ['iotda'], fixture.prefix(), { IOTDA_TASK_TYPES: 'createDevices,deleteDevices', ...extra });
}

const deletedIds = (sim: Simulator) => sim.deleted.map((d) => d.id).sort();

describe('P_EXCLUDE and P_INCLUDE', () => {
  it('never enqueues a task whose id, name or type an exclude pattern matches, and names the variable', async () => {
    const sim = await fixture.start({ projects: { iotda: [PROJECT] } });
    const byName = put(sim, 30, { name: 'prod-nightly' });
    const byType = put(sim, 30, { type: 'deleteDevices' });
    const plain = put(sim, 30);
    const report = await runJanitor(env(sim, { IOTDA_EXCLUDE: '^prod-|^deleteDevices$' }));
    expect(report.exitCode).toBe(0);
    expect(deletedIds(sim)).toEqual([plain]);
    expect(sim.records('iotda', PROJECT).map((r) => r.task_id).sort()).toEqual([byName, byType].sort());
    expect(report.stats[0]).toMatchObject({ candidates: 1, enqueued: 1, skipped: { protected: 2 } });
  });

  it('deletes only tasks an include pattern matches', async () => {
    const sim = await fixture.start({ projects: { iotda: [PROJECT] } });
    const scratch = put(sim, 30, { name: 'scratch-1' });
    put(sim, 30, { name: 'keepme' });
    const report = await runJanitor(env(sim, { IOTDA_INCLUDE: '^scratch-' }));
    expect(report.exitCode).toBe(0);
    expect(deletedIds(sim)).toEqual([scratch]);
    expect(report.stats[0]?.skipped).toEqual({ 'not-included': 1 });
  });

  it('is applied again by the worker: a job queued before the pattern was set is not deleted', async () => {
    const sim = await fixture.start({ projects: { iotda: [PROJECT] } });
    const id = put(sim, 30, { name: 'prod-nightly' });
    const { queue, events } = await startWorkersWithQueue(fixture, sim, 'iotda', 'valves', { IOTDA_EXCLUDE: '^prod-', IOTDA_ATTEMPTS: '1' });
    const task = { id, states: ['Success'], name: 'prod-nightly', type: 'createDevices', agedFrom: { field: 'create_time', at: new Date(Date.now() - 30 * DAY).toISOString() } };
    const job = await queue.add('delete', { provider: 'iotda', target: PROJECT, runId: 'earlier', tasks: [task] } satisfies DeleteJobData, { jobId: 'earlier-1', attempts: 1 });
    await job.waitUntilFinished(events);
    expect((await Job.fromId(queue, 'earlier-1'))?.returnvalue).toMatchObject({ results: [{ result: 'skipped', reason: 'changed-before-delete', detail: expect.stringContaining('protected by IOTDA_EXCLUDE') }] });
    expect(sim.counters.iotda.delete).toBe(0);
  });
});

describe('P_KEEP_LATEST', () => {
  it('keeps the newest N stale tasks per task type, whatever their age, across pages', async () => {
    const sim = await fixture.start({ projects: { iotda: [PROJECT] } });
    // 60 of one type (two pages of 50) and 3 of another; the newest are the youngest ages.
    const created = Array.from({ length: 60 }, (_, i) => ({ id: put(sim, 10 + i), age: 10 + i }));
    const other = [put(sim, 40, { type: 'deleteDevices' }), put(sim, 41, { type: 'deleteDevices' }), put(sim, 42, { type: 'deleteDevices' })];
    put(sim, 1); // too recent: counts as one of the newest 5 of its type
    const report = await runJanitor(env(sim, { IOTDA_KEEP_LATEST: '5' }));
    expect(report.exitCode).toBe(0);
    // createDevices: the 1-day task and the four youngest stale ones are kept; deleteDevices: all three (< 5).
    const kept = created.filter((c) => c.age < 14).map((c) => c.id);
    expect(kept).toHaveLength(4);
    expect(deletedIds(sim)).toEqual(created.filter((c) => c.age >= 14).map((c) => c.id).sort());
    for (const id of [...kept, ...other]) expect(sim.records('iotda', PROJECT).some((r) => r.task_id === id)).toBe(true);
    expect(report.stats[0]?.skipped).toEqual({ 'newest-kept': 7, 'too-recent': 1 });
  });
});

describe('P_MAX_DELETES and JANITOR_MAX_DELETES', () => {
  async function fiveStale(): Promise<{ sim: Simulator; byAge: string[] }> {
    const sim = await fixture.start({ projects: { iotda: [PROJECT] } });
    const byAge = [50, 40, 30, 20, 10].map((age) => put(sim, age)); // oldest first
    put(sim, 1);
    return { sim, byAge };
  }

  it('refuses to enqueue anything of a provider with more candidates than its cap, says why and exits 5', async () => {
    const { sim } = await fiveStale();
    const report = await runJanitor(env(sim, { IOTDA_MAX_DELETES: '4' }));
    expect(report.exitCode).toBe(5);
    expect(sim.counters.iotda.delete).toBe(0);
    expect(report.stats[0]).toMatchObject({ listed: 6, candidates: 5, enqueued: 0, heldBack: 5, skipped: { 'too-recent': 1 } });
    // Refused on the counting listing, it is not listed a second time: one list call per task type.
    expect(sim.counters.iotda.list).toBe(2);
    expect(renderSummary(report.stats, { dryRun: false })).toContain('REFUSED (5 candidate(s) not deleted): 5 deletion candidates in iotda exceed IOTDA_MAX_DELETES=4');
  });

  it('deletes everything when the candidates are within the cap (a share of the listed tasks)', async () => {
    const { sim, byAge } = await fiveStale();
    // 6 listed, 5 candidates: 90% allows 5.
    const report = await runJanitor(env(sim, { JANITOR_MAX_DELETES: '90%' }));
    expect(report.exitCode).toBe(0);
    expect(deletedIds(sim)).toEqual([...byAge].sort());
    // A counting listing, then the enqueueing one (two task types each).
    expect(sim.counters.iotda.list).toBe(4);
  });

  it('refuses the whole run over JANITOR_MAX_DELETES given as a share', async () => {
    const { sim } = await fiveStale();
    const report = await runJanitor(env(sim, { JANITOR_MAX_DELETES: '50%' }));
    expect(report.exitCode).toBe(5);
    expect(sim.counters.iotda.delete).toBe(0);
    expect(report.stats[0]?.refused).toContain('exceed JANITOR_MAX_DELETES=50% (3 of 6 listed)');
  });

  it('deletes the oldest N instead with JANITOR_MAX_DELETES_MODE=truncate, and exits 0', async () => {
    const { sim, byAge } = await fiveStale();
    const report = await runJanitor(env(sim, { IOTDA_MAX_DELETES: '2', JANITOR_MAX_DELETES_MODE: 'truncate' }));
    expect(report.exitCode).toBe(0);
    expect(deletedIds(sim)).toEqual(byAge.slice(0, 2).sort());
    expect(report.stats[0]).toMatchObject({ candidates: 5, enqueued: 2, heldBack: 3, capped: 'IOTDA_MAX_DELETES=2' });
  });
});

describe('clock sanity', () => {
  it('refuses to delete for a provider whose Date header is off by more than JANITOR_MAX_CLOCK_SKEW, and exits 5', async () => {
    const sim = await fixture.start({ projects: { iotda: [PROJECT] }, clockSkewMs: 20 * 60_000 });
    put(sim, 30);
    const report = await runJanitor(env(sim));
    expect(report.exitCode).toBe(5);
    expect(sim.counters.iotda.delete).toBe(0);
    expect(report.stats[0]?.refused).toMatch(/clock \(HTTP Date header\) is (19m5\ds|20m\d*s?) ahead of the local clock, more than JANITOR_MAX_CLOCK_SKEW=5m/);
  });

  it('is checked again by the worker on its re-read: a worker whose clock runs ahead deletes nothing', async () => {
    // The provider's clock is 3 days behind this worker's (as if the worker's clock ran 3 days ahead,
    // say in a Deployment on another node). By the provider's clock the task is 5 days old, under the
    // 7-day retention; by the worker's own clock it would look 8 days old.
    const sim = await fixture.start({ projects: { iotda: [PROJECT] } });
    sim.knobs.clockSkewMs = -3 * DAY;
    const id = put(sim, 8);
    const { queue, events } = await startWorkersWithQueue(fixture, sim, 'iotda', 'clock', { IOTDA_ATTEMPTS: '1' });
    const task = { id, states: ['Success'], type: 'createDevices', agedFrom: { field: 'create_time', at: new Date(Date.now() - 8 * DAY).toISOString() } };
    const job = await queue.add('delete', { provider: 'iotda', target: PROJECT, runId: 'skewed', tasks: [task] } satisfies DeleteJobData, { jobId: 'skewed-1', attempts: 1 });
    const result = await job.waitUntilFinished(events) as { results: unknown[] };
    expect(sim.counters.iotda.delete).toBe(0);
    expect(result.results).toEqual([{
      id, result: 'skipped', reason: 'clock-skew', detail: expect.stringMatching(/clock \(HTTP Date header\) is (2d23h59m5\ds|3d\d*s?) behind the local clock, more than JANITOR_MAX_CLOCK_SKEW=5m/) as unknown,
    }]);
  });

  it('exits 5 when the clock is off at the worker\'s re-read though it was fine at the listing, and says so in the summary', async () => {
    const sim = await fixture.start({ projects: { iotda: [PROJECT] } });
    put(sim, 30);
    // The provider's clock jumps 3 days back once the listing's answer is out (its Date header still right).
    sim.onAnswered({ provider: 'iotda', op: 'list' }, () => setImmediate(() => { sim.knobs.clockSkewMs = -3 * DAY; }));
    const report = await runJanitor(env(sim, { IOTDA_TASK_TYPES: 'createDevices' }));
    expect(sim.counters.iotda.delete).toBe(0);
    expect(report.stats[0], JSON.stringify(report.stats[0])).toMatchObject({ skipped: { 'clock-skew': 1 } });
    expect(report.exitCode).toBe(5);
    expect(renderSummary(report.stats, { dryRun: false })).toContain('kept at the re-read before delete: clock-skew 1');
  });

  it('deletes when the skew is within the bound', async () => {
    const sim = await fixture.start({ projects: { iotda: [PROJECT] }, clockSkewMs: -2 * 60_000 });
    const stale = put(sim, 30);
    const report = await runJanitor(env(sim));
    expect(report.exitCode).toBe(0);
    expect(deletedIds(sim)).toEqual([stale]);
  });
});
