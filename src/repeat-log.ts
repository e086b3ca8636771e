// Keeps a failure that repeats (Redis out of memory, down, refusing) from flooding the logs: the first
// occurrence is logged at once, then one line per window says how many more there were.
import type { Logger } from './logger.js';

export const REPEAT_WINDOW_MS = 10_000;

export type RepeatLimitedLog = (key: string, fields: Record<string, unknown>, message: string) => void;

/**
 * Returns a log function for one source of repeated events. Events with the same `key` (say, the
 * cause) within `windowMs` of the first are counted, not logged; when the window ends, one line with
 * `repeated: n` reports them. Its timers never keep the process alive.
 */
export function repeatLimitedLog(logger: Logger, level: 'error' | 'warn', windowMs = REPEAT_WINDOW_MS): RepeatLimitedLog {
  const open = new Map<string, { suppressed: number; fields: Record<string, unknown>; message: string }>();
  return (key, fields, message) => {
    const window = open.get(key);
    if (window) {
      window.suppressed += 1;
      window.fields = fields;
      return;
    }
    logger[level](fields, message);
    const state = { suppressed: 0, fields, message };
    open.set(key, state);
    setTimeout(() => {
      open.delete(key);
      if (state.suppressed > 0) logger[level]({ ...state.fields, repeated: state.suppressed, windowMs }, `${state.message} (repeated)`);
    }, windowMs).unref();
  };
}
