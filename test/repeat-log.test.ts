import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../src/logger.js';
import { repeatLimitedLog } from '../src/repeat-log.js';
import { captureLogs } from './helpers/janitor.js';

describe('repeatLimitedLog', () => {
  afterEach(() => { vi.useRealTimers(); });

  it('logs the first of a run of like events at once, then one line with how many more there were', async () => {
    vi.useFakeTimers();
    const logs = captureLogs();
    const log = repeatLimitedLog(createLogger('info', logs.stream), 'error', 10_000);
    for (let i = 0; i < 1_000; i++) log('OOM', { cause: 'OOM', i }, 'worker error');
    log('ECONNREFUSED', { cause: 'ECONNREFUSED' }, 'worker error');
    await vi.advanceTimersByTimeAsync(10_000);
    log('OOM', { cause: 'OOM' }, 'worker error');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(logs.lines.map((l) => [l.msg, l.cause, l.repeated])).toEqual([
      ['worker error', 'OOM', undefined],
      ['worker error', 'ECONNREFUSED', undefined],
      ['worker error (repeated)', 'OOM', 999],
      ['worker error', 'OOM', undefined],
    ]);
  });
});
