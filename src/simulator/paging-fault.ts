// A list API gone wrong, on request: its next-page cursor (IoTDA's marker, IMM's NextToken) cycles
// A, B, A, B or repeats, so tests can prove that a listing still ends; or it is left out.

/**
 * `cycle`: the cursors handed back alternate between two values; `repeat`: always the same one;
 * `omit`: none is handed back (an implementation that leaves the optional field out).
 */
export type PagingFault = 'cycle' | 'repeat' | 'omit';

/** The next-page cursor a faulty API hands back after the page read at `requested`; undefined for `omit`. */
export function faultyCursor(fault: PagingFault, requested: string, cursors: readonly [string, string]): string | undefined {
  if (fault === 'omit') return undefined;
  if (fault === 'repeat') return cursors[0];
  return requested === cursors[0] ? cursors[1] : cursors[0];
}
