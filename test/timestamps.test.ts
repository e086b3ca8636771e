import { describe, expect, it } from 'vitest';
import { compactIsoTime, digitsTime, epochTime, isoTime } from '../src/providers/timestamps.js';

const ok = (iso: string) => ({ kind: 'ok', at: new Date(iso) });

describe('timestamp parsers', () => {
  it.each([
    ['2020-11-10T03:50:28Z', '2020-11-10T03:50:28.000Z'],
    ['2020-11-11T06:51:17.5Z', '2020-11-11T06:51:17.500Z'],
    ['2022-03-07T10:40:43.858Z', '2022-03-07T10:40:43.858Z'],
    ['2022-03-07T18:40:43+08:00', '2022-03-07T10:40:43.000Z'],
  ])('reads ISO-8601 %s', (raw, iso) => {
    expect(isoTime('t', raw)).toMatchObject(ok(iso));
  });
  it.each(['2020-02-30T00:00:00Z', '2020-11-10 03:50:28', '2020-11-10T03:50:28', 'yesterday', '2020-11-10T25:00:00Z'])('refuses ISO-8601 %j', (raw) => {
    expect(isoTime('t', raw)).toMatchObject({ kind: 'invalid' });
  });
  it('reads IoTDA compact times and refuses others', () => {
    expect(compactIsoTime('t', '20151212T121212Z')).toMatchObject(ok('2015-12-12T12:12:12Z'));
    expect(compactIsoTime('t', '20151312T121212Z')).toMatchObject({ kind: 'invalid' });
    expect(compactIsoTime('t', '2015-12-12T12:12:12Z')).toMatchObject({ kind: 'invalid' });
  });
  it('reads MPC digit times given as strings or numbers', () => {
    expect(digitsTime('t', '20201117021558')).toMatchObject(ok('2020-11-17T02:15:58Z'));
    expect(digitsTime('t', 20201117021558)).toMatchObject(ok('2020-11-17T02:15:58Z'));
    expect(digitsTime('t', 2020111702155)).toMatchObject({ kind: 'invalid' });
  });
  it('tells epoch seconds from milliseconds and refuses implausible values', () => {
    expect(epochTime('t', 1_700_000_000)).toMatchObject(ok('2023-11-14T22:13:20Z'));
    expect(epochTime('t', 1_700_000_000_000)).toMatchObject(ok('2023-11-14T22:13:20Z'));
    expect(epochTime('t', 12345)).toMatchObject({ kind: 'invalid' });
    expect(epochTime('t', 1_700_000_000_000_000)).toMatchObject({ kind: 'invalid' });
    expect(epochTime('t', -5)).toMatchObject({ kind: 'invalid' });
  });
  it.each([undefined, null, ''])('reports %j as missing', (raw) => {
    expect(isoTime('end_time', raw)).toEqual({ kind: 'missing', field: 'end_time' });
  });
  it('reports objects as invalid, never as a date', () => {
    expect(isoTime('t', { at: 1 })).toMatchObject({ kind: 'invalid' });
  });
});
