import { describe, expect, it } from 'vitest';
import { iotdaTime } from '../../src/simulator/iotda.js';
import { DEFAULT_SIM_PROJECTS, type Simulator } from '../../src/simulator/server.js';
import { renderSummary } from '../../src/summary.js';
import { runJanitor, simulatorEnv, useSimulators } from '../helpers/janitor.js';

const PROJECT = DEFAULT_SIM_PROJECTS.iotda[0] as string;
const fixture = useSimulators('deadline');

function seed(s: Simulator, count: number): void {
  for (let n = 1; n <= count; n++) {
    s.put('iotda', PROJECT, { task_id: n.toString(16).padStart(24, '0'), task_type: 'createDevices', status: 'Success', create_time: iotdaTime(new Date(Date.now() - 30 * 86_400_000)) });
  }
}

function env(s: Simulator, extra: Record<string, string>) {
  return simulatorEnv(s, ['iotda'], fixture.prefix(), { IOTDA_TASK_TYPES: 'createDevices', ...extra });
}

describe('run deadline and produce-only runs', () => {
  it('produce enqueues and exits 0 without waiting for, or blaming, the workers', async () => {
    const sim = await fixture.start();
    seed(sim, 5);
    const report = await runJanitor(env(sim, {}), { mode: 'produce' });
    expect(report.exitCode).toBe(0);
    expect(report.stats[0]).toMatchObject({ enqueued: 5, unsettled: 0 });
    expect(sim.counters.iotda.delete).toBe(0);
  });

  it('stops waiting at JANITOR_MAX_RUNTIME, reports what is still pending, and exits 1', async () => {
    const sim = await fixture.start({ latencyMs: 1_500 });
    seed(sim, 6);
    const report = await runJanitor(env(sim, { JANITOR_MAX_RUNTIME: '2s', IOTDA_CONCURRENCY: '1' }));
    expect(report.exitCode).toBe(1);
    const stats = report.stats[0];
    expect(stats?.unsettled).toBeGreaterThan(0);
    expect((stats?.deleted ?? 0) + (stats?.unsettled ?? 0)).toBe(6);
    expect(renderSummary(report.stats, { dryRun: false })).toContain('still pending at exit');
  });

  it('reports listing cut short by the deadline as interrupted, not as a failed list API', async () => {
    const sim = await fixture.start({ latencyMs: 600 });
    seed(sim, 3);
    const report = await runJanitor(env(sim, { JANITOR_MAX_RUNTIME: '1s', IOTDA_TASK_TYPES: '' }));
    expect(report.exitCode).toBe(1);
    expect(report.stats[0]?.interrupted).toBe(true);
    expect(report.stats[0]?.listError).toBeUndefined();
  });
});
