import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { startCli } from './helpers/cli.js';
import { simulatorEnv, useSimulators } from './helpers/janitor.js';

const fixture = useSimulators('daemon');

describe('daemon', () => {
  it('produces on schedule, skips a firing while the last produce still runs, deletes with its workers, and stops on SIGTERM', async () => {
    const sim = await fixture.start({ tasksPerProject: 40, latencyMs: 400 });
    const prefix = fixture.prefix();
    // Every second; each produce walks 3 task types one after another at 400 ms a page, so firings overlap.
    const env = simulatorEnv(sim, ['iotda'], prefix, {
      JANITOR_SCHEDULE: '* * * * * *', IOTDA_TASK_TYPES: 'createDevices,deleteDevices,createCommands', IOTDA_LIST_CONCURRENCY: '1', LOG_LEVEL: 'info',
    });
    const daemon = startCli(['daemon'], env);
    for (let i = 0; i < 100 && sim.deleted.length === 0; i++) await sleep(100);
    await sleep(2_500);
    daemon.child.kill('SIGTERM');
    const result = await daemon.done;
    expect(result.code).toBe(0);
    const events = result.stderr.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { msg: string });
    expect(events.some((e) => e.msg.includes('schedule fired while the previous produce is still running; skipped'))).toBe(true);
    expect(events.filter((e) => e.msg === 'scheduled produce finished').length).toBeGreaterThanOrEqual(1);
    expect(sim.deleted.length).toBeGreaterThan(0);
    // Overlapping schedules never delete the same task twice.
    const ids = sim.deleted.map((d) => d.id);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
