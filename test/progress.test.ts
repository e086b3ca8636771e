import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.js';
import { createProgressReporter, progressOf, renderProgressLine } from '../src/progress.js';
import { newTargetStats } from '../src/summary.js';
import { simulatorEnv, useSimulators } from './helpers/janitor.js';
import { runCli } from './helpers/cli.js';
import { captureLogs } from './helpers/janitor.js';

function stats(provider: 'imm' | 'iotda', target: string, done: { deleted: number; gone?: number; failed?: number; changed?: number }, enqueued: number) {
  const s = newTargetStats(provider, target, 0);
  s.enqueued = enqueued;
  s.deleted = done.deleted;
  s.gone = done.gone ?? 0;
  if (done.failed) s.failed['IOTDA.000005: Forbidden'] = done.failed;
  if (done.changed) s.skipped['changed-before-delete'] = done.changed;
  return s;
}

describe('progress', () => {
  it('sums a provider\'s targets: deleted, gone, kept on re-check and failed count as done; rate and ETA from the elapsed time', () => {
    const all = [stats('iotda', 'a', { deleted: 40, gone: 5, failed: 3, changed: 2 }, 100), stats('iotda', 'b', { deleted: 0 }, 100), stats('imm', 'p', { deleted: 10 }, 10)];
    expect(progressOf(all, 10_000)).toEqual([
      { provider: 'iotda', done: 50, total: 200, ratePerSecond: 5, etaSeconds: 30 },
      { provider: 'imm', done: 10, total: 10, ratePerSecond: 1, etaSeconds: 0 },
    ]);
    expect(renderProgressLine(progressOf(all, 10_000))).toBe('iotda 50/200 5/s ETA 30s  imm 10/10 1/s ETA done');
    expect(renderProgressLine(progressOf([stats('imm', 'p', { deleted: 0 }, 10)], 0))).toBe('imm 0/10 0/s ETA ?');
  });

  it('on a TTY redraws one live line in place and ends it with a newline', () => {
    let written = '';
    const tty = new Writable({ write(chunk: Buffer, _e, done) { written += chunk.toString(); done(); } });
    let now = 0;
    const reporter = createProgressReporter({ logger: createLogger('silent'), intervalMs: 30_000, tty, now: () => now });
    reporter.update([stats('iotda', 'a', { deleted: 0 }, 20)], 20);
    now = 2_000;
    reporter.update([stats('iotda', 'a', { deleted: 10 }, 20)], 10);
    reporter.finish();
    expect(written).toBe('\riotda 0/20 0/s ETA ?  pending tasks 20\u001b[K\riotda 10/20 5/s ETA 2s  pending tasks 10\u001b[K\n');
  });

  it('without a TTY logs a progress event once per interval, not on every update', () => {
    const logs = captureLogs();
    let now = 0;
    const reporter = createProgressReporter({ logger: createLogger('info', logs.stream), intervalMs: 30_000, tty: undefined, now: () => now });
    for (const [at, deleted] of [[0, 0], [1_000, 5], [29_000, 50], [30_000, 60], [31_000, 61], [60_000, 100]] as const) {
      now = at;
      reporter.update([stats('iotda', 'a', { deleted }, 100)], 100 - deleted);
    }
    reporter.finish();
    expect(logs.lines.map((l) => [l.msg, l.progress])).toEqual([
      ['progress', [{ provider: 'iotda', done: 60, total: 100, ratePerSecond: 2, etaSeconds: 20 }]],
      ['progress', [{ provider: 'iotda', done: 100, total: 100, ratePerSecond: 1.7, etaSeconds: 0 }]],
    ]);
  });
});

const fixture = useSimulators('progress');

describe('progress in a real run without a TTY', () => {
  it('logs progress events every JANITOR_PROGRESS_INTERVAL while deletes settle', async () => {
    const sim = await fixture.start({ tasksPerProject: 120, seed: 3, latencyMs: 30 });
    const result = await runCli(['run'], simulatorEnv(sim, ['iotda'], fixture.prefix(), {
      IOTDA_TASK_TYPES: '', IOTDA_RATE_LIMIT: '20/s', JANITOR_PROGRESS_INTERVAL: '1s', LOG_LEVEL: 'info',
    }));
    expect(result.code).toBe(0);
    const events = result.stderr.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { msg: string; progress?: { provider: string; done: number; total: number }[] });
    const progress = events.filter((e) => e.msg === 'progress');
    expect(progress.length).toBeGreaterThanOrEqual(1);
    const first = progress[0]?.progress?.[0];
    expect(first).toMatchObject({ provider: 'iotda', total: sim.deleted.length });
    expect(first?.done).toBeLessThan(sim.deleted.length);
  }, 60_000);
});
