import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { callHuawei, huaweiAuthFrom, type HuaweiApiDeps } from '../../src/providers/huawei-api.js';
import { createHttpClient } from '../../src/providers/http.js';
import type { CloudTask, Provider } from '../../src/providers/provider.js';
import { createWorkspaceProvider, workspaceAge } from '../../src/providers/workspace.js';
import { apigThrottled, huaweiError, json } from '../../src/simulator/api.js';
import type { Simulator } from '../../src/simulator/server.js';
import { WKS_CODES, wksError, workspaceTime } from '../../src/simulator/workspace.js';
import { simulatorEnv, useSimulators } from '../helpers/janitor.js';
import { listPages, workspaceDeleteCalls, providerErrorOf } from '../helpers/provider.js';

const DAY = 86_400_000;
const OLD = Date.now() - 30 * DAY;

const fixture = useSimulators('workspace-unit');
let project = '';

/** A simulator with one fresh project, so the per-process call log is this test's alone. */
async function start(): Promise<Simulator> {
  project = randomBytes(16).toString('hex');
  return fixture.start({ projects: { workspace: [project] } });
}

function configFor(s: Simulator) {
  const config = loadConfig(simulatorEnv(s, ['workspace'], 'unused', { WORKSPACE_PROJECT_ID: project }));
  const pc = config.providers[0];
  if (!pc || !config.huaweiAuth) throw new Error('workspace config missing');
  return { pc, auth: huaweiAuthFrom(config.huaweiAuth) };
}

function providerFor(s: Simulator, pageLimit?: number): Provider {
  const { pc, auth } = configFor(s);
  return createWorkspaceProvider(pc, { http: createHttpClient({ timeoutMs: 5_000 }), auth, now: () => new Date(), ...(pageLimit ? { pageLimit } : {}) });
}

/** Signed raw calls, to probe the simulated API itself. */
function rawApi(s: Simulator): HuaweiApiDeps {
  const { auth } = configFor(s);
  return { http: createHttpClient({ timeoutMs: 5_000 }), endpoint: s.url, auth, now: () => new Date() };
}

const subJobId = (n: number) => `ff8080${n.toString(16).padStart(26, '0')}`;

/** Puts a finished sub-job whose parent job id differs from its own id. */
function putJob(s: Simulator, n: number, over: Record<string, unknown> = {}): string {
  const id = subJobId(n);
  s.put('workspace', project, {
    id, job_id: `parent-${n}`, job_type: 'createDesktops', status: 'SUCCESS',
    begin_time: workspaceTime(new Date(OLD + n * 1000 - 60_000)), end_time: workspaceTime(new Date(OLD + n * 1000)), ...over,
  });
  return id;
}

const listAll = async (provider: Provider): Promise<CloudTask[]> => (await listPages(provider, project)).flat();

describe('Workspace listing', () => {
  it('reads every sub-job exactly once across several pages, and stops without an extra call', async () => {
    const s = await start();
    const ids = Array.from({ length: 23 }, (_, i) => putJob(s, i));
    const tasks = await listAll(providerFor(s, 5));
    expect(tasks.map((t) => t.id).sort()).toEqual([...ids].sort());
    // One first page, then windows [18,23) [13,18) [8,13) [3,8) [0,3).
    expect(s.counters.workspace.list).toBe(6);
  });

  it('reads a single short page with one call', async () => {
    const s = await start();
    for (let i = 0; i < 4; i++) putJob(s, i);
    expect(await listAll(providerFor(s, 5))).toHaveLength(4);
    expect(s.counters.workspace.list).toBe(1);
  });

  it('misses no record while the yielded ones are deleted between pages (offset shift)', async () => {
    const s = await start();
    const ids = Array.from({ length: 40 }, (_, i) => putJob(s, i));
    const provider = providerFor(s, 7);
    const seen: string[] = [];
    for await (const page of provider.listTasks(project)) {
      seen.push(...page.map((t) => t.id));
      // As the workers do while the producer is still listing.
      for (let i = 0; i < page.length; i += 10) await provider.deleteTasks(project, page.slice(i, i + 10).map((t) => t.id));
    }
    expect(seen.sort()).toEqual([...ids].sort());
    expect(s.records('workspace', project)).toHaveLength(0);
  });

  it('never loops forever on an API that ignores offset and overstates total_count', async () => {
    const s = await start();
    const jobs = Array.from({ length: 5 }, (_, i) => ({ id: subJobId(i), status: 'SUCCESS', job_type: 'createDesktops' }));
    s.inject({ provider: 'workspace', op: 'list', times: 1_000, response: json(200, { total_count: 25, jobs }) });
    const tasks = await listAll(providerFor(s, 5));
    expect(s.counters.workspace.list).toBeLessThanOrEqual(6);
    expect(tasks.length).toBeLessThanOrEqual(30);
  });

  it('corrects a wildly overstated first total_count from the next page', async () => {
    const s = await start();
    for (let i = 0; i < 12; i++) putJob(s, i);
    s.inject({ provider: 'workspace', op: 'list', times: 1, response: json(200, { total_count: 1_000_000_000, jobs: Array.from({ length: 5 }, (_, i) => ({ id: subJobId(i) })) }) });
    const tasks = await listAll(providerFor(s, 5));
    expect(new Set(tasks.map((t) => t.id)).size).toBe(12);
    expect(s.counters.workspace.list).toBeLessThan(10);
  });

  it('maps the sub-job id (never the parent job_id), every state value, the type and undeletable types', async () => {
    const s = await start();
    const states = ['SUCCESS', 'FAILED', 'RUNNING', 'WAITING'];
    states.forEach((status, i) => putJob(s, i, { status, job_type: 'deleteDesktops' }));
    putJob(s, 10, { job_type: 'changeAccessVpc' });
    putJob(s, 11, { job_type: 'cancelWorkspace' });
    putJob(s, 12, { job_type: 'applyWorkspace', status: 'FAILED' });
    const tasks = new Map((await listAll(providerFor(s))).map((t) => [t.id, t]));
    states.forEach((status, i) => {
      expect(tasks.get(subJobId(i))).toMatchObject({ id: subJobId(i), states: [status], label: 'deleteDesktops' });
      expect(tasks.get(subJobId(i))?.undeletableBecause).toBeUndefined();
    });
    for (const n of [10, 11, 12]) expect(tasks.get(subJobId(n))?.undeletableBecause).toMatch(/refuses job_type/);
    expect([...tasks.keys()].some((id) => id.startsWith('parent-'))).toBe(false);
  });

  it('ages from end_time in both ISO-8601 forms, from begin_time only when end_time is absent, and keeps a malformed end_time invalid', async () => {
    const at = (iso: string) => ({ kind: 'ok', field: expect.any(String) as string, at: new Date(iso) });
    expect(workspaceAge({ begin_time: '2023-06-06T01:00:00Z', end_time: '2023-06-06T02:30:06Z' })).toMatchObject({ ...at('2023-06-06T02:30:06Z'), field: 'end_time' });
    expect(workspaceAge({ end_time: '2022-03-07T10:40:43.858Z' })).toMatchObject({ ...at('2022-03-07T10:40:43.858Z'), field: 'end_time' });
    expect(workspaceAge({ begin_time: '2022-03-07T10:40:43.858Z' })).toMatchObject({ ...at('2022-03-07T10:40:43.858Z'), field: 'begin_time' });
    expect(workspaceAge({ begin_time: '2022-03-07T10:40:43Z', end_time: '' })).toMatchObject({ kind: 'ok', field: 'begin_time' });
    expect(workspaceAge({ begin_time: '2022-03-07T10:40:43Z', end_time: null })).toMatchObject({ kind: 'ok', field: 'begin_time' });
    expect(workspaceAge({ begin_time: '2022-03-07T10:40:43Z', end_time: '2024-13-45T99:00:00Z' })).toEqual({ kind: 'invalid', field: 'end_time', raw: '2024-13-45T99:00:00Z' });
    expect(workspaceAge({ begin_time: '2022-03-07T10:40:43Z', end_time: 1_700_000_000 })).toMatchObject({ kind: 'invalid', field: 'end_time' });
    expect(workspaceAge({})).toEqual({ kind: 'missing', field: 'begin_time' });

    const s = await start();
    putJob(s, 1, { end_time: '2024-13-45T99:00:00Z' });
    putJob(s, 2, { end_time: workspaceTime(new Date(OLD), false) });
    const tasks = new Map((await listAll(providerFor(s))).map((t) => [t.id, t]));
    expect(tasks.get(subJobId(1))?.agedFrom.kind).toBe('invalid');
    expect(tasks.get(subJobId(2))?.agedFrom).toEqual({ kind: 'ok', field: 'end_time', at: new Date(Math.floor(OLD / 1000) * 1000) });
  });

  it('classifies list failures: 5xx retried, throttling retried, 403 permanent with the provider code', async () => {
    const s = await start();
    putJob(s, 1);
    s.inject({ provider: 'workspace', op: 'list', times: 1, response: wksError(503, WKS_CODES.internal, 'busy') });
    s.inject({ provider: 'workspace', op: 'list', times: 1, response: { ...apigThrottled('r'), headers: { 'Retry-After': '0' } } });
    expect(await listAll(providerFor(s))).toHaveLength(1);
    s.inject({ provider: 'workspace', op: 'list', times: 1, response: wksError(403, 'WKS.00000403', 'Policy doesn\'t allow workspace:jobs:listSubJobs.', 'enc') });
    const err = await providerErrorOf(listAll(providerFor(s)));
    expect(err).toMatchObject({ kind: 'permanent', details: { code: 'WKS.00000403', status: 403 } });
    expect(err.message).toContain('listSubJobs');
  });
});

describe('Workspace batch delete', () => {
  it('deletes up to 10 sub-job ids in one call with a job_ids body, and splits a longer list', async () => {
    const s = await start();
    const ids = Array.from({ length: 13 }, (_, i) => putJob(s, i));
    const result = await providerFor(s).deleteTasks(project, ids);
    expect(result.failures).toEqual([]);
    expect(result.outcomes.map((o) => o.id)).toEqual(ids);
    expect(result.outcomes.every((o) => o.result === 'deleted' && typeof o.requestId === 'string')).toBe(true);
    expect(workspaceDeleteCalls(s, project).map((c) => c.jobIds?.length)).toEqual([10, 3]);
    expect(workspaceDeleteCalls(s, project).every((c) => c.deleteByStatus === undefined)).toBe(true);
  });

  it('still deletes the others when a batch holds one vanished and one undeletable id', async () => {
    const s = await start();
    const ids = Array.from({ length: 6 }, (_, i) => putJob(s, i));
    const running = putJob(s, 20, { status: 'RUNNING', end_time: '' });
    const vpc = putJob(s, 21, { job_type: 'changeAccessVpc' });
    const vanished = subJobId(99);
    const batch = [ids[0], running, ids[1], vanished, ids[2], vpc, ids[3], ids[4], ids[5]] as string[];
    const result = await providerFor(s).deleteTasks(project, batch);
    expect(result.outcomes.filter((o) => o.result === 'deleted').map((o) => o.id)).toEqual(ids);
    expect(result.outcomes.filter((o) => o.result === 'gone').map((o) => o.id)).toEqual([vanished]);
    expect(result.failures.map((f) => f.id)).toEqual([running, vpc]);
    for (const f of result.failures) {
      expect(f.error).toMatchObject({ kind: 'permanent', details: { code: WKS_CODES.subJobNotDeletable, status: 400 } });
      expect(f.error.message).toContain('cannot be deleted');
    }
    expect(s.deleted.map((d) => d.id)).toEqual(ids);
    // The refused multi-id call, then one call per id.
    expect(workspaceDeleteCalls(s, project).map((c) => c.jobIds?.length)).toEqual([9, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
  });

  it('throws throttling for the whole batch, honouring Retry-After, without falling back to single calls', async () => {
    const s = await start();
    const ids = [putJob(s, 1), putJob(s, 2)];
    s.inject({ provider: 'workspace', op: 'delete', times: 1, response: { ...apigThrottled('r'), headers: { 'Retry-After': '7' } } });
    const err = await providerErrorOf(providerFor(s).deleteTasks(project, ids));
    expect(err).toMatchObject({ kind: 'throttled', details: { code: 'APIGW.0308', status: 429, retryAfterMs: 7_000 } });
    expect(s.counters.workspace.delete).toBe(1);
    expect(s.deleted).toEqual([]);
  });

  it('throws a 5xx for the whole batch as transient', async () => {
    const s = await start();
    const ids = [putJob(s, 1), putJob(s, 2)];
    s.inject({ provider: 'workspace', op: 'delete', times: 1, response: wksError(503, WKS_CODES.internal, 'Service unavailable.') });
    expect(await providerErrorOf(providerFor(s).deleteTasks(project, ids))).toMatchObject({ kind: 'transient', details: { status: 503 } });
    expect(s.counters.workspace.delete).toBe(1);
  });

  it('keeps ids already settled when a per-id call is throttled, and leaves the rest for the retry', async () => {
    const s = await start();
    const ids = [putJob(s, 1), putJob(s, 2), putJob(s, 3), putJob(s, 4)];
    s.inject({ provider: 'workspace', op: 'delete', times: 1, response: wksError(404, WKS_CODES.subJobNotFound, 'The sub job does not exist.') });
    s.inject({ provider: 'workspace', op: 'delete', taskId: ids[2], times: 1, response: apigThrottled('r') });
    const result = await providerFor(s).deleteTasks(project, ids);
    expect(result.outcomes.map((o) => [o.id, o.result])).toEqual([[ids[0], 'deleted'], [ids[1], 'deleted']]);
    expect(result.failures.map((f) => [f.id, f.error.kind])).toEqual([[ids[2], 'throttled'], [ids[3], 'throttled']]);
    expect(s.records('workspace', project).map((r) => r.id).sort()).toEqual([ids[2], ids[3]]);
  });

  it('counts a non-APIG 404 for a single id as already gone', async () => {
    const s = await start();
    const result = await providerFor(s).deleteTasks(project, [subJobId(7)]);
    expect(result).toMatchObject({ outcomes: [{ id: subJobId(7), result: 'gone' }], failures: [] });
  });

  it('never counts an APIG "API does not exist" 404 as gone, nor splits the batch for it', async () => {
    const s = await start();
    const ids = [putJob(s, 1), putJob(s, 2)];
    s.inject({ provider: 'workspace', op: 'delete', times: 1, response: huaweiError(404, 'APIGW.0101', 'The API does not exist.') });
    expect(await providerErrorOf(providerFor(s).deleteTasks(project, ids))).toMatchObject({ kind: 'permanent', details: { code: 'APIGW.0101' } });
    expect(s.counters.workspace.delete).toBe(1);
  });

  it('fails auth and IAM denials as permanent for the whole batch, keeping the provider code and message', async () => {
    const s = await start();
    const ids = [putJob(s, 1), putJob(s, 2)];
    s.inject({ provider: 'workspace', op: 'delete', times: 1, response: wksError(403, 'WKS.00000403', 'Policy doesn\'t allow workspace:jobs:deleteSubJobRecords.', 'encoded') });
    const denied = await providerErrorOf(providerFor(s).deleteTasks(project, ids));
    expect(denied).toMatchObject({ kind: 'permanent', details: { code: 'WKS.00000403', status: 403 } });
    expect(denied.message).toContain('deleteSubJobRecords');
    expect(s.counters.workspace.delete).toBe(1);

    const { pc } = configFor(s);
    const wrongKey = createWorkspaceProvider(pc, {
      http: createHttpClient({ timeoutMs: 5_000 }), now: () => new Date(),
      auth: { kind: 'aksk', accessKey: () => 'SIMULATORHUAWEIAK0001', secretKey: () => 'wrong', securityToken: () => undefined },
    });
    const unauthorised = await providerErrorOf(wrongKey.deleteTasks(project, ids));
    expect(unauthorised).toMatchObject({ kind: 'permanent', details: { code: 'APIGW.0301', status: 401 } });
    expect(unauthorised.message).toContain('verify aksk signature fail');
  });

  it('fails a bad request for one id as permanent, keeping the WKS code and message', async () => {
    const s = await start();
    const id = putJob(s, 1);
    s.inject({ provider: 'workspace', op: 'delete', taskId: id, times: 1, response: wksError(400, 'WKS.0001', 'The request message input by the interface is empty.') });
    const err = await providerErrorOf(providerFor(s).deleteTasks(project, [id]));
    expect(err).toMatchObject({ kind: 'permanent', details: { code: 'WKS.0001', status: 400 } });
    expect(err.message).toBe('WKS.0001: The request message input by the interface is empty.');
  });
});

describe('the simulated BatchDeleteSubJobs', () => {
  const del = (s: Simulator, json: unknown) => callHuawei(rawApi(s), project, { operation: 'delete', method: 'POST', path: `/v2/${project}/workspace-sub-jobs/batch-delete`, json });

  it('validates job_ids: 1 to 10 items of at most 255 characters, and exactly one of job_ids or delete_by_status', async () => {
    const s = await start();
    const id = putJob(s, 1);
    const refused = [
      { job_ids: [] }, { job_ids: Array.from({ length: 11 }, (_, i) => subJobId(i)) }, { job_ids: ['x'.repeat(256)] }, { job_ids: [7] },
      { job_ids: [id], delete_by_status: 'SUCCESS' }, {}, { delete_by_status: 'RUNNING' },
    ];
    for (const body of refused) {
      const r = await del(s, body);
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ error_code: WKS_CODES.invalidParameter });
    }
    expect(s.records('workspace', project)).toHaveLength(1);
    const ok = await del(s, { job_ids: [id] });
    expect([ok.status, ok.text]).toEqual([200, '']);
  });

  it('refuses RUNNING sub-jobs and the three undeletable types, and answers 405 to other methods', async () => {
    const s = await start();
    const running = putJob(s, 1, { status: 'WAITING' });
    const apply = putJob(s, 2, { job_type: 'applyWorkspace' });
    for (const id of [running, apply]) expect((await del(s, { job_ids: [id] })).body).toMatchObject({ error_code: WKS_CODES.subJobNotDeletable });
    const get = await callHuawei(rawApi(s), project, { operation: 'delete', method: 'DELETE', path: `/v2/${project}/workspace-sub-jobs/batch-delete` });
    expect(get.status).toBe(405);
    expect(s.records('workspace', project)).toHaveLength(2);
  });

  it('deletes every SUCCESS sub-job regardless of age on delete_by_status (which the janitor must never send)', async () => {
    const s = await start();
    const old = putJob(s, 1);
    const fresh = putJob(s, 2, { end_time: workspaceTime(new Date()) });
    const failed = putJob(s, 3, { status: 'FAILED' });
    const vpc = putJob(s, 4, { job_type: 'changeAccessVpc' });
    expect((await del(s, { delete_by_status: 'SUCCESS' })).status).toBe(200);
    expect(s.deleted.map((d) => d.id).sort()).toEqual([old, fresh].sort());
    expect(s.records('workspace', project).map((r) => r.id).sort()).toEqual([failed, vpc].sort());
  });

  it('validates list paging parameters', async () => {
    const s = await start();
    for (const query of [[['limit', 1001]], [['limit', -1]], [['offset', 'x']], [['status', 'DONE']]] as [string, string | number][][]) {
      const r = await callHuawei(rawApi(s), project, { operation: 'list', method: 'GET', path: `/v2/${project}/workspace-sub-jobs`, query });
      expect([r.status, (r.body as Record<string, unknown>).error_code]).toEqual([400, WKS_CODES.invalidParameter]);
    }
  });
});
