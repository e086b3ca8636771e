import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isInSelectedStates, judgeTask, OBSERVED_FIELD, type PolicyRule } from '../src/policy.js';
import type { AgeReference, CloudTask } from '../src/providers/provider.js';

const NOW = new Date('2026-11-24T12:00:00Z');
const DAY = 86_400_000;
const RULE: PolicyRule = { knownStates: ['Running', 'Success', 'Fail', 'Ready'], states: ['Success', 'Fail'], retentionMs: 7 * DAY, ageFrom: 'documented' };
const at = (ms: number): AgeReference => ({ kind: 'ok', field: 'end_time', at: new Date(NOW.getTime() - ms) });
const task = (over: Partial<CloudTask> = {}): CloudTask => ({ id: 't1', states: ['Success'], agedFrom: at(8 * DAY), ...over });

describe('judgeTask', () => {
  it.each([
    ['a stale task in a selected state', task(), true, undefined],
    ['exactly at the retention age', task({ agedFrom: at(7 * DAY) }), false, 'too-recent'],
    ['one millisecond past the retention age', task({ agedFrom: at(7 * DAY + 1) }), true, undefined],
    ['younger than the retention', task({ agedFrom: at(DAY) }), false, 'too-recent'],
    ['a non-terminal state', task({ states: ['Running'] }), false, 'state-not-selected'],
    ['a deletable but unselected state', task({ states: ['Ready'] }), false, 'state-not-selected'],
    ['an unknown state', task({ states: ['Exploded'] }), false, 'unknown-state'],
    ['no state', task({ states: [] }), false, 'unknown-state'],
    // Adapters canonicalise states once; the policy sees only catalog spellings, any other is unknown.
    ['a selected state in a spelling the catalog does not use', task({ states: ['SUCCESS'] }), false, 'unknown-state'],
    ['several states, one not selected', task({ states: ['Success', 'Running'] }), false, 'state-not-selected'],
    ['several states, all selected', task({ states: ['Success', 'Fail'] }), true, undefined],
    ['a missing timestamp', task({ agedFrom: { kind: 'missing', field: 'create_time' } }), false, 'missing-timestamp'],
    ['an unparseable timestamp', task({ agedFrom: { kind: 'invalid', field: 'create_time', raw: '2024-13-45' } }), false, 'invalid-timestamp'],
    ['an invalid Date object', task({ agedFrom: { kind: 'ok', field: 'create_time', at: new Date(Number.NaN) } }), false, 'invalid-timestamp'],
    ['a timestamp one second in the future', task({ agedFrom: at(-1000) }), false, 'future-timestamp'],
    ['an API-undeletable record', task({ undeletableBecause: 'type applyWorkspace cannot be deleted' }), false, 'not-deletable-type'],
    ['a task without id', task({ id: '' }), false, 'missing-id'],
    ['a stale task whose name an exclude pattern matches', task({ name: 'prod-nightly' }), false, 'protected', { exclude: /^prod-/ }],
    ['a stale task whose type an exclude pattern matches', task({ type: 'deleteDevices' }), false, 'protected', { exclude: /^deleteDevices$/ }],
    ['a stale task whose id an exclude pattern matches', task({ id: 'keep-1' }), false, 'protected', { exclude: /^keep/ }],
    ['an exclude pattern matching none of id, name, type', task({ name: 'nightly', type: 'x' }), true, undefined, { exclude: /^prod-/ }],
    ['a protected task that is also still running', task({ name: 'prod-1', states: ['Running'] }), false, 'protected', { exclude: /^prod-/ }],
    ['a stale task no include pattern matches', task({ name: 'other' }), false, 'not-included', { include: /^scratch-/ }],
    ['a stale task an include pattern matches', task({ name: 'scratch-7' }), true, undefined, { include: /^scratch-/ }],
    ['excluded and included at once: exclusion wins', task({ name: 'scratch-prod' }), false, 'protected', { include: /^scratch-/, exclude: /prod/ }],
  ])('%s', (_name, input, candidate, reason, patterns?: { include?: RegExp; exclude?: RegExp }) => {
    const rule: PolicyRule = {
      ...RULE,
      ...(patterns?.exclude ? { exclude: { variable: 'IOTDA_EXCLUDE', regex: patterns.exclude } } : {}),
      ...(patterns?.include ? { include: { variable: 'IOTDA_INCLUDE', regex: patterns.include } } : {}),
    };
    const verdict = judgeTask(input, rule, NOW);
    expect(verdict.candidate).toBe(candidate);
    if (!verdict.candidate) expect(verdict.reason).toBe(reason);
  });

  it('names the variable and the pattern that protected a task', () => {
    const verdict = judgeTask(task({ name: 'prod-nightly' }), { ...RULE, exclude: { variable: 'IOTDA_EXCLUDE', regex: /^prod-/ } }, NOW);
    expect(verdict).toMatchObject({ candidate: false, detail: 'protected by IOTDA_EXCLUDE (/^prod-/): name "prod-nightly" matches' });
  });

  it('never selects a task that is not terminal, stale and dated in the past, whatever the input', () => {
    const states = fc.array(fc.oneof(fc.constantFrom('Running', 'Success', 'Fail', 'Ready', 'success', ''), fc.string()), { maxLength: 3 });
    const ages = fc.oneof(
      fc.integer({ min: -30 * DAY, max: 30 * DAY }).map(at),
      fc.constant<AgeReference>({ kind: 'missing', field: 'x' }),
      fc.anything().map((raw): AgeReference => ({ kind: 'invalid', field: 'x', raw })),
    );
    fc.assert(fc.property(fc.string(), states, ages, fc.option(fc.string(), { nil: undefined }), (id, s, agedFrom, undeletable) => {
      const input: CloudTask = { id, states: s, agedFrom, ...(undeletable !== undefined ? { undeletableBecause: undeletable } : {}) };
      const verdict = judgeTask(input, RULE, NOW);
      if (!verdict.candidate) return true;
      const selected = s.length > 0 && s.every((x) => ['Success', 'Fail'].includes(x));
      const stale = agedFrom.kind === 'ok' && NOW.getTime() - agedFrom.at.getTime() > RULE.retentionMs;
      return selected && stale && undeletable === undefined && id.trim() !== '';
    }), { numRuns: 2000 });
  });
});

describe('judgeTask in observed mode (P_AGE_FROM=observed)', () => {
  const OBSERVED: PolicyRule = { ...RULE, ageFrom: 'observed' };
  const seen = (ms: number) => new Date(NOW.getTime() - ms);

  it.each([
    ['created 8 days ago, first seen terminal a minute ago', task(), seen(60_000), false, 'observed-recently'],
    ['created 8 days ago, no record of a sighting', task(), undefined, false, 'observed-recently'],
    ['first seen terminal exactly the retention ago', task(), seen(7 * DAY), false, 'observed-recently'],
    ['first seen terminal one millisecond past the retention', task(), seen(7 * DAY + 1), true, undefined],
    ['a sighting in the future (another pod\'s clock)', task(), seen(-60_000), false, 'observed-recently'],
    ['a corrupt sighting', task(), new Date(Number.NaN), false, 'observed-recently'],
    ['an old sighting, but the documented time is recent', task({ agedFrom: at(DAY) }), seen(30 * DAY), false, 'too-recent'],
    ['an old sighting of a running task', task({ states: ['Running'] }), seen(30 * DAY), false, 'state-not-selected'],
    ['an old sighting, a missing timestamp', task({ agedFrom: { kind: 'missing', field: 'create_time' } }), seen(30 * DAY), false, 'missing-timestamp'],
  ])('%s', (_name, input, firstSeen, candidate, reason) => {
    const verdict = judgeTask(input, OBSERVED, NOW, firstSeen);
    expect(verdict.candidate).toBe(candidate);
    if (!verdict.candidate) expect(verdict.reason).toBe(reason);
  });

  it('says when a task is kept because nothing recorded seeing it terminal', () => {
    expect(judgeTask(task(), OBSERVED, NOW)).toEqual({ candidate: false, reason: 'observed-recently', detail: 'observed terminal just now (no record)' });
  });

  it('ages from the later of the documented time and the first sighting', () => {
    expect(judgeTask(task({ agedFrom: at(30 * DAY) }), OBSERVED, NOW, seen(8 * DAY))).toEqual({ candidate: true, ageMs: 8 * DAY, agedFrom: { field: OBSERVED_FIELD, at: seen(8 * DAY) } });
    expect(judgeTask(task({ agedFrom: at(8 * DAY) }), OBSERVED, NOW, seen(30 * DAY))).toEqual({ candidate: true, ageMs: 8 * DAY, agedFrom: { field: 'end_time', at: seen(8 * DAY) } });
  });

  it('ignores sightings in documented mode', () => {
    expect(judgeTask(task(), RULE, NOW, seen(60_000))).toMatchObject({ candidate: true, ageMs: 8 * DAY });
  });

  it('never selects more in observed mode than in documented mode, whatever the sighting', () => {
    fc.assert(fc.property(fc.integer({ min: -30 * DAY, max: 30 * DAY }), fc.option(fc.integer({ min: -30 * DAY, max: 30 * DAY }), { nil: undefined }), (age, sighting) => {
      const input = task({ agedFrom: at(age) });
      const observed = judgeTask(input, OBSERVED, NOW, sighting === undefined ? undefined : seen(sighting));
      const documented = judgeTask(input, RULE, NOW);
      if (observed.candidate && (!documented.candidate || observed.ageMs > documented.ageMs)) return false;
      return !observed.candidate || (sighting !== undefined && sighting > RULE.retentionMs);
    }), { numRuns: 2000 });
  });
});

describe('isInSelectedStates', () => {
  it.each([
    [task(), true],
    [task({ states: ['Success', 'Fail'] }), true],
    [task({ states: ['Success', 'Running'] }), false],
    [task({ states: ['Ready'] }), false],
    [task({ states: ['Exploded'] }), false],
    [task({ states: [] }), false],
    [task({ id: ' ' }), false],
  ])('%j -> %s', (input, expected) => {
    expect(isInSelectedStates(input, RULE)).toBe(expected);
  });
});
