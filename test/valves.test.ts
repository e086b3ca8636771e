import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CapGate, capLimit, clockSkewRefusal, describeCap, NewestKeeper } from '../src/valves.js';

describe('NewestKeeper', () => {
  it('releases exactly the items that are not among their group\'s newest n, and holds at most n per group', () => {
    const items = fc.array(fc.record({ group: fc.constantFrom('a', 'b', 'c'), at: fc.integer({ min: 0, max: 50 }) }), { maxLength: 200 });
    fc.assert(fc.property(items, fc.integer({ min: 0, max: 8 }), (list, n) => {
      const keeper = new NewestKeeper<number>(n);
      const released: number[] = [];
      list.forEach((item, index) => {
        const out = keeper.offer(item.group, item.at, index);
        if (out !== undefined) released.push(out);
      });
      const held = keeper.drain();
      expect(new Set([...released, ...held]).size).toBe(list.length);
      for (const group of ['a', 'b', 'c']) {
        const heldTimes = held.filter((i) => list[i]?.group === group).map((i) => list[i]?.at ?? 0).sort((x, y) => y - x);
        const newest = list.filter((i) => i.group === group).map((i) => i.at).sort((x, y) => y - x).slice(0, n);
        // The held ones are the group's newest n (by time; ties may pick either of equal times).
        expect(heldTimes).toEqual(newest);
      }
    }), { numRuns: 300 });
  });

  it('keeps nothing back when n is 0', () => {
    expect(new NewestKeeper<string>(0).offer('', 1, 'x')).toBe('x');
  });
});

describe('CapGate', () => {
  it('lets through the oldest limit times, ties at the cutoff counted', () => {
    const gate = CapGate.oldest(3, 'X=3', Float64Array.from([5, 1, 3, 3, 3, 9]));
    const passed = [5, 1, 3, 3, 3, 9].filter((at) => {
      if (!gate.allows(at)) return false;
      gate.take(at);
      return true;
    });
    expect(passed).toEqual([1, 3, 3]);
  });

  it('never lets more than its limit through, even when a second listing finds more', () => {
    const gate = new CapGate(2, 'X=2');
    const passed = [1, 2, 3].filter((at) => gate.allows(at) && (gate.take(at), true));
    expect(passed).toEqual([1, 2]);
  });
});

describe('caps', () => {
  it.each([
    [{ kind: 'count', count: 100, variable: 'IOTDA_MAX_DELETES' } as const, 1000, 100, 'IOTDA_MAX_DELETES=100'],
    [{ kind: 'share', percent: 20, variable: 'JANITOR_MAX_DELETES' } as const, 1001, 200, 'JANITOR_MAX_DELETES=20% (200 of 1001 listed)'],
    [{ kind: 'share', percent: 0.5, variable: 'JANITOR_MAX_DELETES' } as const, 100, 0, 'JANITOR_MAX_DELETES=0.5% (0 of 100 listed)'],
  ])('%j of %i listed allows %i', (cap, listed, limit, text) => {
    expect(capLimit(cap, listed)).toBe(limit);
    expect(describeCap(cap, listed)).toBe(text);
  });
});

describe('clockSkewRefusal', () => {
  it.each([
    [undefined, undefined],
    [300_000, undefined],
    [-300_000, undefined],
    [301_000, 'ahead of'],
    [-3_600_000, 'behind'],
  ])('a skew of %s ms against a 5m bound: %s', (skew, words) => {
    const refusal = clockSkewRefusal(skew, 300_000);
    if (words === undefined) expect(refusal).toBeUndefined();
    else expect(refusal).toContain(words);
  });
});
