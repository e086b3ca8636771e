import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { huaweiError } from '../../src/simulator/api.js';
import { iotdaTime } from '../../src/simulator/iotda.js';
import { DEFAULT_SIM_PROJECTS, type Simulator } from '../../src/simulator/server.js';
import { simulatorEnvironment } from '../../src/simulator/env.js';
import { workspaceTime } from '../../src/simulator/workspace.js';
import { renderSummary, type TargetStats } from '../../src/summary.js';
import { runCli, startCli } from '../helpers/cli.js';
import { runJanitor, simulatorEnv, useSimulators } from '../helpers/janitor.js';

const DAY = 86_400_000;
const IOTDA = DEFAULT_SIM_PROJECTS.iotda[0] as string;
const WORKSPACE = DEFAULT_SIM_PROJECTS.workspace[0] as string;
const OLD = new Date(Date.now() - 30 * DAY);
const fixture = useSimulators('ownership');

function putIotda(sim: Simulator, count: number, project = IOTDA): string[] {
  return Array.from({ length: count }, (_, n) => {
    const id = (n + 1).toString(16).padStart(24, '0');
    sim.put('iotda', project, { task_id: id, task_type: 'createDevices', status: 'Success', create_time: iotdaTime(OLD) });
    return id;
  });
}

function putWorkspace(sim: Simulator, count: number): string[] {
  return Array.from({ length: count }, (_, n) => {
    const id = `ff8080${n.toString(16).padStart(26, '0')}`;
    sim.put('workspace', WORKSPACE, { id, job_id: `parent-${n}`, job_type: 'createDesktops', status: 'SUCCESS', begin_time: workspaceTime(OLD), end_time: workspaceTime(OLD) });
    return id;
  });
}

const deletedBy = (sim: Simulator, provider: string) => sim.deleted.filter((d) => d.provider === provider).map((d) => d.id);
const sum = (stats: readonly TargetStats[], pick: (s: TargetStats) => number) => stats.reduce((n, s) => n + pick(s), 0);

describe('a run owns every candidate it finds', () => {
  it('after a kill -9 mid-delete, the next run waits for the crashed run\'s jobs (stalled ones included), deletes everything and exits 0', async () => {
    const sim = await fixture.start({ latencyMs: 60 });
    const ids = putIotda(sim, 40);
    const env = simulatorEnv(sim, ['iotda'], fixture.prefix(), {
      IOTDA_TASK_TYPES: 'createDevices', IOTDA_CONCURRENCY: '2', IOTDA_RATE_LIMIT: '20/s', JANITOR_JOB_LOCK: '2s', JANITOR_MAX_RUNTIME: '60s',
    });
    const first = startCli(['run'], env);
    for (let i = 0; i < 600 && deletedBy(sim, 'iotda').length < 5; i++) await sleep(50);
    first.child.kill('SIGKILL');
    expect((await first.done).code).toBeNull();
    await sleep(300); // let a delete already on the wire land
    const before = deletedBy(sim, 'iotda').length;
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThan(ids.length);

    const second = await runCli(['run'], env);
    expect(second.code).toBe(0);
    expect(deletedBy(sim, 'iotda').sort()).toEqual(ids);
    expect(sim.records('iotda', IOTDA)).toHaveLength(0);
    // Every task the crashed run queued is waited for and shown under "queued by another run".
    expect(second.stdout).toMatch(/already queued by another run [1-9]/);
    const other = /of those queued by another run .*: deleted (\d+), already gone (\d+)/.exec(second.stdout);
    const own = /deleted (\d+), already gone (\d+), failed 0/.exec(second.stdout);
    expect(other).not.toBeNull();
    // What the second run says it (or the jobs it waited for) deleted is what the provider saw after the crash.
    expect(Number(own?.[1]) + Number(other?.[1])).toBe(ids.length - before);
  }, 90_000);

  it('exits 1 naming what is still pending when the deadline comes before the earlier run\'s jobs settle', async () => {
    const sim = await fixture.start();
    putIotda(sim, 6);
    const prefix = fixture.prefix();
    const env = simulatorEnv(sim, ['iotda'], prefix, { IOTDA_TASK_TYPES: 'createDevices', IOTDA_RATE_LIMIT: '1/s' });
    // An earlier run that only enqueued (like a crashed one): its jobs wait for a worker.
    expect((await runJanitor(env, { mode: 'produce' })).exitCode).toBe(0);
    const report = await runJanitor({ ...env, JANITOR_MAX_RUNTIME: '3s' });
    expect(report.exitCode).toBe(1);
    const stats = report.stats[0];
    expect(stats?.alreadyQueued).toBe(6);
    // Counted in tasks, once each: what was deleted by the end, plus what is still pending, is all of them.
    expect((stats?.otherRuns.deleted ?? 0) + (stats?.otherRuns.pending ?? 0)).toBe(6);
    expect(stats?.otherRuns.deleted).toBe(deletedBy(sim, 'iotda').length);
    expect(stats?.otherRuns.pending).toBeGreaterThan(0);
    expect(renderSummary(report.stats, { dryRun: false })).toContain('still pending at exit');
  });
});

describe('true summaries', () => {
  it('counts a failure in another run\'s job that this run found on two pages (its pages shifted), and exits 1', async () => {
    const sim = await fixture.start({ latencyMs: 20 });
    const ids = putIotda(sim, 300);
    const env = simulatorEnv(sim, ['iotda'], fixture.prefix(), { IOTDA_TASK_TYPES: 'createDevices', IOTDA_ATTEMPTS: '1', IOTDA_RATE_LIMIT: '1000/s' });
    // An earlier run enqueued everything (jobs of ten, five to a page of 50) and stopped.
    const produced = await runCli(['produce'], env);
    expect(produced.code).toBe(0);
    // The five newest go meanwhile: every later page starts five tasks earlier, so the job holding
    // positions 50-59 of the first listing is met on two pages of the next one.
    for (const id of ids.slice(-5)) sim.remove('iotda', IOTDA, id);
    // Position 57 of the first listing (newest first): on the second page of the next one.
    const refused = ids[300 - 1 - 57] as string;
    sim.inject({ provider: 'iotda', op: 'delete', taskId: refused, times: 5, response: huaweiError(403, 'IOTDA.000005', 'Forbidden.') });
    const result = await runCli(['run'], env);
    expect(sim.deleted).toHaveLength(294);
    expect(result.stdout).toMatch(/already queued by another run 295/);
    expect(result.stdout).toMatch(/of those queued by another run .*: deleted 294, already gone 0, (?:kept 0, )?failed 1/);
    expect(result.code).toBe(1);
  });

  it('two simultaneous runs never count one deletion twice, batches included', async () => {
    const sim = await fixture.start({ latencyMs: 5 });
    const iotda = putIotda(sim, 30);
    const workspace = putWorkspace(sim, 45);
    const env = simulatorEnv(sim, ['iotda', 'workspace'], fixture.prefix(), { IOTDA_TASK_TYPES: 'createDevices' });
    const reports = await Promise.all([runJanitor(env), runJanitor(env)]);
    for (const report of reports) expect(report.exitCode).toBe(0);
    expect(deletedBy(sim, 'iotda').sort()).toEqual(iotda);
    expect(deletedBy(sim, 'workspace').sort()).toEqual(workspace);
    const all = reports.flatMap((r) => r.stats);
    for (const provider of ['iotda', 'workspace'] as const) {
      const stats = all.filter((s) => s.provider === provider);
      expect(sum(stats, (s) => s.deleted)).toBe(deletedBy(sim, provider).length);
      // Each run accounts for every candidate it saw: its own outcome, or the other run's.
      for (const s of stats) {
        expect(s.deleted + s.gone + s.otherRuns.deleted + s.otherRuns.gone + s.unsettled + s.otherRuns.pending).toBe(s.candidates);
      }
    }
  });

  it('counts deletions that finish while the run closes at its deadline, and pending tasks, not jobs', async () => {
    // One batch of 25: its 25 re-reads and its delete take about 8 s, so the delete lands while the run
    // closes (deadline 3 s), inside the one shutdown budget (10 s in runJanitor).
    const sim = await fixture.start({ latencyMs: 300 });
    putWorkspace(sim, 25);
    const report = await runJanitor(simulatorEnv(sim, ['workspace'], fixture.prefix(), { JANITOR_MAX_RUNTIME: '3s', WORKSPACE_CONCURRENCY: '1' }));
    expect(report.exitCode).toBe(1);
    const stats = report.stats[0];
    expect(stats?.deleted).toBe(deletedBy(sim, 'workspace').length);
    expect(stats?.deleted).toBeGreaterThan(0);
    expect((stats?.deleted ?? 0) + (stats?.unsettled ?? 0)).toBe(25);
  });

  it('shows one provider\'s real deletions when the deadline cuts another provider\'s listing, and marks unreached targets', async () => {
    const fast = await fixture.start();
    const slowProjects = ['aaaa0000aaaa0000aaaa0000aaaa0001', 'aaaa0000aaaa0000aaaa0000aaaa0002'];
    const slow = await fixture.start({ latencyMs: 3_000, projects: { iotda: slowProjects } });
    const ws = putWorkspace(fast, 12);
    putIotda(slow, 3, slowProjects[0]);
    putIotda(slow, 3, slowProjects[1]);
    const env = simulatorEnv(fast, ['workspace', 'iotda'], fixture.prefix(), {
      ...simulatorEnvironment(slow.url, ['iotda']), IOTDA_PROJECT_ID: slowProjects.join(','), IOTDA_TASK_TYPES: 'createDevices', IOTDA_LIST_CONCURRENCY: '1', JANITOR_MAX_RUNTIME: '2s',
    });
    const report = await runJanitor(env);
    expect(report.exitCode).toBe(1);
    const byTarget = new Map(report.stats.map((s) => [`${s.provider}/${s.target}`, s]));
    expect(byTarget.get(`workspace/${WORKSPACE}`)?.deleted).toBe(ws.length);
    expect(deletedBy(fast, 'workspace')).toHaveLength(ws.length);
    // The listing order rotates daily; whichever project comes second is the one never reached.
    const unreached = slowProjects.filter((p) => byTarget.get(`iotda/${p}`)?.notReached === true);
    expect(unreached).toHaveLength(1);
    const text = renderSummary(report.stats, { dryRun: false });
    expect(text).toContain(`iotda ${unreached[0] ?? ''}: NOT REACHED`);
    expect(text).toContain(`workspace ${WORKSPACE}: listed 12, candidates 12, deleted 12`);
  });
});
