import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { huaweiAuthFrom } from '../../src/providers/huawei-api.js';
import { createHttpClient } from '../../src/providers/http.js';
import type { CloudTask, Provider } from '../../src/providers/provider.js';
import { ProviderError } from '../../src/providers/provider.js';
import { batchStates, createViasProvider, incompleteDelete, lastPageFor, toCloudTask } from '../../src/providers/vias.js';
import { apigThrottled, huaweiError, json } from '../../src/simulator/api.js';
import { DEFAULT_SIM_PROJECTS, SIMULATOR_CREDENTIALS, type Simulator } from '../../src/simulator/server.js';
import { VIAS_SUB_TASK_STATES, viasError } from '../../src/simulator/vias.js';
import { simulatorEnv, useSimulators } from '../helpers/janitor.js';
import { listPages, providerErrorOf } from '../helpers/provider.js';

const DAY = 86_400_000;
const PROJECT = DEFAULT_SIM_PROJECTS.vias[0] as string;
const BASE_MS = Date.now() - 30 * DAY;

const fixture = useSimulators('vias-unit');

function providerFor(s: Simulator, extra: Record<string, string> = {}): Provider {
  const config = loadConfig(simulatorEnv(s, ['vias'], 'unused', extra));
  const pc = config.providers[0];
  if (!pc?.huaweiAuth) throw new Error('vias config missing');
  return createViasProvider(pc, { http: createHttpClient({ timeoutMs: 5_000 }), auth: huaweiAuthFrom(pc.huaweiAuth), now: () => new Date() });
}

const hexId = (n: number) => n.toString(16).padStart(32, '0');

/** Puts a batch whose only non-zero count is `succeeded`, created `n` seconds after BASE_MS. */
function putBatch(s: Simulator, n: number, over: Record<string, unknown> = {}, project = PROJECT): string {
  const id = hexId(n);
  s.put('vias', project, { id, batch_task_name: `b${n}`, num_task: 1, created_at: BASE_MS + n * 1000, batch_task_status_info: { succeeded: 1, running: 0 }, ...over });
  return id;
}

const listAll = async (provider: Provider, project = PROJECT): Promise<CloudTask[]> => (await listPages(provider, project)).flat();

// A call that settled nothing throws its failure (deleteOneByOne).
const deleteFailure = (provider: Provider, id: string): Promise<ProviderError> => providerErrorOf(provider.deleteTasks(PROJECT, [id]));

describe('VIAS listing', () => {
  it('reads every batch exactly once across several pages, in pages of at most 200', async () => {
    const sim = await fixture.start();
    const ids = Array.from({ length: 450 }, (_, n) => putBatch(sim, n));
    const pages: number[] = [];
    for await (const page of providerFor(sim).listTasks(PROJECT)) pages.push(page.length);
    expect(pages).toEqual([50, 200, 200]);
    expect(sim.counters.vias.list).toBe(4); // the count probe, then pages 3, 2, 1
    const listed = await listAll(providerFor(sim));
    expect(listed.map((t) => t.id).sort()).toEqual(ids);
  });

  it('ends at once for a project without batches', async () => {
    const sim = await fixture.start();
    expect(await listAll(providerFor(sim))).toEqual([]);
    expect(sim.counters.vias.list).toBe(1);
  });

  it('misses no batch while the batches it already listed are deleted between pages', async () => {
    const sim = await fixture.start();
    const ids = Array.from({ length: 900 }, (_, n) => putBatch(sim, n));
    const provider = providerFor(sim);
    const seen: string[] = [];
    for await (const page of provider.listTasks(PROJECT)) {
      seen.push(...page.map((t) => t.id));
      // What the workers do while the producer pages on: delete what was just listed.
      const result = await provider.deleteTasks(PROJECT, page.map((t) => t.id));
      expect(result.failures).toEqual([]);
    }
    expect(seen.sort()).toEqual(ids);
    expect(sim.records('vias', PROJECT)).toHaveLength(0);
  });

  it('misses no batch when others delete unread batches or create new ones mid-walk, and yields none twice', async () => {
    const sim = await fixture.start();
    const ids = Array.from({ length: 700 }, (_, n) => putBatch(sim, n));
    const provider = providerFor(sim);
    const seen: string[] = [];
    let round = 0;
    for await (const page of provider.listTasks(PROJECT)) {
      seen.push(...page.map((t) => t.id));
      round += 1;
      if (round === 1) {
        // Someone else deletes 30 of the oldest, unread batches, and creates 250 new ones.
        await provider.deleteTasks(PROJECT, ids.slice(0, 30));
        for (let n = 1_000; n < 1_250; n++) putBatch(sim, n, { created_at: Date.now() });
      }
    }
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of ids.slice(30)) expect(seen).toContain(id);
  });

  it('never asks for a page_num above 10000 however large the count', () => {
    expect(lastPageFor(0)).toBe(0);
    expect(lastPageFor(1)).toBe(1);
    expect(lastPageFor(200)).toBe(1);
    expect(lastPageFor(201)).toBe(2);
    expect(lastPageFor(2_000_000)).toBe(10_000);
    expect(lastPageFor(2_000_001)).toBe(10_000);
    expect(lastPageFor(1e12)).toBe(10_000);
  });

  it('gives a batch every state with a non-zero count, sent in either case, in the catalog spelling; none when all are zero', async () => {
    const sim = await fixture.start();
    for (const [n, state] of VIAS_SUB_TASK_STATES.entries()) {
      putBatch(sim, n, { batch_task_status_info: { abnormal: 0, [state]: 2 } });
      putBatch(sim, 100 + n, { batch_task_status_info: { [state.toUpperCase()]: 1 } });
    }
    putBatch(sim, 200, { batch_task_status_info: { succeeded: 3, RUNNING: 1, failed: 0 } });
    putBatch(sim, 201, { batch_task_status_info: Object.fromEntries(VIAS_SUB_TASK_STATES.map((s) => [s, 0])) });
    putBatch(sim, 202, { batch_task_status_info: undefined });
    putBatch(sim, 203, { batch_task_status_info: { succeeded: 1, paused: 2 } });
    putBatch(sim, 204, { batch_task_status_info: { succeeded: '4', failed: '0' } });
    const byId = new Map((await listAll(providerFor(sim))).map((t) => [t.id, t.states]));
    for (const [n, state] of VIAS_SUB_TASK_STATES.entries()) {
      expect(byId.get(hexId(n))).toEqual([state]);
      expect(byId.get(hexId(100 + n))).toEqual([state]);
    }
    expect(byId.get(hexId(200))).toEqual(['succeeded', 'running']);
    expect(byId.get(hexId(201))).toEqual([]);
    expect(byId.get(hexId(202))).toEqual([]);
    expect(byId.get(hexId(203))).toEqual(['succeeded', 'paused']);
    expect(byId.get(hexId(204))).toEqual(['succeeded']);
  });

  it('turns an unreadable count into a state no API documents, so the batch is kept', () => {
    expect(batchStates({ succeeded: 1, running: 'some' })).toEqual(['succeeded', 'running (unreadable count "some")']);
    expect(batchStates({ running: null, failed: -1 })).toEqual(['running (unreadable count null)', 'failed (unreadable count -1)']);
    expect(batchStates([1, 2])).toEqual([]);
  });

  it('reads created_at in seconds or milliseconds, as a number or a numeric string, and refuses the rest', () => {
    const at = Date.UTC(2025, 0, 2, 3, 4, 5);
    const aged = (created_at: unknown) => toCloudTask({ id: 'x', created_at }).agedFrom;
    expect(aged(at)).toEqual({ kind: 'ok', field: 'created_at', at: new Date(at) });
    expect(aged(at / 1000)).toEqual({ kind: 'ok', field: 'created_at', at: new Date(at) });
    expect(aged(String(at))).toEqual({ kind: 'ok', field: 'created_at', at: new Date(at) });
    expect(aged(` ${at / 1000} `)).toEqual({ kind: 'ok', field: 'created_at', at: new Date(at) });
    for (const bad of [1_234_567, 4_200_000_000_000_000, -at, at / 1000 + 0.5, '2025-01-02T03:04:05Z', '1.7e12', true, {}]) {
      expect(aged(bad).kind).toBe('invalid');
    }
    expect(aged(undefined).kind).toBe('missing');
    expect(aged(null).kind).toBe('missing');
  });

  it('sends an IAM token, the only scheme VIAS documents, and is refused when it signs with AK/SK', async () => {
    const sim = await fixture.start();
    putBatch(sim, 1);
    const token = { HUAWEICLOUD_SDK_AK: '', HUAWEICLOUD_SDK_SK: '', HUAWEICLOUD_AUTH_TOKEN: SIMULATOR_CREDENTIALS.huawei.token };
    expect(await listAll(providerFor(sim, token))).toHaveLength(1);
    expect(sim.counters.vias.authFailures).toBe(0);
    await expect(listAll(providerFor(sim, { VIAS_AUTH: 'aksk' }))).rejects.toThrow(/APIGW\.0301: .*x-auth-token not found/);
  });

  it('retries a throttled or failing page, and fails on a permanent error keeping code and message', async () => {
    const sim = await fixture.start();
    putBatch(sim, 1);
    sim.inject({ provider: 'vias', op: 'list', times: 1, response: { ...apigThrottled('r1'), headers: { 'Retry-After': '0' } } });
    sim.inject({ provider: 'vias', op: 'list', times: 1, response: viasError(500, 'VIAS.00010006', 'An internal error occurs.') });
    expect(await listAll(providerFor(sim))).toHaveLength(1);
    sim.inject({ provider: 'vias', op: 'list', times: 1, response: viasError(400, 'VIAS.00010001', 'The parameters are invalid.', 'page_size', 'page_size') });
    const err = await providerErrorOf(listAll(providerFor(sim)));
    expect(err).toMatchObject({ kind: 'permanent', message: 'VIAS.00010001: The parameters are invalid.', details: { code: 'VIAS.00010001', status: 400 } });
  });

  it('stops on a list response without a count or a batch list instead of guessing', async () => {
    const sim = await fixture.start();
    sim.inject({ provider: 'vias', op: 'list', times: 1, response: json(200, { batch_task_list: [] }) });
    expect((await providerErrorOf(listAll(providerFor(sim)))).message).toContain('no "count"');
    sim.inject({ provider: 'vias', op: 'list', times: 2, response: json(200, { count: 3, tasks: [] }) });
    expect((await providerErrorOf(listAll(providerFor(sim)))).message).toContain('"batch_task_list"');
  });
});

describe('VIAS delete', () => {
  it('deletes a terminal batch (200 with no failed sub-task)', async () => {
    const sim = await fixture.start();
    const id = putBatch(sim, 1, { batch_task_status_info: { SUCCEEDED: 2, FAILED: 1 } });
    const result = await providerFor(sim).deleteTasks(PROJECT, [id]);
    expect(result.failures).toEqual([]);
    expect(result.outcomes).toEqual([{ id, result: 'deleted', requestId: expect.any(String) }]);
    expect(sim.deleted.map((d) => d.id)).toEqual([id]);
  });

  it('never counts a 200 with failed sub-tasks as deleted: a transient failure carrying the error list', async () => {
    const sim = await fixture.start();
    const id = putBatch(sim, 1, { batch_task_status_info: { succeeded: 2, running: 1 } });
    const err = await deleteFailure(providerFor(sim), id);
    expect(err).toMatchObject({ kind: 'transient', details: { status: 200 } });
    expect(err.message).toBe('VIAS delete incomplete: 1 of 3 sub-tasks not deleted: 1 sub-task(s) in state running cannot be deleted.');
    expect(sim.records('vias', PROJECT)).toHaveLength(1);
  });

  it('reads a partial failure from failed_count or error_list alone, and success only when both are clear', () => {
    expect(incompleteDelete({ total_count: 2, failed_count: 0, succeed_count: 2, id: 'x', error_list: [] })).toBeUndefined();
    expect(incompleteDelete(undefined)).toBeUndefined();
    expect(incompleteDelete({ total_count: 2, failed_count: 1, error_list: [] })).toBe('VIAS delete incomplete: 1 of 2 sub-tasks not deleted');
    expect(incompleteDelete({ failed_count: 0, error_list: ['job 7 busy'] })).toBe('VIAS delete incomplete: 0 of ? sub-tasks not deleted: job 7 busy');
    expect(incompleteDelete({ total_count: '3', failed_count: '2' })).toBe('VIAS delete incomplete: 2 of 3 sub-tasks not deleted');
    expect(incompleteDelete({ failed_count: 'x' })).toBe('VIAS delete incomplete: failed_count "x" sub-tasks not deleted');
  });

  it('counts a non-APIG 404 and the documented "no task for this ID" codes as already gone', async () => {
    const sim = await fixture.start();
    const provider = providerFor(sim);
    expect((await provider.deleteTasks(PROJECT, [hexId(9)])).outcomes).toEqual([{ id: hexId(9), result: 'gone', requestId: expect.any(String) }]);
    const id = putBatch(sim, 1);
    sim.inject({ provider: 'vias', op: 'delete', taskId: id, times: 1, response: viasError(404, 'VIAS.00010404', 'Not found.') });
    sim.inject({ provider: 'vias', op: 'delete', taskId: id, times: 1, response: viasError(400, 'VIAS.00010007', 'No task is found based on the task ID.') });
    expect((await provider.deleteTasks(PROJECT, [id])).outcomes[0]?.result).toBe('gone');
    expect((await provider.deleteTasks(PROJECT, [id])).outcomes[0]?.result).toBe('gone');
    expect(sim.deleted).toHaveLength(0);
  });

  it('never counts an APIG 404 (wrong endpoint) or "object does not exist" as gone', async () => {
    const sim = await fixture.start();
    const id = putBatch(sim, 1);
    sim.inject({ provider: 'vias', op: 'delete', taskId: id, times: 1, response: huaweiError(404, 'APIGW.0101', 'The API does not exist.') });
    sim.inject({ provider: 'vias', op: 'delete', taskId: id, times: 1, response: viasError(400, 'VIAS.00010002', 'The object does not exist.') });
    expect(await deleteFailure(providerFor(sim), id)).toMatchObject({ kind: 'permanent', details: { code: 'APIGW.0101', status: 404 } });
    expect(await deleteFailure(providerFor(sim), id)).toMatchObject({ kind: 'permanent', message: 'VIAS.00010002: The object does not exist.' });
  });

  it('classifies throttling (honouring Retry-After), 5xx, auth and bad requests', async () => {
    const sim = await fixture.start();
    const id = putBatch(sim, 1);
    const provider = providerFor(sim);
    const inject = (response: ReturnType<typeof json>) => sim.inject({ provider: 'vias', op: 'delete', taskId: id, times: 1, response });
    inject({ ...apigThrottled('r'), headers: { 'Retry-After': '7' } });
    expect(await deleteFailure(provider, id)).toMatchObject({ kind: 'throttled', details: { code: 'APIGW.0308', status: 429, retryAfterMs: 7_000 } });
    inject(json(429, { error_code: 'VIAS.00010429', error_msg: 'Too many requests.' }));
    expect(await deleteFailure(provider, id)).toMatchObject({ kind: 'throttled', details: { status: 429 } });
    inject(viasError(500, 'VIAS.00010006', 'An internal error occurs.'));
    expect(await deleteFailure(provider, id)).toMatchObject({ kind: 'transient', message: 'VIAS.00010006: An internal error occurs.' });
    inject(viasError(401, 'VIAS.00010005', 'Authorization failed.'));
    expect(await deleteFailure(provider, id)).toMatchObject({ kind: 'permanent', message: 'VIAS.00010005: Authorization failed.', details: { code: 'VIAS.00010005' } });
    inject(viasError(400, 'VIAS.00010004', 'The object or parameter is invalid.'));
    expect(await deleteFailure(provider, id)).toMatchObject({ kind: 'permanent', message: 'VIAS.00010004: The object or parameter is invalid.' });
    expect(sim.deleted).toHaveLength(0);
  });

  it('stops a batch at the first throttled id and holds the rest back with it', async () => {
    const sim = await fixture.start();
    const [a, b, c] = [putBatch(sim, 1), putBatch(sim, 2), putBatch(sim, 3)];
    sim.inject({ provider: 'vias', op: 'delete', taskId: b, times: 1, response: apigThrottled('r') });
    const result = await providerFor(sim).deleteTasks(PROJECT, [a, b, c]);
    expect(result.outcomes.map((o) => o.id)).toEqual([a]);
    expect(result.failures.map((f) => [f.id, f.error.kind])).toEqual([[b, 'throttled'], [c, 'throttled']]);
    expect(sim.counters.vias.delete).toBe(2);
  });
});

describe('VIAS simulator', () => {
  const get = (s: Simulator, query: string) =>
    fetch(`${s.url}/v2/${PROJECT}/batch-tasks?${query}`, { headers: { 'X-Auth-Token': SIMULATOR_CREDENTIALS.huawei.token } });

  it('rejects out-of-range paging with a VIAS error body', async () => {
    const sim = await fixture.start();
    for (const query of ['page_size=4', 'page_size=201', 'page_num=0', 'page_num=10001', 'page_size=abc', 'order_by=up', 'sort_name=name', 'task_state=paused']) {
      const response = await get(sim, query);
      expect(response.status, query).toBe(400);
      const body = await response.json() as Record<string, unknown>;
      expect(Object.keys(body).sort()).toEqual(['advice', 'detail', 'error_code', 'error_msg', 'params', 'reason']);
      expect(body.error_code).toBe('VIAS.00010001');
    }
    for (const query of ['page_size=5&page_num=1', 'page_size=200&page_num=10000', 'task_state=RUNNING', '']) {
      expect((await get(sim, query)).status, query).toBe(200);
    }
  });

  it('pages newest first by default, 10 to a page, and filters by task_state in either case', async () => {
    const sim = await fixture.start();
    for (let n = 0; n < 15; n++) putBatch(sim, n, n < 3 ? { batch_task_status_info: { RUNNING: 1 } } : {});
    const first = await (await get(sim, '')).json() as { count: number; batch_task_list: { id: string }[] };
    expect(first.count).toBe(15);
    expect(first.batch_task_list.map((b) => b.id)).toEqual(Array.from({ length: 10 }, (_, i) => hexId(14 - i)));
    const running = await (await get(sim, 'task_state=running')).json() as { count: number };
    expect(running.count).toBe(3);
  });

  it('seeds every state in both spellings and every created_at variant', async () => {
    const sim = await fixture.start({ tasksPerProject: 400, seed: 3 });
    const records = sim.records('vias', PROJECT);
    const keys = new Set(records.flatMap((r) => Object.entries(r.batch_task_status_info as Record<string, number>).filter(([, n]) => n > 0).map(([k]) => k)));
    for (const state of VIAS_SUB_TASK_STATES) {
      expect(keys).toContain(state);
      expect(keys).toContain(state.toUpperCase());
    }
    const created = records.map((r) => r.created_at);
    expect(created.some((c) => typeof c === 'number' && c > 1e12)).toBe(true);
    expect(created.some((c) => typeof c === 'number' && c < 1e10 && c > 1e9)).toBe(true);
    expect(created.some((c) => typeof c === 'string' && /^\d{13}$/.test(c))).toBe(true);
    expect(created.some((c) => typeof c === 'string' && /^\d{10}$/.test(c))).toBe(true);
    expect(created.some((c) => c === undefined)).toBe(true);
    const facts = sim.facts('vias', PROJECT);
    expect(facts.some((f) => f.states.length === 0)).toBe(true);
    expect(facts.some((f) => f.ageMs !== undefined && f.ageMs < 0)).toBe(true);
  });
});
