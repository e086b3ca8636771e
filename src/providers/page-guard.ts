// Every paged listing ends: a page token (marker, NextToken) the API hands back a second time means
// it is cycling, and no walk reads more pages than its cap. Either stops that target's listing with
// a permanent ProviderError naming the reason (the summary's LIST FAILED line, exit 3); the pages
// already read stand, and the other targets are listed as usual.
import { ProviderError } from './provider.js';

/** How many pages one walk may read, and what sets that number (a variable, or the API's own maximum). */
export interface PageCap {
  readonly pages: number;
  readonly source: string;
}

/** The cap of JANITOR_MAX_LIST_PAGES, lowered to an API's own page maximum where it has one. */
export function pageCapOf(maxListPages: number, apiMax?: { readonly pages: number; readonly source: string }): PageCap {
  return apiMax !== undefined && apiMax.pages < maxListPages ? apiMax : { pages: maxListPages, source: 'JANITOR_MAX_LIST_PAGES' };
}

/** The error of a walk stopped at its cap with records still unread. */
export function pageCapReached(walk: string, cap: PageCap, unread?: number): ProviderError {
  const left = unread === undefined ? 'more records were not listed' : `${unread} more record(s) were not listed`;
  return new ProviderError('permanent', `paging stopped at the ${cap.pages}-page cap (${cap.source}) of ${walk}: ${left}; they are left for a later run`);
}

/**
 * A guard for one cursor walk: call it with each page token before reading that page. It throws when
 * the token was read before (a cycle such as A, B, A, or the same token twice) or when the walk
 * already read `cap.pages` pages and the API still says there is more.
 */
export function pageGuard(walk: string, tokenName: string, cap: PageCap): (token: string) => void {
  const seen = new Set<string>();
  return (token) => {
    if (seen.has(token)) {
      throw new ProviderError('permanent', `paging stopped: ${walk} returned ${tokenName} ${JSON.stringify(token)} again after ${seen.size} page(s) (the API is cycling); the rest of this target was not listed`);
    }
    if (seen.size >= cap.pages) throw pageCapReached(walk, cap);
    seen.add(token);
  };
}
