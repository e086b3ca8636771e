import { describe, expect, it } from 'vitest';
import type { DecisionEvent } from '../src/judging.js';
import { agedVerb, planRow, PlanTally } from '../src/plan.js';
import type { Verdict } from '../src/policy.js';
import type { CloudTask } from '../src/providers/provider.js';

const NOW = new Date('2026-11-24T12:00:00Z');
const DAY = 86_400_000;
const task: CloudTask = { id: 't1', states: ['Success'], agedFrom: { kind: 'ok', field: 'end_time', at: new Date(NOW.getTime() - 12 * DAY) } };
const candidate: Verdict = { candidate: true, ageMs: 12 * DAY, agedFrom: { field: 'end_time', at: new Date(NOW.getTime() - 12 * DAY) } };
const event = (over: Partial<DecisionEvent>): DecisionEvent => ({ provider: 'mpc', target: 'p', task, verdict: candidate, listedAt: NOW, now: NOW, ...over });

describe('planRow', () => {
  it.each([
    ['a candidate the valves let through', event({ valve: { pass: true } }), 'delete', 'delete: Success, ended 12d ago > 7d'],
    ['a candidate over a truncating cap', event({ valve: { pass: false, why: 'over-cap', cap: 'MPC_MAX_DELETES=1', detail: 'x' } }), 'keep', 'keep: over the cap MPC_MAX_DELETES=1, left for a later run (Success, ended 12d ago > 7d)'],
    ['a candidate refused by the clock', event({ valve: { pass: false, why: 'clock-skew', detail: 'the clock is off' } }), 'keep', 'keep: refused, the clock is off (Success, ended 12d ago > 7d)'],
    ['a running task', event({ task: { ...task, states: ['Running'] }, verdict: { candidate: false, reason: 'state-not-selected', detail: '' } }), 'keep', 'keep: state Running'],
    ['a recent task', event({ verdict: { candidate: false, reason: 'too-recent', detail: '', ageMs: 2 * DAY } }), 'keep', 'keep: ended 2d ago (retention 7d)'],
    ['an unparseable time', event({ task: { ...task, agedFrom: { kind: 'invalid', field: 'end_time', raw: 'x' } }, verdict: { candidate: false, reason: 'invalid-timestamp', detail: '' } }), 'keep', 'keep: unparseable end_time'],
    ['a protected task', event({ verdict: { candidate: false, reason: 'protected', detail: 'protected by MPC_EXCLUDE (/^t/): id "t1" matches' } }), 'keep', 'keep: protected by MPC_EXCLUDE (/^t/): id "t1" matches'],
  ])('%s', (_name, input, decision, words) => {
    expect(planRow(input, 7 * DAY)).toMatchObject({ decision, words });
  });
});

describe('agedVerb', () => {
  it.each([['end_time', 'ended'], ['UpdateTime', 'updated'], ['begin_time', 'began'], ['create_time', 'created'], ['created_at', 'created'], ['odd', 'odd was']])('%s reads %s', (field, verb) => {
    expect(agedVerb(field)).toBe(verb);
  });
});

describe('PlanTally', () => {
  it('counts every row by reason but keeps only the first few of each as a sample', () => {
    const tally = new PlanTally(2);
    for (let i = 0; i < 1000; i++) tally.add(planRow(event({ task: { ...task, id: `t${i}` }, valve: { pass: true } }), 7 * DAY));
    tally.add(planRow(event({ verdict: { candidate: false, reason: 'protected', detail: 'p' } }), 7 * DAY));
    expect(Object.fromEntries(tally.byReason)).toEqual({ delete: 1000, 'keep: protected': 1 });
    expect(tally.sample.map((r) => r.id)).toEqual(['t0', 't1', 't1']);
  });
});
