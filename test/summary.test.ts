import { describe, expect, it } from 'vitest';
import { exitCodeFor, formatDriftOf, newTargetStats, renderSummary, type TargetStats } from '../src/summary.js';

const stats = (over: Partial<TargetStats>): TargetStats => ({ ...newTargetStats('iotda', 'p1', 0), ...over });

describe('format drift', () => {
  it.each([
    ['most of many records undecidable', 10, { 'invalid-timestamp': 4, 'unknown-state': 2 }, 6],
    ['exactly half', 10, { 'invalid-timestamp': 5 }, undefined],
    ['missing timestamps count too', 5, { 'missing-timestamp': 3 }, 3],
    ['too few records to judge a format', 4, { 'invalid-timestamp': 4 }, undefined],
    ['kept for ordinary reasons', 10, { 'too-recent': 9 }, undefined],
  ] as const)('%s', (_name, listed, skipped, expected) => {
    expect(formatDriftOf({ listed, skipped })).toBe(expected);
  });
});

describe('exit codes', () => {
  it.each([
    ['every candidate gone', stats({ deleted: 3 }), 0],
    ['a failed delete', stats({ failed: { boom: 1 } }), 1],
    ['tasks still pending', stats({ unsettled: 2 }), 1],
    ['another run\'s job failed for a task this run saw', stats({ otherRuns: { deleted: 0, gone: 0, skipped: 0, failed: 1, pending: 0 } }), 1],
    ['a target not reached', stats({ notReached: true }), 1],
    ['format drift', stats({ formatDrift: 6, failed: { boom: 1 } }), 4],
    ['a list API failure outranks all', stats({ listError: 'down', formatDrift: 6 }), 3],
    ['kept at the re-read because its state changed', stats({ deleted: 3, skipped: { 'changed-before-delete': 1 } }), 0],
    ['kept at the re-read because the worker\'s clock disagrees with the provider\'s (a safety valve)', stats({ deleted: 3, skipped: { 'clock-skew': 2 } }), 5],
  ] as const)('%s', (_name, s, code) => {
    expect(exitCodeFor([s])).toBe(code);
  });

  it('tells tasks kept when listed from candidates kept at the re-read before their delete, so the counts add up', () => {
    const text = renderSummary([stats({ listed: 30, candidates: 10, enqueued: 10, deleted: 7, gone: 1, skipped: { 'too-recent': 15, 'state-not-selected': 5, 'changed-before-delete': 1, 'reread-inconclusive': 1 } })], { dryRun: false });
    expect(text).toContain('iotda p1: listed 30, candidates 10, deleted 7, already gone 1, kept at re-read 2, failed 0, retries 0');
    expect(text).toContain('  kept when listed: too-recent 15, state-not-selected 5');
    expect(text).toContain('  kept at the re-read before delete: changed-before-delete 1, reread-inconclusive 1');
    expect(text).not.toContain('skipped:');
  });

  it('names the run, its exit code and its totals at the end, and each target\'s own listing time', () => {
    const a = stats({ listed: 30, candidates: 10, enqueued: 10, deleted: 9, failed: { 'IOTDA.000005: Forbidden.': 1 }, startedAt: 1_000, listedAt: 3_000, finishedAt: 61_000 });
    const b = { ...stats({ listed: 5, candidates: 2, enqueued: 2, deleted: 2, startedAt: 1_000, listedAt: 1_200, finishedAt: 61_000 }), target: 'p2' };
    const text = renderSummary([a, b], { dryRun: false, run: { runId: 'mwyke1', exitCode: 1 } });
    expect(text.split('\n')[0]).toBe('task-janitor summary of run mwyke1');
    expect(text).toContain('iotda p1: listed 30, candidates 10, deleted 9, already gone 0, failed 1, retries 0, listing took 2s');
    expect(text).toContain('iotda p2: listed 5, candidates 2, deleted 2, already gone 0, failed 0, retries 0, listing took 200ms');
    expect(text.split('\n').at(-1)).toBe('total of run mwyke1 — listed 35, candidates 12, deleted 11, already gone 0, failed 1; took 1m; exit 1 (some candidate is not gone)');
  });

  it('shows what `produce` did: enqueued, not deleted (its workers are elsewhere)', () => {
    const text = renderSummary([stats({ listed: 30, candidates: 10, enqueued: 8, alreadyQueued: 2, startedAt: 0, listedAt: 1_000, finishedAt: 1_000 })], { dryRun: false, produced: true, run: { runId: 'p1', exitCode: 0 } });
    expect(text).toContain('iotda p1: listed 30, candidates 10, enqueued 8, already queued by another run 2, listing took 1s');
    expect(text).not.toMatch(/deleted|retries/);
    expect(text.split('\n').at(-1)).toBe('total of run p1 — listed 30, candidates 10, enqueued 8, already queued by another run 2; took 1s; exit 0 (every candidate gone or kept at re-read)');
  });

  it('renders a target the run never reached, so no configured target vanishes', () => {
    expect(renderSummary([stats({ deleted: 1 }), { ...stats({ notReached: true }), target: 'p2' }], { dryRun: false }))
      .toMatch(/iotda p1: listed 0.*\niotda p2: NOT REACHED/);
  });
});
