import { describe, expect, it } from 'vitest';
import { formatDuration, isPaced, parseDuration, parseRate, UNPACED } from '../src/units.js';

describe('units', () => {
  it.each([['90m', 5_400_000], ['36h', 129_600_000], ['7d', 604_800_000], ['2w', 1_209_600_000], ['30s', 30_000]])('parses duration %s', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });
  it.each(['', '7', 'd', '0d', '-1d', '1.5h', '7 days', '7D', '1y'])('refuses duration %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
  it('parses rates per second, minute and hour', () => {
    expect(parseRate('10/s')).toEqual({ max: 10, durationMs: 1000 });
    expect(parseRate('300/m')).toEqual({ max: 300, durationMs: 60_000 });
    expect(parseRate('1000/h')).toEqual({ max: 1000, durationMs: 3_600_000 });
    expect(isPaced(parseRate('1000/h') ?? UNPACED)).toBe(true);
  });
  it('parses none: no rate of its own', () => {
    expect(parseRate('none')).toBe(UNPACED);
    expect(parseRate(' None ')).toBe(UNPACED);
    expect(isPaced(UNPACED)).toBe(false);
  });
  it.each(['0/s', '10', '10/d', 'ten/s', '10/ s', 'unlimited', 'none/s', '0'])('refuses rate %j', (text) => {
    expect(parseRate(text)).toBeUndefined();
  });
  it('formats durations for humans', () => {
    expect(formatDuration(850)).toBe('850ms');
    expect(formatDuration(93_784_000)).toBe('1d2h');
    expect(formatDuration(184_000)).toBe('3m4s');
  });
});
