import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { PROVIDER_FACTS } from '../../src/providers/catalog.js';
import { callHuawei, huaweiAuthFrom, type HuaweiApiDeps } from '../../src/providers/huawei-api.js';
import { createHttpClient } from '../../src/providers/http.js';
import { ageReference, createMpcProvider } from '../../src/providers/mpc.js';
import type { CloudTask, Provider } from '../../src/providers/provider.js';
import { huaweiError, json } from '../../src/simulator/api.js';
import { MPC_STATUSES, mpcTime } from '../../src/simulator/mpc.js';
import { DEFAULT_SIM_PROJECTS, type Simulator } from '../../src/simulator/server.js';
import { simulatorEnv, useSimulators } from '../helpers/janitor.js';
import { listPages, mpcCancelCalls, providerErrorOf } from '../helpers/provider.js';

const DAY = 86_400_000;
const PROJECT = DEFAULT_SIM_PROJECTS.mpc[0] as string;
const http = createHttpClient({ timeoutMs: 5_000 });

const fixture = useSimulators('mpc-unit');

function setup(s: Simulator): { provider: Provider; api: HuaweiApiDeps } {
  const config = loadConfig(simulatorEnv(s, ['mpc'], 'jt-mpc-unit'));
  const pc = config.providers[0];
  if (!pc || !config.huaweiAuth) throw new Error('simulator env did not configure mpc');
  const auth = huaweiAuthFrom(config.huaweiAuth);
  const now = () => new Date();
  return { provider: createMpcProvider(pc, { http, auth, now }), api: { http, endpoint: s.url, auth, now } };
}

function putTask(s: Simulator, id: number, over: Record<string, unknown> = {}, project = PROJECT): string {
  const ended = new Date(Date.now() - 30 * DAY);
  s.put('mpc', project, {
    task_id: String(id), status: 'SUCCEED', create_time: mpcTime(new Date(ended.getTime() - 60_000)), start_time: mpcTime(ended), end_time: mpcTime(ended), ...over,
  });
  return String(id);
}

const listAll = (provider: Provider, project = PROJECT): Promise<CloudTask[][]> => listPages(provider, project);

describe('MPC endpoint', () => {
  it('uses the legacy mts host in cn-north-1 and the mpc host elsewhere', () => {
    expect(PROVIDER_FACTS.mpc.endpointFor('cn-north-1')).toBe('https://mts.cn-north-1.myhuaweicloud.com');
    expect(PROVIDER_FACTS.mpc.endpointFor('cn-north-4')).toBe('https://mpc.cn-north-4.myhuaweicloud.com');
    expect(PROVIDER_FACTS.mpc.endpointFor('ap-southeast-3')).toBe('https://mpc.ap-southeast-3.myhuaweicloud.com');
  });
});

describe('MPC listing', () => {
  it('walks 0-based pages of 100 from the last to the first, reading every record once', async () => {
    const sim = await fixture.start();
    for (let i = 0; i < 250; i++) putTask(sim, 1000 + i);
    const pages = await listAll(setup(sim).provider);
    // Last page first; page 0 is read once for the total and once more at the end of the walk.
    expect(pages.map((p) => p.length)).toEqual([50, 100, 100]);
    expect(new Set(pages.flat().map((t) => t.id)).size).toBe(250);
    expect(sim.counters.mpc.list).toBe(4);
  });

  it('reads only the pages the total covers, without asking for an empty page', async () => {
    const sim = await fixture.start();
    for (let i = 0; i < 200; i++) putTask(sim, 1000 + i);
    expect((await listAll(setup(sim).provider)).map((p) => p.length)).toEqual([100, 100]);
    expect(sim.counters.mpc.list).toBe(3);
  });

  it('stops on an empty or short page even when the total claims more', async () => {
    const sim = await fixture.start();
    sim.inject({ provider: 'mpc', op: 'list', times: 1, response: json(200, { total: 5000, tasks: [] }) });
    expect(await listAll(setup(sim).provider)).toEqual([]);
    sim.inject({ provider: 'mpc', op: 'list', times: 1, response: json(200, { total: 5000, tasks: [{ task_id: 1, status: 'SUCCEED' }] }) });
    expect((await listAll(setup(sim).provider)).flat().map((t) => t.id)).toEqual(['1']);
    expect(sim.counters.mpc.list).toBe(2);
  });

  it('keeps walking by page length when the response has no total', async () => {
    const sim = await fixture.start();
    const page = (n: number) => Array.from({ length: n }, (_, i) => ({ task_id: n * 1000 + i, status: 'SUCCEED' }));
    sim.inject({ provider: 'mpc', op: 'list', times: 1, response: json(200, { tasks: page(100) }) });
    sim.inject({ provider: 'mpc', op: 'list', times: 1, response: json(200, { tasks: page(7) }) });
    expect((await listAll(setup(sim).provider)).map((p) => p.length)).toEqual([100, 7]);
    expect(sim.counters.mpc.list).toBe(2);
  });

  it('misses no record while the records it yielded are deleted during the walk', async () => {
    const sim = await fixture.start();
    const ids = Array.from({ length: 300 }, (_, i) => putTask(sim, 1000 + i));
    const { provider } = setup(sim);
    const seen: string[] = [];
    for await (const page of provider.listTasks(PROJECT)) {
      seen.push(...page.map((t) => t.id));
      // Our workers delete behind the producer: a forward offset walk would skip a record per delete.
      for (const task of page) await provider.deleteTasks(PROJECT, [task.id]);
    }
    expect(seen.sort()).toEqual([...ids].sort());
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('maps every documented status, and passes an undocumented one through for the policy to refuse', async () => {
    const sim = await fixture.start();
    [...MPC_STATUSES, 'NEED_TO_BE_AUDIT'].forEach((status, i) => putTask(sim, 2000 + i, { status }));
    const states = (await listAll(setup(sim).provider)).flat().map((t) => t.states);
    expect(states.sort()).toEqual([...MPC_STATUSES, 'NEED_TO_BE_AUDIT'].map((s) => [s]).sort());
  });

  it('ages from end_time as a string or a JSON number, and from create_time only when end_time is absent', async () => {
    const sim = await fixture.start();
    const end = new Date(Date.UTC(2024, 2, 1, 12, 30, 15));
    const created = new Date(Date.UTC(2024, 1, 1, 0, 0, 0));
    const at = (over: Record<string, unknown>) => ageReference({ create_time: mpcTime(created), ...over });
    expect(at({ end_time: mpcTime(end) })).toEqual({ kind: 'ok', field: 'end_time', at: end });
    expect(at({ end_time: Number(mpcTime(end)) })).toEqual({ kind: 'ok', field: 'end_time', at: end });
    expect(ageReference({ create_time: Number(mpcTime(created)) })).toEqual({ kind: 'ok', field: 'create_time', at: created });
    expect(at({ end_time: null })).toEqual({ kind: 'ok', field: 'create_time', at: created });
    expect(at({ end_time: '' })).toEqual({ kind: 'ok', field: 'create_time', at: created });
    expect(ageReference({})).toEqual({ kind: 'missing', field: 'create_time' });
    expect(ageReference({ create_time: '2024-13-45T99:00' })).toMatchObject({ kind: 'invalid', field: 'create_time' });

    // Through the API too: numbers survive the JSON round trip.
    putTask(sim, 3000, { end_time: Number(mpcTime(end)), create_time: Number(mpcTime(created)) });
    const [task] = (await listAll(setup(sim).provider)).flat();
    expect(task?.agedFrom).toEqual({ kind: 'ok', field: 'end_time', at: end });
  });

  it('never falls back to create_time when end_time is present but malformed', () => {
    for (const bad of ['20241345996000', '2024-01-01 10:00:00', 'null', 2024, { t: 1 }]) {
      expect(ageReference({ create_time: '20200101000000', end_time: bad })).toMatchObject({ kind: 'invalid', field: 'end_time', raw: bad });
    }
  });

  it('retries a throttled page and then continues', async () => {
    const sim = await fixture.start();
    putTask(sim, 4000);
    sim.inject({ provider: 'mpc', op: 'list', times: 1, response: huaweiError(429, 'APIGW.0308', 'The request is throttled.') });
    expect((await listAll(setup(sim).provider)).flat()).toHaveLength(1);
    expect(sim.counters.mpc.list).toBe(2);
  });

  it('fails listing at once on a bad request or an auth failure, keeping the provider code and message', async () => {
    const sim = await fixture.start();
    sim.inject({ provider: 'mpc', op: 'list', times: 1, response: huaweiError(400, 'MPC.10202', 'Invalid request parameter.') });
    const bad = await providerErrorOf(listAll(setup(sim).provider));
    expect(bad).toMatchObject({ kind: 'permanent', details: { code: 'MPC.10202', status: 400 } });
    expect(bad.message).toContain('Invalid request parameter.');
    const auth = await providerErrorOf(listAll(setup(sim).provider, 'unknown-project'));
    expect(auth).toMatchObject({ kind: 'permanent', details: { code: 'MPC.10203', status: 401 } });
    expect(sim.counters.mpc.list).toBe(2);
  });
});

describe('MPC simulator', () => {
  it('rejects a page size outside 1-100 with MPC.10202', async () => {
    const sim = await fixture.start();
    const { api } = setup(sim);
    for (const size of [0, 101]) {
      const r = await callHuawei(api, PROJECT, { operation: 'list', method: 'GET', path: `/v1/${PROJECT}/remux`, query: [['page', 0], ['size', size]] });
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ error_code: 'MPC.10202' });
    }
    const ok = await callHuawei(api, PROJECT, { operation: 'list', method: 'GET', path: `/v1/${PROJECT}/remux`, query: [['page', 0], ['size', 100]] });
    expect(ok.status).toBe(200);
  });

  it('cancels a queued task through CancelRemuxTask and logs the call (the trap the janitor avoids)', async () => {
    const sim = await fixture.start({ projects: { mpc: ['cancel-probe'] } });
    const id = putTask(sim, 5000, { status: 'WAITING', end_time: undefined }, 'cancel-probe');
    const { api } = setup(sim);
    const r = await callHuawei(api, 'cancel-probe', { operation: 'delete', method: 'DELETE', path: '/v1/cancel-probe/remux', query: [['task_id', id]] });
    expect(r.status).toBe(204);
    expect(sim.records('mpc', 'cancel-probe')[0]).toMatchObject({ status: 'CANCELED' });
    expect(mpcCancelCalls(sim, 'cancel-probe')).toEqual([{ project: 'cancel-probe', taskId: id }]);
  });
});

describe('MPC delete', () => {
  it('deletes a finished record with DeleteRemuxTask (204) and never calls CancelRemuxTask', async () => {
    const sim = await fixture.start();
    const id = putTask(sim, 6000);
    const result = await setup(sim).provider.deleteTasks(PROJECT, [id]);
    expect(result.failures).toEqual([]);
    expect(result.outcomes).toEqual([{ id, result: 'deleted', requestId: expect.any(String) as string }]);
    expect(sim.deleted).toEqual([{ provider: 'mpc', project: PROJECT, id }]);
    expect(mpcCancelCalls(sim, PROJECT)).toEqual([]);
  });

  it('counts MPC.10211 as already gone when a fresh lookup no longer finds the record', async () => {
    const sim = await fixture.start();
    const result = await setup(sim).provider.deleteTasks(PROJECT, ['999999']);
    expect(result.outcomes).toMatchObject([{ id: '999999', result: 'gone' }]);
    expect(sim.counters.mpc.get).toBe(1);
  });

  it('fails MPC.10211 permanently, keeping code and message, when the record still exists', async () => {
    const sim = await fixture.start();
    const id = putTask(sim, 6100, { status: 'PROCESSING', end_time: undefined });
    const error = await providerErrorOf(setup(sim).provider.deleteTasks(PROJECT, [id]));
    expect(error).toMatchObject({ kind: 'permanent', details: { code: 'MPC.10211', status: 403 } });
    expect(error.message).toContain('The packaging task record cannot be deleted.');
    expect(error.message).toContain('PROCESSING');
    expect(sim.records('mpc', PROJECT)).toHaveLength(1);
  });

  it('looks the record up after any refusal of the request (its code for a missing task_id is undocumented): gone when absent', async () => {
    const sim = await fixture.start();
    const { provider } = setup(sim);
    for (const [status, code] of [[400, 'MPC.10202'], [400, 'MPC.10213'], [403, 'MPC.10212'], [409, 'MPC.10299']] as const) {
      sim.inject({ provider: 'mpc', op: 'delete', times: 1, response: huaweiError(status, code, 'The task does not exist.') });
      expect((await provider.deleteTasks(PROJECT, ['999997'])).outcomes, code).toMatchObject([{ id: '999997', result: 'gone' }]);
    }
    expect(sim.counters.mpc.get).toBe(4);
    // An authentication failure is not about the record: no look-up.
    sim.inject({ provider: 'mpc', op: 'delete', times: 1, response: huaweiError(401, 'MPC.10203', 'Authentication failed.') });
    expect(await providerErrorOf(provider.deleteTasks(PROJECT, ['999997']))).toMatchObject({ kind: 'permanent', details: { code: 'MPC.10203' } });
    expect(sim.counters.mpc.get).toBe(4);
  });

  it('reports a throttled or failed lookup after MPC.10211 as that failure, never as gone', async () => {
    const sim = await fixture.start();
    const { provider } = setup(sim);
    sim.inject({ provider: 'mpc', op: 'get', times: 1, response: huaweiError(429, 'APIGW.0308', 'The request is throttled.', undefined) });
    expect((await providerErrorOf(provider.deleteTasks(PROJECT, ['999998']))).kind).toBe('throttled');
    sim.inject({ provider: 'mpc', op: 'get', times: 1, response: huaweiError(503, 'APIGW.0103', 'backend unavailable') });
    expect((await providerErrorOf(provider.deleteTasks(PROJECT, ['999998']))).kind).toBe('transient');
  });

  it('counts a 404 from MPC as gone but never an APIG "API does not exist" 404', async () => {
    const sim = await fixture.start();
    const { provider } = setup(sim);
    sim.inject({ provider: 'mpc', op: 'delete', times: 1, response: huaweiError(404, 'MPC.10211', 'The task does not exist.') });
    expect((await provider.deleteTasks(PROJECT, ['1'])).outcomes).toMatchObject([{ result: 'gone' }]);
    sim.inject({ provider: 'mpc', op: 'delete', times: 1, response: huaweiError(404, 'APIGW.0101', 'The API does not exist.') });
    expect(await providerErrorOf(provider.deleteTasks(PROJECT, ['1']))).toMatchObject({ kind: 'permanent', details: { code: 'APIGW.0101' } });
  });

  it('classifies throttling (honouring Retry-After), 5xx, auth and bad requests', async () => {
    const sim = await fixture.start();
    const { provider } = setup(sim);
    const id = putTask(sim, 6200);
    const cases = [
      { response: huaweiError(429, 'APIGW.0308', 'The request is throttled.'), headers: { 'Retry-After': '7' }, kind: 'throttled', code: 'APIGW.0308', retryAfterMs: 7_000 },
      { response: huaweiError(500, 'APIGW.0103', 'The backend service is unavailable.'), kind: 'transient', code: 'APIGW.0103' },
      { response: huaweiError(401, 'MPC.10203', 'Authentication failed.'), kind: 'permanent', code: 'MPC.10203' },
      { response: huaweiError(400, 'MPC.10202', 'Invalid request parameter.'), kind: 'permanent', code: 'MPC.10202' },
    ];
    for (const c of cases) {
      sim.inject({ provider: 'mpc', op: 'delete', taskId: id, times: 1, response: { ...c.response, ...(c.headers ? { headers: c.headers } : {}) } });
      const error = await providerErrorOf(provider.deleteTasks(PROJECT, [id]));
      expect(error).toMatchObject({ kind: c.kind, details: { code: c.code, ...(c.retryAfterMs ? { retryAfterMs: c.retryAfterMs } : {}) } });
      expect(error.message).toContain((c.response.body as { error_msg: string }).error_msg);
    }
    expect(sim.records('mpc', PROJECT)).toHaveLength(1);
  });
});
