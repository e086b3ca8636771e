// Parses the human units the configuration accepts: durations (90m, 36h, 7d, 2w) and rates (10/s, 300/m).

const DURATION_UNITS_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
const RATE_UNITS_MS = { s: 1_000, m: 60_000, h: 3_600_000 } as const;

/** A duration in milliseconds, or undefined when the text is not `<positive integer><s|m|h|d|w>`. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d{1,9})(s|m|h|d|w)$/.exec(text.trim());
  if (!match) return undefined;
  const amount = Number(match[1]);
  if (amount <= 0) return undefined;
  return amount * DURATION_UNITS_MS[match[2] as keyof typeof DURATION_UNITS_MS];
}

/** A rate limit: at most `max` calls per `durationMs`; `max` is infinite for `none` (not paced). */
export interface Rate {
  readonly max: number;
  readonly durationMs: number;
}

/** `none`: no rate of the janitor's own (see isPaced). */
export const UNPACED: Rate = Object.freeze({ max: Number.POSITIVE_INFINITY, durationMs: 1_000 });

/** Whether calls at this rate are spaced by a budget; `none` leaves them to the concurrency caps. */
export function isPaced(rate: Pick<Rate, 'max'>): boolean {
  return Number.isFinite(rate.max);
}

/** Parses `10/s`, `300/m`, `1000/h` and `none`; undefined when malformed or zero. */
export function parseRate(text: string): Rate | undefined {
  if (text.trim().toLowerCase() === 'none') return UNPACED;
  const match = /^(\d{1,7})\/(s|m|h)$/.exec(text.trim());
  if (!match) return undefined;
  const max = Number(match[1]);
  if (max <= 0) return undefined;
  return { max, durationMs: RATE_UNITS_MS[match[2] as keyof typeof RATE_UNITS_MS] };
}

/** Short human form of a duration for summaries and logs: 1d2h, 3m4s, 850ms. */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  const parts: string[] = [];
  let rest = Math.round(ms / 1_000);
  for (const [unit, size] of [['d', 86_400], ['h', 3_600], ['m', 60], ['s', 1]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
    if (parts.length === 2) break;
  }
  return parts.join('');
}
