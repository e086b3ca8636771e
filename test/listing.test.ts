// Listing side by side: pages of several sources merged with a bound, and the daily rotation of targets.
import { describe, expect, it } from 'vitest';
import { listingOrder } from '../src/producer.js';
import { mergePages } from '../src/providers/merge-pages.js';

const DAY = 86_400_000;

/** A source of `pages` pages that records how many sources are being read at once. */
function source(name: string, pages: number, meter: { open: number; most: number }, failAt?: number) {
  return async function* pagesOf() {
    meter.open += 1;
    meter.most = Math.max(meter.most, meter.open);
    try {
      for (let i = 0; i < pages; i++) {
        await new Promise((r) => setTimeout(r, 1 + (i % 3)));
        if (i === failAt) throw new Error(`${name} failed`);
        yield `${name}-${i}`;
      }
    } finally {
      meter.open -= 1;
    }
  };
}

describe('mergePages', () => {
  it('yields every page of every source once, in each source\'s own order, with at most the bound open', async () => {
    const meter = { open: 0, most: 0 };
    const sources = ['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((n, i) => source(n, 3 + i, meter));
    const seen: string[] = [];
    for await (const page of mergePages(sources, 3)) seen.push(page);
    expect(meter.most).toBe(3);
    expect(seen).toHaveLength(3 + 4 + 5 + 6 + 7 + 8 + 9);
    for (const n of ['a', 'b', 'c', 'd', 'e', 'f', 'g']) {
      const own = seen.filter((p) => p.startsWith(`${n}-`));
      expect(own).toEqual([...own].sort((x, y) => Number(x.split('-')[1]) - Number(y.split('-')[1])));
    }
  });

  it('throws the first failure and closes the other open sources', async () => {
    const meter = { open: 0, most: 0 };
    const sources = [source('a', 10, meter), source('b', 10, meter, 2), source('c', 10, meter)];
    const seen: string[] = [];
    await expect((async () => { for await (const page of mergePages(sources, 3)) seen.push(page); })()).rejects.toThrow('b failed');
    expect(meter.open).toBe(0);
    expect(seen.length).toBeLessThan(30);
  });

  it('leaves no unhandled rejection when a prefetched page fails while the consumer is busy', async () => {
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', record);
    try {
      // The second page fails at once, while the consumer still awaits its work on the first.
      async function* failsSecond() {
        yield await Promise.resolve('a-0');
        throw new Error('page 2 refused');
      }
      await expect((async () => {
        for await (const page of mergePages([failsSecond], 1)) if (page) await new Promise((r) => setTimeout(r, 20));
      })()).rejects.toThrow('page 2 refused');
      await new Promise((r) => setTimeout(r, 20));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', record);
    }
  });

  it('closes every open source when the consumer stops early', async () => {
    const meter = { open: 0, most: 0 };
    for await (const page of mergePages([source('a', 10, meter), source('b', 10, meter)], 2)) if (page) break;
    expect(meter.open).toBe(0);
  });
});

describe('listingOrder', () => {
  it('puts each target first on one day out of as many days as there are targets', () => {
    const targets = ['p1', 'p2', 'p3', 'p4'];
    const firsts = Array.from({ length: 4 }, (_, d) => listingOrder(targets, new Date(Date.UTC(2026, 0, 1) + d * DAY))[0]);
    expect(new Set(firsts).size).toBe(4);
    for (let d = 0; d < 4; d++) expect([...listingOrder(targets, new Date(d * DAY))].sort()).toEqual(targets);
    expect(listingOrder([], new Date())).toEqual([]);
  });
});
