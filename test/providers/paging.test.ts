import { describe, expect, it } from 'vitest';
import { countValue, walkPagesBackward, type CountedPage } from '../../src/providers/huawei-paging.js';
import { pageCapOf, pageGuard } from '../../src/providers/page-guard.js';

const SIZE = 10;
const options = { pageSize: SIZE, cap: { pages: 50, source: 'TEST_CAP' }, walk: 'TestList', idOf: (id: string) => id };

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

  it('stops an API that ignores the offset and overstates its total at the cap, keeping what it read, and says so', async () => {
    let calls = 0;
    const seen: string[] = [];
    const walking = walk(() => { calls += 1; return Promise.resolve({ items: Array.from({ length: SIZE }, (_, i) => `x${i}`), total: 1e9 }); }, (items) => seen.push(...items));
    await expect(walking).rejects.toThrow(/^paging stopped at the 50-page cap \(TEST_CAP\) of TestList: 999999500 more record\(s\) were not listed/);
    expect(seen).toHaveLength(SIZE);
    expect(calls).toBe(options.cap.pages + 1);
  });

  it('stops a forward walk without a total at the cap, after yielding the pages it read', async () => {
    let calls = 0;
    const seen: string[] = [];
    const walking = walk((index) => { calls += 1; return Promise.resolve({ items: Array.from({ length: SIZE }, (_, i) => `p${index}-${i}`), total: undefined }); }, (items) => seen.push(...items));
    await expect(walking).rejects.toThrow(/^paging stopped at the 50-page cap \(TEST_CAP\) of TestList: more records were not listed/);
    expect(calls).toBe(options.cap.pages);
    expect(seen).toHaveLength(options.cap.pages * SIZE);
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

describe('countValue', () => {
  // VIAS's count, MPC's total and Workspace's total_count are all read by it: a JSON number or a numeric string.
  it('reads a whole, non-negative count given as a number or a numeric string, and nothing else', () => {
    expect([0, 7, 200, '3', ' 42 '].map(countValue)).toEqual([0, 7, 200, 3, 42]);
    for (const raw of [-1, 1.5, '1e2', '', ' ', 'ten', '-3', null, undefined, true, {}, [], Number.NaN, 1e16]) expect(countValue(raw)).toBeUndefined();
  });
});

describe('pageGuard', () => {
  const cap = { pages: 4, source: 'TEST_CAP' };
  it.each([
    ['a cycle', ['', 'A', 'B', 'A'], /^paging stopped: TestList returned token "A" again after 3 page\(s\) \(the API is cycling\)/],
    ['a repeat', ['', 'A', 'A'], /^paging stopped: TestList returned token "A" again after 2 page\(s\)/],
    ['the cap', ['', 'A', 'B', 'C', 'D'], /^paging stopped at the 4-page cap \(TEST_CAP\) of TestList/],
  ])('stops %s at the first token past it', (_, tokens, message) => {
    const enter = pageGuard('TestList', 'token', cap);
    const last = tokens.at(-1) as string;
    for (const token of tokens.slice(0, -1)) enter(token);
    expect(() => enter(last)).toThrow(message);
  });

  it('lets a walk of distinct tokens within the cap go on', () => {
    const enter = pageGuard('TestList', 'token', cap);
    expect(() => { for (const token of ['', 'A', 'B', 'C']) enter(token); }).not.toThrow();
  });

  it('takes the lower of JANITOR_MAX_LIST_PAGES and the API maximum', () => {
    expect(pageCapOf(10_000, { pages: 50, source: 'API' })).toEqual({ pages: 50, source: 'API' });
    expect(pageCapOf(20, { pages: 50, source: 'API' })).toEqual({ pages: 20, source: 'JANITOR_MAX_LIST_PAGES' });
    expect(pageCapOf(20)).toEqual({ pages: 20, source: 'JANITOR_MAX_LIST_PAGES' });
  });
});
