import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { iotdaTime } from '../../src/simulator/iotda.js';
import { DEFAULT_SIM_PROJECTS, type Simulator } from '../../src/simulator/server.js';
import { workspaceTime } from '../../src/simulator/workspace.js';
import { runCli, startCli } from '../helpers/cli.js';
import { simulatorEnv, useSimulators } from '../helpers/janitor.js';

const IOTDA = DEFAULT_SIM_PROJECTS.iotda[0] as string;
const WORKSPACE = DEFAULT_SIM_PROJECTS.workspace[0] as string;
const OLD = new Date(Date.now() - 30 * 86_400_000);
const fixture = useSimulators('true-summary');

function seed(sim: Simulator, iotda: number, workspace: number): void {
  for (let n = 1; n <= iotda; n++) {
    sim.put('iotda', IOTDA, { task_id: n.toString(16).padStart(24, '0'), task_type: 'createDevices', status: 'Success', create_time: iotdaTime(OLD) });
  }
  for (let n = 0; n < workspace; n++) {
    sim.put('workspace', WORKSPACE, { id: `ff8080${n.toString(16).padStart(26, '0')}`, job_id: `parent-${n}`, job_type: 'createDesktops', status: 'SUCCESS', begin_time: workspaceTime(OLD), end_time: workspaceTime(OLD) });
  }
}

/** What a printed summary says each provider deleted: this run's own deletions, and those of the other runs' jobs it waited for. */
function summaryCounts(stdout: string) {
  const sumOf = (re: RegExp) => [...stdout.matchAll(re)].reduce((n, m) => n + Number(m[1]), 0);
  return {
    own: sumOf(/: listed \d+, candidates \d+, deleted (\d+),/g),
    others: sumOf(/of those queued by another run .*?: deleted (\d+),/g),
    candidates: sumOf(/: listed \d+, candidates (\d+),/g),
    settledOwn: sumOf(/: listed \d+, candidates \d+, deleted \d+, already gone (\d+),/g) + sumOf(/, failed (\d+), retries/g),
    pendingOwn: sumOf(/enqueued \d+, already queued by another run \d+, still pending at exit (\d+)/g),
  };
}

describe('the summary equals what the provider saw', () => {
  it('SIGTERM mid-run: deletions that finish while the run closes are counted; pending is counted in tasks', async () => {
    const sim = await fixture.start({ latencyMs: 150 });
    seed(sim, 40, 30);
    const run = startCli(['run'], simulatorEnv(sim, ['iotda', 'workspace'], fixture.prefix(), {
      IOTDA_TASK_TYPES: 'createDevices', IOTDA_CONCURRENCY: '2', JANITOR_SHUTDOWN_GRACE: '20s',
    }));
    fixture.onCleanup(() => Promise.resolve(run.child.kill('SIGKILL')));
    for (let i = 0; i < 400 && sim.deleted.length < 8; i++) await sleep(25);
    run.child.kill('SIGTERM');
    const result = await run.done;
    expect(result.code).toBe(1);
    const counts = summaryCounts(result.stdout);
    // Every delete the provider saw is in the summary, none twice: in-flight ones finished within the grace.
    expect(counts.own).toBe(sim.deleted.length);
    expect(counts.own).toBeLessThan(70);
    // Every candidate is accounted for, in tasks (a Workspace job holds a batch of them).
    expect(counts.own + counts.settledOwn + counts.pendingOwn).toBe(counts.candidates);
  }, 90_000);

  it('two runs at once (Workspace batches included): their summaries together equal the provider\'s deletions', async () => {
    const sim = await fixture.start({ latencyMs: 5 });
    seed(sim, 30, 45);
    const env = simulatorEnv(sim, ['iotda', 'workspace'], fixture.prefix(), { IOTDA_TASK_TYPES: 'createDevices' });
    const [a, b] = await Promise.all([runCli(['run'], env), runCli(['run'], env)]);
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    expect(sim.deleted).toHaveLength(75);
    expect(summaryCounts(a.stdout).own + summaryCounts(b.stdout).own).toBe(75);
    // What one run waited for on the other's jobs is reported apart, never as its own deletions.
    for (const r of [a, b]) {
      const c = summaryCounts(r.stdout);
      expect(c.own + c.others).toBeLessThanOrEqual(75);
    }
  }, 90_000);
});
