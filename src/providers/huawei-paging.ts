// Response-shape helpers shared by the Huawei adapters: success and "already gone" checks, field access.
import type { HuaweiResponse } from './huawei-api.js';
import { huaweiErrorBody } from './huawei-api.js';
import { pageCapReached, pageGuard, type PageCap } from './page-guard.js';
import { ProviderError } from './provider.js';

/**
 * A 404 means the record is gone, unless APIG itself answered (APIGW.0101: the API path does not
 * exist), which is a wrong endpoint and must never be mistaken for a successful delete.
 */
export function isRecordNotFound(response: HuaweiResponse, extraCodes: readonly string[] = []): boolean {
  const { code } = huaweiErrorBody(response.body);
  if (code !== undefined && extraCodes.includes(code)) return true;
  return response.status === 404 && !(code ?? '').startsWith('APIGW.');
}

/** A non-negative whole count, given as a JSON number or a numeric string; undefined otherwise. */
export function countValue(raw: unknown): number | undefined {
  const text = typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw.trim() : undefined;
  return text !== undefined && /^\d{1,15}$/.test(text) ? Number(text) : undefined;
}

/**
 * The named array of a list response; a malformed body stops the listing instead of guessing. An
 * absent or null array is an empty page only where the response's own count (`total`) is 0: the
 * documented envelopes show the array, but none promises it when there is nothing to list.
 */
export function listField(response: HuaweiResponse, field: string, total: number | undefined): readonly Record<string, unknown>[] {
  const body = response.body as Record<string, unknown> | undefined;
  const items = body?.[field];
  if ((items === undefined || items === null) && total === 0) return [];
  if (!Array.isArray(items) || items.some((i) => i === null || typeof i !== 'object')) {
    throw new ProviderError('permanent', `unexpected list response: no "${field}" array`, {
      status: response.status, ...(response.requestId ? { requestId: response.requestId } : {}),
    });
  }
  return items as Record<string, unknown>[];
}

/** A string (or numeric) id field, or undefined when absent. */
export function idField(item: Record<string, unknown>, field: string): string | undefined {
  const value = item[field];
  return typeof value === 'string' && value !== '' ? value : typeof value === 'number' ? String(value) : undefined;
}

/** A string field, or undefined. */
export function textField(item: Record<string, unknown>, field: string): string | undefined {
  const value = item[field];
  return typeof value === 'string' ? value : undefined;
}

/** One page of an offset- or page-numbered list, with the total the API reported (if any). */
export interface CountedPage<T> {
  readonly items: readonly T[];
  readonly total: number | undefined;
}

/**
 * Walks an offset- or page-numbered list from its last page down to its first (page indexes are
 * 0-based here). Our workers delete what has been yielded while the walk goes on; all of it sits at
 * or after the page being read, so records not yet read never shift, where a forward walk would skip
 * one record per deletion. The first page is read to learn the total; when it holds everything it is
 * yielded at once. A total that shrinks (others deleting) moves the walk down at once, and a record
 * seen twice (shifted by others) is dropped. At most `cap.pages` pages are walked: more records than
 * that end the walk with pageCapReached after the pages it could read. Without a total, it walks
 * forward to the first short page; a record shifted by concurrent deletes is then listed by the next run.
 */
export async function* walkPagesBackward<T>(
  fetchPage: (index: number) => Promise<CountedPage<T>>,
  options: { readonly pageSize: number; readonly cap: PageCap; readonly walk: string; readonly idOf: (item: T) => string },
): AsyncGenerator<T[]> {
  const seen = new Set<string>();
  const unseen = (items: readonly T[]) => items.filter((item) => {
    const id = options.idOf(item);
    if (id !== '' && seen.has(id)) return false;
    seen.add(id);
    return true;
  });
  const pagesFor = (total: number) => Math.ceil(total / options.pageSize);
  const lastIndexFor = (total: number) => Math.min(pagesFor(total), options.cap.pages) - 1;
  const first = await fetchPage(0);
  if (first.items.length < options.pageSize || (first.total !== undefined && first.total <= options.pageSize)) {
    const items = unseen(first.items);
    if (items.length > 0) yield items;
    return;
  }
  if (first.total === undefined) {
    const enter = pageGuard(options.walk, 'page', options.cap);
    enter('0');
    let page = first;
    for (let index = 1; ; index++) {
      const items = unseen(page.items);
      if (items.length > 0) yield items;
      if (page.items.length < options.pageSize) return;
      enter(String(index));
      page = await fetchPage(index);
    }
  }
  let total = first.total;
  for (let index = lastIndexFor(total); index >= 0;) {
    const page = await fetchPage(index);
    const items = unseen(page.items);
    if (items.length > 0) yield items;
    total = page.total ?? total;
    index = Math.min(index - 1, page.total === undefined ? index - 1 : lastIndexFor(page.total));
  }
  // Still more records than the cap lets the walk reach: the newest were never read.
  if (pagesFor(total) > options.cap.pages) throw pageCapReached(options.walk, options.cap, total - options.cap.pages * options.pageSize);
}

/** What a look-up through a list filter found: the record, proof it is absent, or nothing conclusive. */
export type FilteredLookup<T> = { readonly kind: 'found'; readonly item: T } | { readonly kind: 'absent' } | { readonly kind: 'truncated' };

/**
 * Finds records through a list filter (an API without a single-record read), paging forward until
 * every id has appeared or the filtered list ends. Only a walk that reached the end reports an id
 * `absent`; one stopped at `maxPages` (a filter the server ignored, say) proves nothing.
 */
export async function findAllThroughFilter<T>(
  fetchPage: (index: number) => Promise<CountedPage<T>>,
  options: { readonly ids: readonly string[]; readonly pageSize: number; readonly maxPages: number; readonly idOf: (item: T) => string },
): Promise<Map<string, FilteredLookup<T>>> {
  const found = new Map<string, FilteredLookup<T>>();
  const wanted = new Set(options.ids);
  let seen = 0;
  for (let index = 0; index < options.maxPages && found.size < wanted.size; index++) {
    const page = await fetchPage(index);
    for (const item of page.items) {
      const id = options.idOf(item);
      if (wanted.has(id) && !found.has(id)) found.set(id, { kind: 'found', item });
    }
    seen += page.items.length;
    if (page.items.length < options.pageSize || (page.total !== undefined && seen >= page.total)) {
      for (const id of wanted) if (!found.has(id)) found.set(id, { kind: 'absent' });
    }
  }
  for (const id of wanted) if (!found.has(id)) found.set(id, { kind: 'truncated' });
  return found;
}

/** Finds one record through a list filter: {@link findAllThroughFilter} for one id. */
export async function findThroughFilter<T>(
  fetchPage: (index: number) => Promise<CountedPage<T>>,
  options: { readonly id: string; readonly pageSize: number; readonly maxPages: number; readonly idOf: (item: T) => string },
): Promise<FilteredLookup<T>> {
  return (await findAllThroughFilter(fetchPage, { ...options, ids: [options.id] })).get(options.id) ?? { kind: 'truncated' };
}
