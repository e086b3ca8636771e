// P_CONCURRENCY is a cap on tasks in flight across every worker, and also what a run may use: a run
// of a few ten-task jobs must not go one task at a time per job (src/delete-permits.ts).
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createProviders } from '../../src/providers/registry.js';
import { connectRedis, openQueues, startWorkers } from '../../src/run.js';
import { createShutdown } from '../../src/shutdown.js';
import { iotdaTime } from '../../src/simulator/iotda.js';
import { DEFAULT_SIM_PROJECTS, type Simulator } from '../../src/simulator/server.js';
import { captureLogs, produceOnly, runJanitor, simulatorEnv, useSimulators } from '../helpers/janitor.js';

const DAY = 86_400_000;
const PROJECT = DEFAULT_SIM_PROJECTS.iotda[0] as string;
const fixture = useSimulators('delete-permits');

function putTasks(s: Simulator, count: number): void {
  for (let n = 0; n < count; n++) {
    s.put('iotda', PROJECT, { task_id: n.toString(16).padStart(24, '0'), task_name: `t${n}`, task_type: 'createDevices', status: 'Success', create_time: iotdaTime(new Date(Date.now() - 30 * DAY)) });
  }
}

describe('delete permits', () => {
  it('runs the tasks of a job side by side: a run of fewer jobs than IOTDA_CONCURRENCY is not held to one delete per job', async () => {
    const sim = await fixture.start({ latencyMs: 80 });
    putTasks(sim, 30); // three jobs of ten
    const report = await runJanitor(simulatorEnv(sim, ['iotda'], fixture.prefix(), { IOTDA_TASK_TYPES: 'createDevices', IOTDA_CONCURRENCY: '10' }));
    expect(report.stats[0]).toMatchObject({ enqueued: 30, deleted: 30 });
    // One task at a time per job held this at 3; each active job brings two permits.
    expect(sim.counters.iotda.maxConcurrentDeletes).toBeGreaterThanOrEqual(5);
    expect(sim.counters.iotda.maxConcurrentDeletes).toBeLessThanOrEqual(6);
  });

  it('never lets the workers of two pods together run more than IOTDA_CONCURRENCY deletes', async () => {
    const sim = await fixture.start({ latencyMs: 60 });
    putTasks(sim, 90);
    const env = simulatorEnv(sim, ['iotda'], fixture.prefix(), { IOTDA_TASK_TYPES: 'createDevices', IOTDA_CONCURRENCY: '5' });
    const produced = await produceOnly(fixture, env);
    expect(produced.report.stats[0]?.enqueued).toBe(90);
    // Two workers with their own permits, as two pods have: the jobs spread over both.
    produced.startWorkers();
    produced.startWorkers();
    const deadline = Date.now() + 30_000;
    while (sim.deleted.length < 90 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(sim.deleted).toHaveLength(90);
    expect(sim.counters.iotda.maxConcurrentDeletes).toBeLessThanOrEqual(5);
    expect(sim.counters.iotda.maxConcurrentDeletes).toBeGreaterThanOrEqual(3);
  });

  // A rolling update that changes P_CONCURRENCY runs pods with both values on one prefix: the last
  // process to start sets how many jobs are active and the P every pod works its permits out from.
  /** A `work` pod: opens the queues as a starting process does (setting the active-job cap), then works. */
  async function startPod(env: Record<string, string>): Promise<void> {
    const config = loadConfig(env);
    const logger = createLogger('silent');
    const shutdown = createShutdown(logger, { graceMs: 5_000, handleSignals: false });
    fixture.onCleanup(() => shutdown.close());
    const queues = await openQueues(config, await connectRedis(config, shutdown, logger), shutdown, logger);
    startWorkers({ config, logger, providers: createProviders(config), shutdown }, queues);
  }

  it.each([
    // J = 2 active jobs, floor(3·a/2) permits for a of them: 3 in all, 2 while the jobs are on both pods
    { first: '10', last: '3', bound: 3, least: 2 },
    { first: '3', last: '10', bound: 10, least: 3 },
    // Across P = 16, where jobs bring more permits: the pod at 32 (four a job) must not bring four to
    // each of the five jobs that the pod at 10 lets be active.
    { first: '32', last: '10', bound: 10, least: 3 },
    { first: '10', last: '32', bound: 32, least: 3 },
  ])('keeps the tasks in flight within the IOTDA_CONCURRENCY of the process started last ($last after $first): at most $bound', async ({ first, last, bound, least }) => {
    const sim = await fixture.start({ latencyMs: 40 });
    putTasks(sim, 120);
    const prefix = fixture.prefix();
    const env = (concurrency: string) => simulatorEnv(sim, ['iotda'], prefix, { IOTDA_TASK_TYPES: 'createDevices', IOTDA_CONCURRENCY: concurrency });
    await startPod(env(first));
    await startPod(env(last));
    // The producer starts last, with the last pod's value, as the CronJob of the new version would.
    const produced = await produceOnly(fixture, env(last));
    expect(produced.report.stats[0]?.enqueued).toBe(120);
    const deadline = Date.now() + 30_000;
    while (sim.deleted.length < 120 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(sim.deleted).toHaveLength(120);
    expect(sim.counters.iotda.maxConcurrentDeletes).toBeLessThanOrEqual(bound);
    expect(sim.counters.iotda.maxConcurrentDeletes).toBeGreaterThanOrEqual(least);
  });

  it('says so when another process on the prefix set a different IOTDA_CONCURRENCY', async () => {
    const sim = await fixture.start();
    const env = simulatorEnv(sim, ['iotda'], fixture.prefix(), { IOTDA_TASK_TYPES: 'createDevices', IOTDA_CONCURRENCY: '4' });
    const quiet = captureLogs();
    await runJanitor(env, { mode: 'produce', logs: quiet.stream, logLevel: 'warn' });
    const again = captureLogs();
    await runJanitor(env, { mode: 'produce', logs: again.stream, logLevel: 'warn' });
    expect(again.lines.filter((l) => String(l.msg).startsWith('IOTDA_CONCURRENCY'))).toEqual([]);
    const changed = captureLogs();
    await runJanitor({ ...env, IOTDA_CONCURRENCY: '10' }, { mode: 'produce', logs: changed.stream, logLevel: 'warn' });
    const warning = changed.lines.find((l) => String(l.msg).startsWith('IOTDA_CONCURRENCY'));
    expect(warning?.msg).toBe('IOTDA_CONCURRENCY: the queue allowed 2 active delete jobs, set by another process on this queue prefix (another IOTDA_CONCURRENCY, or an older version); now 5 (IOTDA_CONCURRENCY=10). Give every process on the prefix the same value');
  });
});
