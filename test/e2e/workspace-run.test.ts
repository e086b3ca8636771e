import { randomBytes } from 'node:crypto';
import { Job } from 'bullmq';
import { describe, expect, it } from 'vitest';
import type { DeleteJobData } from '../../src/queue.js';
import { apigThrottled } from '../../src/simulator/api.js';
import type { Simulator } from '../../src/simulator/server.js';
import { WKS_CODES, wksError, workspaceTime } from '../../src/simulator/workspace.js';
import { workspaceDeleteCalls } from '../helpers/provider.js';
import { captureLogs, expectedDeletions, runJanitor, simulatorEnv, startWorkersWithQueue, useSimulators } from '../helpers/janitor.js';

const DAY = 86_400_000;
const TERMINAL = ['SUCCESS', 'FAILED'];
const OLD = new Date(Date.now() - 30 * DAY);

const fixture = useSimulators('workspace');

// Huawei project ids are 32 hexadecimal characters.
const newProject = () => randomBytes(16).toString('hex');

function env(s: Simulator, projects: readonly string[], extra: Record<string, string> = {}): Record<string, string> {
  return simulatorEnv(s, ['workspace'], fixture.prefix(), { WORKSPACE_PROJECT_ID: projects.join(','), ...extra });
}

const subJobId = (n: number) => `ff8080${n.toString(16).padStart(26, '0')}`;

function putJob(s: Simulator, project: string, n: number, over: Record<string, unknown> = {}): string {
  const id = subJobId(n);
  s.put('workspace', project, { id, job_id: `parent-${n}`, job_type: 'createDesktops', status: 'SUCCESS', begin_time: workspaceTime(OLD), end_time: workspaceTime(OLD), ...over });
  return id;
}

// Whole runs over hundreds of tasks, each deleted after a fresh re-read: on a busy 2-core machine
// they outlast vitest's default 30 s without anything being wrong, so they get a larger budget.
describe('run against the Workspace simulator', { timeout: 120_000 }, () => {
  it('deletes exactly the stale terminal sub-jobs of two projects, by sub-job id, at most 10 per call, never by status', async () => {
    const projects = [newProject(), newProject()];
    const s = await fixture.start({ tasksPerProject: 1100, seed: 17, projects: { workspace: projects } });
    const logs = captureLogs();
    const report = await runJanitor(env(s, projects), { logs: logs.stream, logLevel: 'info' });
    expect(report.exitCode).toBe(0);

    for (const project of projects) {
      const expected = expectedDeletions(s, 'workspace', project, TERMINAL, 7 * DAY);
      expect(expected.length).toBeGreaterThan(400);
      const deleted = s.deleted.filter((d) => d.provider === 'workspace' && d.project === project).map((d) => d.id).sort();
      expect(deleted).toEqual(expected);
      const stats = report.stats.find((st) => st.target === project);
      expect(stats).toMatchObject({ listed: 1100, deleted: expected.length, gone: 0, failed: {} });
      expect(stats?.skipped['not-deletable-type']).toBeGreaterThan(0);
      expect(stats?.skipped['invalid-timestamp']).toBeGreaterThan(0);

      const calls = workspaceDeleteCalls(s, project);
      const sizes = calls.map((c) => c.jobIds?.length ?? 0);
      expect(Math.max(...sizes)).toBeLessThanOrEqual(10);
      expect(sizes.filter((n) => n > 1).length).toBeGreaterThan(50);
      expect(calls.every((c) => c.deleteByStatus === undefined && c.status === 200)).toBe(true);
      // Every id sent is a sub-job id; no parent job_id ever goes into job_ids.
      const facts = new Set(s.facts('workspace', project).map((f) => f.id));
      const sent = calls.flatMap((c) => c.jobIds ?? []);
      expect(sent.every((id) => facts.has(String(id)))).toBe(true);
      // The types the API refuses were never even tried, and are all still there.
      const undeletable = s.facts('workspace', project).filter((f) => f.undeletable).map((f) => f.id);
      expect(undeletable.length).toBeGreaterThan(0);
      expect(sent.some((id) => undeletable.includes(String(id)))).toBe(false);
      const left = new Set(s.records('workspace', project).map((r) => r.id));
      expect(undeletable.every((id) => left.has(id))).toBe(true);
    }
    expect(logs.lines.filter((l) => l.msg === 'task deleted')).toHaveLength(s.deleted.length);

    // A second run finds nothing the first one should have deleted; it may only find sub-jobs that
    // were younger than the retention at seeding and have aged past it while this test ran.
    const firstRun = new Set(s.deleted.map((d) => d.id));
    const youngAtSeed = new Set(projects.flatMap((p) => s.facts('workspace', p)).filter((f) => (f.ageMs ?? Infinity) <= 7 * DAY).map((f) => f.id));
    await runJanitor(env(s, projects));
    const secondRun = s.deleted.map((d) => d.id).filter((id) => !firstRun.has(id));
    expect(secondRun.filter((id) => !youngAtSeed.has(id))).toEqual([]);
  });

  it('retries a throttled or failing batch call as a whole, and every sub-job ends deleted', async () => {
    const project = newProject();
    const sim = await fixture.start({ projects: { workspace: [project] } });
    const ids = Array.from({ length: 25 }, (_, i) => putJob(sim, project, i));
    sim.inject({ provider: 'workspace', op: 'delete', times: 1, response: { ...apigThrottled('r'), headers: { 'Retry-After': '1' } } });
    sim.inject({ provider: 'workspace', op: 'delete', times: 1, response: wksError(500, WKS_CODES.internal, 'Internal error.') });
    const report = await runJanitor(env(sim, [project], { WORKSPACE_CONCURRENCY: '1' }));
    expect(sim.deleted.map((d) => d.id).sort()).toEqual(ids);
    expect(report.stats[0]).toMatchObject({ deleted: 25, retries: 1, failed: {} });
    expect(report.exitCode).toBe(0);
  });
});

describe('a delete job whose sub-jobs changed after listing', () => {
  it('deletes the others when one id vanished and one became undeletable, reporting each per id', async () => {
    const project = newProject();
    const s = await fixture.start({ projects: { workspace: [project] } });
    const ids = Array.from({ length: 10 }, (_, i) => putJob(s, project, i));
    const vanished = putJob(s, project, 99);
    const refused = putJob(s, project, 50);
    const batch = [...ids.slice(0, 4), vanished, ...ids.slice(4, 8), refused];
    // After the last of the ten re-reads, before the delete call: one vanishes, one turns undeletable.
    s.onAnswered({ provider: 'workspace', op: 'get', nth: batch.length }, () => {
      s.remove('workspace', project, vanished);
      s.update('workspace', project, refused, { job_type: 'applyWorkspace' });
    });
    const job = await workForgedJob(s, project, batch);

    expect(s.deleted.map((d) => d.id).sort()).toEqual(ids.slice(0, 8).sort());
    expect(job.failedReason).toContain(WKS_CODES.subJobNotDeletable);
    expect(job.attemptsMade).toBe(1);
    const done = new Map((job.data.done ?? []).map((d) => [d.id, d.result]));
    expect(done.get(vanished)).toBe('gone');
    expect(ids.slice(0, 8).every((id) => done.get(id) === 'deleted')).toBe(true);
    expect(done.has(refused)).toBe(false);
    expect(s.records('workspace', project).map((r) => r.id).sort()).toEqual([...ids.slice(8), refused].sort());
    const sizes = workspaceDeleteCalls(s, project).map((c) => c.jobIds?.length);
    expect(sizes[0]).toBe(10);
    expect(Math.max(...(sizes as number[]))).toBeLessThanOrEqual(10);
  });
});

/** Starts real workers and pushes one delete job, as the producer would have enqueued it before the records changed. */
async function workForgedJob(s: Simulator, project: string, taskIds: readonly string[]): Promise<Job<DeleteJobData>> {
  const { queue, events } = await startWorkersWithQueue(fixture, s, 'workspace', 'workspace-forged', { WORKSPACE_PROJECT_ID: project, WORKSPACE_ATTEMPTS: '3' });
  const parentOf = (id: string) => String(s.records('workspace', project).find((r) => r.id === id)?.job_id);
  const tasks = taskIds.map((id) => ({ id, states: ['SUCCESS'], agedFrom: { field: 'end_time', at: OLD.toISOString() }, label: 'createDesktops', lookup: parentOf(id) }));
  const data = { provider: 'workspace' as const, target: project, runId: 'forged', tasks, listedAt: new Date().toISOString() };
  const added = await queue.add('delete', data, { jobId: 'forged-batch', attempts: 3 });
  await added.waitUntilFinished(events).catch(() => undefined);
  return (await Job.fromId<DeleteJobData>(queue, added.id ?? '')) as Job<DeleteJobData>;
}
