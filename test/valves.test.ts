import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { judgeListing } from '../src/judging.js';
import { policyRuleFor } from '../src/policy.js';
import type { CloudTask, Provider } from '../src/providers/provider.js';
import { CapGate, capLimit, clockSkewRefusal, describeCap, NewestKeeper } from '../src/valves.js';

/** A list API's pages, as a provider yields them. */
async function* pagesOf(pages: readonly CloudTask[][]): AsyncGenerator<CloudTask[]> {
  for (const page of pages) yield await Promise.resolve(page);
}

/** A Succeeded IMM batch `days` old at `now`. */
function batchAged(id: string, days: number, now: Date): CloudTask {
  return { id, states: ['Succeeded'], agedFrom: { kind: 'ok', field: 'UpdateTime', at: new Date(now.getTime() - days * 86_400_000) } };
}

/** The judging of an IMM listing of `pages` with IMM_KEEP_LATEST=1. */
function listingKeepingOne(pages: readonly CloudTask[][], now: () => Date) {
  const config = loadConfig({ JANITOR_PROVIDERS: 'imm', IMM_REGION: 'cn-hangzhou', IMM_PROJECTS: 'media', ALIBABA_CLOUD_ACCESS_KEY_ID: 'id', ALIBABA_CLOUD_ACCESS_KEY_SECRET: 'secret', IMM_KEEP_LATEST: '1' });
  const pc = config.providers[0];
  if (!pc) throw new Error('imm not configured');
  const provider = { name: 'imm', listTasks: () => pagesOf(pages) } as unknown as Provider;
  return judgeListing({ provider, target: 'media', rule: policyRuleFor(pc), keepLatest: pc.keepLatest, now });
}

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

  it('holds a task listed twice once: its second listing neither takes a second place nor comes out as released', () => {
    const keeper = new NewestKeeper<string>(1);
    expect(keeper.offer('', 100, 'A listed', 'A')).toBeUndefined();
    expect(keeper.offer('', 80, 'B', 'B')).toBe('B');
    // A again on a later page (the pages shifted): the newest is still A, held once.
    expect(keeper.offer('', 100, 'A listed again', 'A')).toBeUndefined();
    expect(keeper.offer('', 70, 'C', 'C')).toBe('C');
    expect(keeper.drain()).toEqual(['A listed']);
  });

  it('never both releases and holds one task, and holds the newest n distinct tasks, whatever repeats', () => {
    // A task keeps its time when listed again; keys repeat at random.
    const offers = fc.array(fc.record({ group: fc.constantFrom('a', 'b'), key: fc.integer({ min: 0, max: 15 }) }), { maxLength: 120 });
    fc.assert(fc.property(offers, fc.integer({ min: 1, max: 5 }), (list, n) => {
      const atOf = (key: number) => (key * 7919) % 101;
      const keeper = new NewestKeeper<string>(n);
      const released = new Set<string>();
      for (const { group, key } of list) {
        const out = keeper.offer(group, atOf(key), `${group}${key}`, `${group}${key}`);
        if (out !== undefined) released.add(out);
      }
      const held = keeper.drain();
      expect(new Set(held).size).toBe(held.length);
      for (const h of held) expect(released.has(h), h).toBe(false);
      for (const group of ['a', 'b']) {
        const distinct = [...new Set(list.filter((o) => o.group === group).map((o) => o.key))];
        const newest = distinct.map(atOf).sort((x, y) => y - x).slice(0, n);
        expect(held.filter((h) => h.startsWith(group)).map((h) => atOf(Number(h.slice(1)))).sort((x, y) => y - x)).toEqual(newest);
      }
    }), { numRuns: 300 });
  });

  it('keeps the newest task of a listing that repeats it on a later page (IMM_KEEP_LATEST=1), and deletes the others', async () => {
    const now = new Date('2026-03-01T00:00:00Z');
    const pages = [[batchAged('A', 10, now), batchAged('B', 20, now)], [batchAged('A', 10, now), batchAged('C', 30, now)]];
    const decided: { id: string; candidate: boolean; reason?: string }[] = [];
    for await (const page of listingKeepingOne(pages, () => now)) {
      for (const d of page.decisions) decided.push({ id: d.task.id, candidate: d.verdict.candidate, ...(d.verdict.candidate ? {} : { reason: d.verdict.reason }) });
    }
    expect(decided.filter((d) => d.candidate).map((d) => d.id).sort()).toEqual(['B', 'C']);
    expect(decided.filter((d) => d.id === 'A')).toEqual([{ id: 'A', candidate: false, reason: 'newest-kept' }]);
  });

  it('dates a task held back by P_KEEP_LATEST from the page that listed it, not from the page that released it', async () => {
    const t0 = new Date('2026-03-01T00:00:00Z');
    const pages = [[batchAged('X', 20, t0)], [batchAged('Y', 10, t0)]];
    // The second page is read 20 minutes after the first (the listing reads the clock once before its first page).
    const later = new Date(t0.getTime() + 20 * 60_000);
    let reads = 0;
    const released = [];
    for await (const page of listingKeepingOne(pages, () => (reads++ < 2 ? t0 : later))) {
      released.push(...page.decisions.map((d) => ({ id: d.task.id, candidate: d.verdict.candidate, listedAt: d.listedAt.toISOString(), releasedAt: page.now.toISOString() })));
    }
    expect(released).toEqual([
      { id: 'X', candidate: true, listedAt: '2026-03-01T00:00:00.000Z', releasedAt: '2026-03-01T00:20:00.000Z' },
      { id: 'Y', candidate: false, listedAt: '2026-03-01T00:20:00.000Z', releasedAt: '2026-03-01T00:20:00.000Z' },
    ]);
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
