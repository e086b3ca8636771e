import { describe, expect, it } from 'vitest';
import { splitProviderError } from '../src/audit.js';
import { notificationFor, worthNotifying } from '../src/notify.js';
import { newTargetStats } from '../src/summary.js';

describe('notification body', () => {
  it('is sent only when something was deleted or the run did not exit 0', () => {
    const quiet = newTargetStats('iotda', 'p', 0);
    expect(worthNotifying(notificationFor({ command: 'run', runId: 'r1', dryRun: false, exitCode: 0, stats: [quiet] }))).toBe(false);
    const deleted = { ...newTargetStats('iotda', 'p', 0), deleted: 1 };
    expect(worthNotifying(notificationFor({ command: 'run', runId: 'r1', dryRun: false, exitCode: 0, stats: [deleted] }))).toBe(true);
    expect(worthNotifying(notificationFor({ command: 'produce', runId: 'r1', dryRun: true, exitCode: 3, stats: [{ ...quiet, listError: 'APIGW.0301: bad signature' }] }))).toBe(true);
  });

  it('keeps the chat text short: a head line and at most five trouble lines', () => {
    const stats = Array.from({ length: 7 }, (_, i) => ({ ...newTargetStats('mpc', `project-${i}`, 0), failed: { [`MPC.10203: refused ${'x'.repeat(200)}`]: 2 } }));
    const { text, totals } = notificationFor({ command: 'run', runId: 'r9', dryRun: false, exitCode: 1, stats });
    expect(totals.failed).toBe(14);
    const lines = text.split('\n');
    expect(lines[0]).toBe('task-janitor run r9: deleted 0, already gone 0, failed 14; exit 1');
    expect(lines).toHaveLength(7);
    expect(lines[1]).toMatch(/^mpc project-0: 2 failed \(MPC\.10203: refused x+\)$/);
    expect(lines[1]?.length).toBeLessThan(160);
    expect(lines[6]).toBe('… and 2 more');
  });
});

describe('notification text names why a run did not exit 0', () => {
  it.each([
    ['a refusing valve', { refused: 'over the cap JANITOR_MAX_DELETES=100: 250 candidates', heldBack: 250 }, 5, /iotda p: REFUSED, 250 candidate\(s\) not deleted \(over the cap JANITOR_MAX_DELETES=100/],
    ['a worker\'s clock', { skipped: { 'clock-skew': 3 } }, 5, /iotda p: 3 kept at the re-read: the clock is off \(clock-skew\)/],
    ['format drift', { listed: 40, formatDrift: 30 }, 4, /iotda p: FORMAT DRIFT, 30 of 40 listed records could not be judged/],
    ['an interrupted listing', { interrupted: true }, 1, /iotda p: listing interrupted \(signal or JANITOR_MAX_RUNTIME\)/],
    ['a target not reached', { notReached: true }, 1, /iotda p: not reached \(signal or JANITOR_MAX_RUNTIME\)/],
    ['another run\'s failures', { otherRuns: { deleted: 0, gone: 0, skipped: 0, failed: 2, pending: 1 } }, 1, /iotda p: of the tasks another run had queued, 2 failed, 1 still pending/],
  ] as const)('%s', (_name, over, exitCode, line) => {
    const { text } = notificationFor({ command: 'run', runId: 'r1', dryRun: false, exitCode, stats: [{ ...newTargetStats('iotda', 'p', 0), ...over }] });
    expect(text.split('\n')[1]).toMatch(line);
  });
});

describe('provider error code', () => {
  it.each([
    ['IOTDA.000005: Forbidden by policy.', 'IOTDA.000005'],
    ['Throttling.User: Request was denied due to user flow control.', 'Throttling.User'],
    ['HTTP 503: no error body', 'HTTP 503'],
    ['network error ECONNRESET: socket hang up', undefined],
    ['out of scope: iotda target x is not configured for this worker', undefined],
  ])('reads the code of %j as %j', (text, code) => {
    expect(splitProviderError(text)).toEqual(code ? { code, message: text } : { message: text });
  });
});
