// Parsers for the time formats the five APIs use. Each returns an AgeReference; nothing here guesses.
import type { AgeReference } from './provider.js';

/** Builds a UTC date only when every component is in range (no silent roll-over of Feb 30). */
function utcDate(y: number, mo: number, d: number, h: number, mi: number, s: number, ms = 0): Date | undefined {
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s, ms));
  const same = date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d
    && date.getUTCHours() === h && date.getUTCMinutes() === mi && date.getUTCSeconds() === s;
  return same && y >= 1970 ? date : undefined;
}

function reference(field: string, raw: unknown, parse: (text: string) => Date | undefined): AgeReference {
  if (raw === undefined || raw === null || raw === '') return { kind: 'missing', field };
  if (typeof raw !== 'string' && typeof raw !== 'number') return { kind: 'invalid', field, raw };
  const at = parse(String(raw).trim());
  return at ? { kind: 'ok', field, at } : { kind: 'invalid', field, raw };
}

const digits = (m: RegExpExecArray, from: number, count: number): number[] =>
  Array.from({ length: count }, (_, i) => Number(m[from + i]));

/** ISO-8601 with a zone (`2020-11-10T03:50:28Z`, `2020-11-11T06:51:17.5Z`, `+08:00`); IMM and Workspace. */
export function isoTime(field: string, raw: unknown): AgeReference {
  return reference(field, raw, (text) => {
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(text);
    if (!m) return undefined;
    const [y, mo, d, h, mi, s] = digits(m, 1, 6) as [number, number, number, number, number, number];
    const ms = m[7] ? Math.floor(Number(`0.${m[7]}`) * 1000) : 0;
    const local = utcDate(y, mo, d, h, mi, s, ms);
    if (!local) return undefined;
    const zone = m[8] ?? 'Z';
    if (zone === 'Z') return local;
    const sign = zone.startsWith('-') ? -1 : 1;
    const offsetMin = Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6));
    return Number(zone.slice(1, 3)) > 23 || Number(zone.slice(4, 6)) > 59 ? undefined : new Date(local.getTime() - sign * offsetMin * 60_000);
  });
}

/** IoTDA's `yyyyMMdd'T'HHmmss'Z'` (UTC), e.g. `20151212T121212Z`. */
export function compactIsoTime(field: string, raw: unknown): AgeReference {
  return reference(field, raw, (text) => {
    const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
    return m ? utcDate(...(digits(m, 1, 6) as [number, number, number, number, number, number])) : undefined;
  });
}

/** MPC's `yyyyMMddHHmmss` (UTC), which the API serialises as a string or as a JSON number. */
export function digitsTime(field: string, raw: unknown): AgeReference {
  return reference(field, raw, (text) => {
    const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(text);
    return m ? utcDate(...(digits(m, 1, 6) as [number, number, number, number, number, number])) : undefined;
  });
}

// Epoch values accepted as plausible: 2000-01-01 to 2100-01-01. Seconds and milliseconds ranges do
// not overlap there (9.5e8..4.1e9 s versus 9.5e11..4.1e12 ms), so the unit is unambiguous.
const EPOCH_MIN_S = 946_684_800;
const EPOCH_MAX_S = 4_102_444_800;

/** VIAS's `created_at` Long of undocumented unit: seconds or milliseconds, anything else refused. */
export function epochTime(field: string, raw: unknown): AgeReference {
  return reference(field, raw, (text) => {
    if (!/^\d{1,16}$/.test(text)) return undefined;
    const n = Number(text);
    if (n >= EPOCH_MIN_S && n < EPOCH_MAX_S) return new Date(n * 1000);
    if (n >= EPOCH_MIN_S * 1000 && n < EPOCH_MAX_S * 1000) return new Date(n);
    return undefined;
  });
}
