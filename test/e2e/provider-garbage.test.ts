// A provider answering garbage, through the built CLI: HTML error pages from a proxy, JSON cut off
// mid-way, empty bodies (on list, get and delete), answers that never come, and a 429 storm. Nothing
// is deleted wrongly, nothing is counted deleted that the provider still has, every failure names its
// cause, and the run ends within its bounds.
import { afterAll, describe, expect, it } from 'vitest';
import type { SimResponse } from '../../src/simulator/api.js';
import { iotdaTime } from '../../src/simulator/iotda.js';
import { DEFAULT_SIM_PROJECTS, type Fault, type Simulator } from '../../src/simulator/server.js';
import { runCli } from '../helpers/cli.js';
import { recordFigures } from '../helpers/figures.js';
import { simulatorEnv, useSimulators } from '../helpers/janitor.js';

const DAY = 86_400_000;
const PROJECT = DEFAULT_SIM_PROJECTS.iotda[0] as string;
const fixture = useSimulators('garbage');
const figures = { faultsInjected: 0, runs: 0, wronglyDeleted: 0, lost: 0 };
afterAll(() => recordFigures('provider-garbage', figures));

const JSON_TYPE = 'application/json;charset=UTF-8';
const HTML_502: SimResponse = { status: 502, raw: { text: '<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1><hr>nginx</body></html>', contentType: 'text/html' } };
const TRUNCATED: SimResponse = { status: 200, raw: { text: '{"batchtasks":[{"task_id":"00000000000000000000', contentType: JSON_TYPE } };
const EMPTY: SimResponse = { status: 200, raw: { text: '', contentType: JSON_TYPE } };
const HANG: SimResponse = { status: 200, hang: true };

interface Seeded { readonly stale: string[]; readonly running: string[] }

/** Six stale finished tasks (the candidates) and two running ones (never to be deleted). */
function seed(sim: Simulator): Seeded {
  const old = iotdaTime(new Date(Date.now() - 30 * DAY));
  const put = (n: number, status: string) => {
    const id = n.toString(16).padStart(24, '0');
    sim.put('iotda', PROJECT, { task_id: id, task_type: 'createDevices', status, create_time: old });
    return id;
  };
  return { stale: [1, 2, 3, 4, 5, 6].map((n) => put(n, 'Success')), running: [7, 8].map((n) => put(n, 'Processing')) };
}

function envFor(sim: Simulator, extra: Record<string, string> = {}): Record<string, string> {
  return simulatorEnv(sim, ['iotda'], fixture.prefix(), {
    IOTDA_TASK_TYPES: 'createDevices', JANITOR_MAX_RUNTIME: '20s', JANITOR_HTTP_TIMEOUT: '2s', JANITOR_BACKOFF: '1s', IOTDA_ATTEMPTS: '5', ...extra,
  });
}

const deleted = (sim: Simulator) => sim.deleted.map((d) => d.id).sort();

/** Adds one run's outcome to the file's figures: faults injected, tasks deleted that were not candidates, candidates left. */
function tally(sim: Simulator, seeded: Seeded, faults: number, expected: readonly string[]): void {
  figures.runs += 1;
  figures.faultsInjected += faults;
  figures.wronglyDeleted += deleted(sim).filter((id) => !seeded.stale.includes(id)).length;
  figures.lost += expected.filter((id) => !deleted(sim).includes(id)).length;
}

const answered = (sim: Simulator, op: string, status: number) => sim.requests.filter((r) => r.op === op && r.status === status).length;

describe('a list API answering garbage', () => {
  it.each([
    ['an HTML 502 page', HTML_502, /LIST FAILED.*502/],
    ['JSON cut off mid-way', TRUNCATED, /LIST FAILED: unreadable answer: HTTP 200 with a body that is not JSON/],
    ['an empty 200 body', EMPTY, /LIST FAILED: unreadable answer: HTTP 200 with an empty body/],
    ['no answer at all (JANITOR_HTTP_TIMEOUT=2s)', HANG, /LIST FAILED: network error ETIMEDOUT: Timeout awaiting 'request' for 2000ms/],
  ])('fails the target on %s, deletes nothing, says why and exits 3', async (_label, response, reason) => {
    const sim = await fixture.start();
    const seeded = seed(sim);
    sim.inject({ provider: 'iotda', op: 'list', times: 1_000, response });
    const result = await runCli(['run'], envFor(sim));
    tally(sim, seeded, sim.requests.filter((r) => r.op === 'list').length, []);
    expect(deleted(sim)).toEqual([]);
    expect(result.stdout).toMatch(reason);
    expect(result.code).toBe(3);
    expect(result.ms).toBeLessThan(20_000);
  }, 40_000);
});

describe('a re-read answering garbage', () => {
  it.each([
    ['an HTML 502 page', HTML_502],
    ['JSON cut off mid-way', TRUNCATED],
    ['an empty 200 body', EMPTY],
    ['no answer at all', HANG],
  ])('never deletes the task while its re-read answers %s, and deletes it once the answer is sound', async (_label, response) => {
    const sim = await fixture.start();
    const seeded = seed(sim);
    const victim = seeded.stale[0] as string;
    sim.inject({ provider: 'iotda', op: 'get', taskId: victim, times: 2, response });
    const result = await runCli(['run'], envFor(sim));
    tally(sim, seeded, 2, seeded.stale);
    expect(deleted(sim)).toEqual(seeded.stale);
    // No DELETE of the victim before a sound re-read (the simulator records a hanging call as its status).
    const calls = sim.requests.filter((r) => r.taskId === victim).map((r) => r.op);
    expect(calls.slice(0, 2)).toEqual(['get', 'get']);
    expect(calls.slice(2)).toEqual(['get', 'delete']);
    expect(result.stdout).toContain('deleted 6, already gone 0, failed 0');
    expect(result.code).toBe(0);
  }, 60_000);
});

describe('a delete answering garbage', () => {
  it.each([
    ['an HTML 502 page', HTML_502, false],
    ['no answer at all', HANG, false],
    ['no answer at all, after deleting', HANG, true],
    ['JSON cut off mid-way, after deleting', TRUNCATED, true],
    ['an empty 200 body, after deleting', EMPTY, true],
  ])('retries or settles a delete answered with %s, and the summary counts what the provider deleted', async (_label, response, applied) => {
    const sim = await fixture.start();
    const seeded = seed(sim);
    sim.inject({ provider: 'iotda', op: 'delete', taskId: seeded.stale[1], times: 2, response, ...(applied ? { applied: true as const } : {}) });
    const result = await runCli(['run'], envFor(sim));
    tally(sim, seeded, applied ? 1 : 2, seeded.stale);
    expect(deleted(sim)).toEqual(seeded.stale);
    expect(sim.records('iotda', PROJECT).map((r) => String(r.task_id)).sort()).toEqual(seeded.running);
    // Deleted by this call or found gone on the retry's re-read: together, what the provider deleted.
    const counted = /deleted (\d+), already gone (\d+), failed 0/.exec(result.stdout);
    expect(Number(counted?.[1]) + Number(counted?.[2])).toBe(deleted(sim).length);
    expect(result.code).toBe(0);
  }, 60_000);
});

describe('a 429 storm', () => {
  it('deletes nothing while every delete is throttled, ends at JANITOR_MAX_RUNTIME saying what is pending, and the next run deletes', async () => {
    const sim = await fixture.start();
    const seeded = seed(sim);
    const storm: Fault = { provider: 'iotda', op: 'delete', times: 1_000_000, response: { status: 429, body: { error_code: 'APIGW.0308', error_msg: 'The request is throttled.' } } };
    sim.inject(storm);
    const env = envFor(sim, { JANITOR_MAX_RUNTIME: '6s', JANITOR_SHUTDOWN_GRACE: '3s' });
    const stormy = await runCli(['run'], env);
    const throttled = answered(sim, 'delete', 429);
    expect(throttled).toBeGreaterThan(0);
    expect(deleted(sim)).toEqual([]);
    expect(stormy.stdout).toMatch(/still pending at exit [1-9]/);
    expect(stormy.code).toBe(1);
    // Bounded: the deadline plus the shutdown grace, with room for the process to start.
    expect(stormy.ms).toBeLessThan(6_000 + 3_000 + 5_000);

    storm.times = 0;
    const after = await runCli(['run'], env);
    tally(sim, seeded, throttled, seeded.stale);
    expect(deleted(sim)).toEqual(seeded.stale);
    expect(after.code).toBe(0);
  }, 60_000);
});
