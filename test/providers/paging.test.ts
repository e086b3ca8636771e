import { describe, expect, it } from 'vitest';
import { walkPagesBackward, type CountedPage } from '../../src/providers/huawei-paging.js';

const SIZE = 10;
const options = { pageSize: SIZE, maxPages: 50, idOf: (id: string) => id };

/** An offset-paged list held in memory, as an API with newest-first order would page it. */
function list(count: number) {
  const records = Array.from({ length: count }, (_, i) => `r${String(i).padStart(3, '0')}`);
  let calls = 0;
  const fetchPage = (index: number): Promise<CountedPage<string>> => {
    calls += 1;
    return Promise.resolve({ items: records.slice(index * SIZE, index * SIZE + SIZE), total: records.length });
  };
  return { records, fetchPage, calls: () => calls };
}

async function walk(fetchPage: (index: number) => Promise<CountedPage<string>>, onPage: (items: string[]) => void = () => undefined) {
  const seen: string[] = [];
  for await (const items of walkPagesBackward(fetchPage, options)) {
    seen.push(...items);
    onPage(items);
  }
  return seen;
}

describe('walkPagesBackward', () => {
  it('reads a single page with one call', async () => {
    const l = list(7);
    expect(await walk(l.fetchPage)).toEqual(l.records);
    expect(l.calls()).toBe(1);
  });

  it('misses nothing and repeats nothing while every yielded record is deleted during the walk', async () => {
    const l = list(95);
    const all = [...l.records];
    const seen = await walk(l.fetchPage, (items) => {
      for (const id of items) l.records.splice(l.records.indexOf(id), 1);
    });
    expect(seen.sort()).toEqual(all);
    expect(l.records).toEqual([]);
  });

  it('drops records shifted into a page already read when others delete below the cursor', async () => {
    const l = list(40);
    const seen = await walk(l.fetchPage, () => { l.records.splice(0, 3); });
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('ends on an API that ignores the offset and overstates its total, within maxPages', async () => {
    let calls = 0;
    const seen = await walk(() => { calls += 1; return Promise.resolve({ items: Array.from({ length: SIZE }, (_, i) => `x${i}`), total: 1e9 }); });
    expect(seen).toHaveLength(SIZE);
    expect(calls).toBeLessThanOrEqual(options.maxPages + 1);
  });

  it('moves down at once when a page reports a smaller total', async () => {
    const pages: number[] = [];
    const seen = await walk((index) => {
      pages.push(index);
      return Promise.resolve(index === 0 ? { items: Array.from({ length: SIZE }, (_, i) => `a${i}`), total: index === 0 && pages.length === 1 ? 10_000 : 15 } : { items: ['b0'], total: 15 });
    });
    expect(pages).toEqual([0, 49, 1, 0]);
    expect(seen).toContain('b0');
  });

  it('walks forward to the first short page when the API gives no total', async () => {
    const records = Array.from({ length: 25 }, (_, i) => `n${i}`);
    const seen = await walk((index) => Promise.resolve({ items: records.slice(index * SIZE, index * SIZE + SIZE), total: undefined }));
    expect(seen).toEqual(records);
  });
});
