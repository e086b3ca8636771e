import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { startCli } from './helpers/cli.js';
import { simulatorEnv, useSimulators } from './helpers/janitor.js';
import { REDIS_URL } from './helpers/redis.js';

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

describe('daemon in a dry run', () => {
  it('touches no queue: it says so at start, logs what would be deleted on each firing, and leaves no key in Redis', async () => {
    const sim = await fixture.start({ tasksPerProject: 30 });
    const prefix = fixture.prefix('daemon-dry');
    const env = simulatorEnv(sim, ['iotda'], prefix, { JANITOR_SCHEDULE: '* * * * * *', JANITOR_DRY_RUN: 'true', IOTDA_TASK_TYPES: 'createDevices', LOG_LEVEL: 'info' });
    const daemon = startCli(['daemon'], env);
    let seen = '';
    daemon.child.stderr?.on('data', (c: Buffer) => { seen += c.toString(); });
    // Two firings at least (a second apart), however slowly the process starts on a busy machine.
    for (let i = 0; i < 300 && seen.split('scheduled produce finished').length < 3; i++) await sleep(100);
    daemon.child.kill('SIGTERM');
    const result = await daemon.done;
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('DRY RUN (JANITOR_DRY_RUN=true)');
    const events = result.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string });
    expect(events.some((e) => e.msg.startsWith('dry run: reports what would be deleted on schedule'))).toBe(true);
    expect(events.filter((e) => e.msg === 'task would be deleted').length).toBeGreaterThan(0);
    expect(sim.counters.iotda.delete).toBe(0);
    const redis = new Redis(REDIS_URL);
    try {
      expect(await redis.keys(`${prefix}:*`)).toEqual([]);
    } finally {
      await redis.quit();
    }
  });
});
