import { mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { classifyAlibabaFailure, isBatchNotFound, type AlibabaResponse } from '../../src/providers/alibaba-api.js';
import { toImmTask } from '../../src/providers/imm.js';
import type { CloudTask, Provider } from '../../src/providers/provider.js';
import { createProviders } from '../../src/providers/registry.js';
import type { SimResponse } from '../../src/simulator/api.js';
import { RecentNonces, verifyAlibabaRequest } from '../../src/simulator/auth/alibaba-verify.js';
import { immError } from '../../src/simulator/imm.js';
import { DEFAULT_SIM_PROJECTS, SIMULATOR_CREDENTIALS, type Simulator } from '../../src/simulator/server.js';
import { simulatorEnv, useSimulators } from '../helpers/janitor.js';
import { listPages } from '../helpers/provider.js';

const PROJECT = DEFAULT_SIM_PROJECTS.imm[0] as string;
const OLD = '2020-11-10T03:50:28Z';

const fixture = useSimulators('imm-unit');

function immProvider(s: Simulator, extra: Record<string, string> = {}): Provider {
  return createProviders(loadConfig(simulatorEnv(s, ['imm'], 'imm-unit', extra))).get('imm') as Provider;
}

const listAll = (provider: Provider, project = PROJECT): Promise<CloudTask[][]> => listPages(provider, project);

function putBatch(s: Simulator, id: string, over: Record<string, unknown> = {}): string {
  s.put('imm', PROJECT, { Id: id, State: 'Succeeded', CreateTime: OLD, UpdateTime: OLD, ...over });
  return id;
}

describe('IMM ListBatches', () => {
  it('pages with NextToken until it comes back empty, 100 batches a page', async () => {
    const sim = await fixture.start({ tasksPerProject: 250, seed: 3 });
    const pages = await listAll(immProvider(sim));
    expect(pages.map((p) => p.length)).toEqual([100, 100, 50]);
    expect(sim.counters.imm.list).toBe(3);
    const listed = pages.flat().map((t) => t.id).sort();
    expect(listed).toEqual(sim.records('imm', PROJECT).map((r) => String(r.Id)).sort());
  });

  it('reports every documented state as given, and an undocumented one unchanged for the policy to refuse', async () => {
    const sim = await fixture.start();
    const states = ['Ready', 'Running', 'Failed', 'Suspended', 'Succeeded', 'Cancelled'];
    for (const state of states) putBatch(sim, `batch-${state}`, { State: state });
    putBatch(sim, 'batch-stateless', { State: undefined });
    const tasks = (await listAll(immProvider(sim))).flat();
    const byId = new Map(tasks.map((t) => [t.id, t.states]));
    for (const state of states) expect(byId.get(`batch-${state}`)).toEqual([state]);
    expect(byId.get('batch-stateless')).toEqual([]);
  });

  it('reads both documented time formats and ages a batch from UpdateTime, else CreateTime', async () => {
    const sim = await fixture.start();
    putBatch(sim, 'whole', { UpdateTime: '2020-11-10T03:50:28Z', CreateTime: '2020-11-01T00:00:00Z' });
    putBatch(sim, 'fraction', { UpdateTime: '2020-11-11T06:51:17.5Z' });
    putBatch(sim, 'millis', { UpdateTime: '2021-12-18T07:40:29.123Z' });
    putBatch(sim, 'no-update', { UpdateTime: undefined, CreateTime: '2021-12-18T07:40:29Z' });
    putBatch(sim, 'neither', { UpdateTime: undefined, CreateTime: undefined });
    putBatch(sim, 'bad-update', { UpdateTime: '2020-11-10 03:50:28', CreateTime: OLD });
    const byId = new Map((await listAll(immProvider(sim))).flat().map((t) => [t.id, t.agedFrom]));
    expect(byId.get('whole')).toEqual({ kind: 'ok', field: 'UpdateTime', at: new Date('2020-11-10T03:50:28.000Z') });
    expect(byId.get('fraction')).toEqual({ kind: 'ok', field: 'UpdateTime', at: new Date('2020-11-11T06:51:17.500Z') });
    expect(byId.get('millis')).toEqual({ kind: 'ok', field: 'UpdateTime', at: new Date('2021-12-18T07:40:29.123Z') });
    expect(byId.get('no-update')).toEqual({ kind: 'ok', field: 'CreateTime', at: new Date('2021-12-18T07:40:29.000Z') });
    expect(byId.get('neither')).toEqual({ kind: 'missing', field: 'CreateTime' });
    // A broken UpdateTime is never replaced by the (older) CreateTime: the batch is kept.
    expect(byId.get('bad-update')).toEqual({ kind: 'invalid', field: 'UpdateTime', raw: '2020-11-10 03:50:28' });
  });

  it('retries a throttled page and then completes the listing', async () => {
    const sim = await fixture.start({ tasksPerProject: 120, seed: 5 });
    sim.inject({ provider: 'imm', op: 'list', times: 2, response: immError(400, 'Throttling.User', 'Request was denied due to user flow control.') });
    const pages = await listAll(immProvider(sim));
    expect(pages.flat()).toHaveLength(120);
    expect(sim.counters.imm.list).toBe(4);
  });

  it('fails the listing of an unknown project with the provider code and message', async () => {
    const sim = await fixture.start();
    await expect(listAll(immProvider(sim, { IMM_PROJECTS: 'no-such-project' }), 'no-such-project')).rejects.toMatchObject({
      kind: 'permanent', message: 'ResourceNotFound: The specified resource Project is not found.', details: { code: 'ResourceNotFound', status: 400 },
    });
  });
});

describe('IMM DeleteBatch and GetBatch', () => {
  it('deletes a finished batch and returns the RequestId of the response body', async () => {
    const sim = await fixture.start();
    const id = putBatch(sim, 'batch-done');
    const result = await immProvider(sim).deleteTasks(PROJECT, [id]);
    expect(result.outcomes).toEqual([{ id, result: 'deleted', requestId: expect.stringMatching(/^[0-9A-F-]{36}$/) }]);
    expect(sim.deleted).toEqual([{ provider: 'imm', project: PROJECT, id }]);
  });

  it('is refused for a Running batch, permanently, with the provider code kept', async () => {
    const sim = await fixture.start();
    const id = putBatch(sim, 'batch-running', { State: 'Running' });
    await expect(immProvider(sim).deleteTasks(PROJECT, [id])).rejects.toMatchObject({ kind: 'permanent', details: { code: 'InvalidArgument', status: 400 } });
    expect(sim.records('imm', PROJECT)).toHaveLength(1);
  });

  it('counts ResourceNotFound as already gone, whether it comes with HTTP 400 or 404', async () => {
    const sim = await fixture.start();
    const provider = immProvider(sim);
    expect((await provider.deleteTasks(PROJECT, ['batch-never-existed'])).outcomes).toMatchObject([{ result: 'gone' }]);
    const id = putBatch(sim, 'batch-404');
    sim.inject({ provider: 'imm', op: 'delete', taskId: id, times: 1, response: immError(404, 'ResourceNotFound', 'The specified resource Batch is not found.') });
    expect((await provider.deleteTasks(PROJECT, [id])).outcomes).toMatchObject([{ id, result: 'gone' }]);
    expect(sim.deleted).toHaveLength(0);
  });

  it('never counts ResourceNotFound naming another resource (the project) as the batch being gone', async () => {
    const sim = await fixture.start();
    const id = putBatch(sim, 'batch-project-vanished');
    const provider = immProvider(sim);
    const projectGone = immError(400, 'ResourceNotFound', 'The specified resource Project is not found.');
    sim.inject({ provider: 'imm', op: 'delete', taskId: id, times: 1, response: projectGone });
    await expect(provider.deleteTasks(PROJECT, [id])).rejects.toMatchObject({ kind: 'permanent', details: { code: 'ResourceNotFound' } });
    sim.inject({ provider: 'imm', op: 'get', times: 1, response: projectGone });
    await expect(provider.getTask(PROJECT, { id })).rejects.toMatchObject({ kind: 'permanent', details: { code: 'ResourceNotFound' } });
    // A message that names no resource type still means the batch asked for.
    sim.inject({ provider: 'imm', op: 'get', times: 1, response: immError(404, 'ResourceNotFound', 'The specified resource is not found.') });
    expect(await provider.getTask(PROJECT, { id })).toEqual({ kind: 'gone' });
    // The project named by its own name is the project too.
    sim.inject({ provider: 'imm', op: 'get', times: 1, response: immError(400, 'ResourceNotFound', `The specified resource ${PROJECT} is not found.`) });
    await expect(provider.getTask(PROJECT, { id })).rejects.toMatchObject({ kind: 'permanent', details: { code: 'ResourceNotFound' } });
  });

  it('counts ResourceNotFound as the batch gone whatever the message calls it, unless it names the project', async () => {
    // The error table gives the message only as a template: how a real answer fills it in is not documented.
    const sim = await fixture.start();
    const provider = immProvider(sim);
    for (const [i, message] of ['The specified resource batch-x is not found.', 'The specified resource DataIngestion is not found.', 'The specified resource {ResourceType} is not found.', 'Batch not found.', ''].entries()) {
      const id = putBatch(sim, `batch-wording-${i}`);
      sim.inject({ provider: 'imm', op: 'get', taskId: id, times: 1, response: immError(400, 'ResourceNotFound', message) });
      expect(await provider.getTask(PROJECT, { id }), message).toEqual({ kind: 'gone' });
      sim.inject({ provider: 'imm', op: 'delete', taskId: id, times: 1, response: immError(404, 'ResourceNotFound', message) });
      expect((await provider.deleteTasks(PROJECT, [id])).outcomes, message).toMatchObject([{ id, result: 'gone' }]);
    }
    expect(sim.deleted).toHaveLength(0);
  });

  it.each([
    ['The specified resource media.prod is not found.', false],
    ['Project media.prod is not found.', false],
    ['The specified resource (media.prod) is not found.', false],
    ['The specified resource media.prod-batch-7 is not found.', true],
    ['The specified resource Batch is not found.', true],
  ])('reads %j for a project named media.prod as the batch gone: %s', (message, gone) => {
    const response = { status: 400, headers: {}, text: '', body: { Code: 'ResourceNotFound', Message: message, RequestId: 'r' }, requestId: 'r' } as unknown as AlibabaResponse;
    expect(isBatchNotFound(response, 'media.prod')).toBe(gone);
  });

  it('never counts a 404 with another code (an unknown access key) as gone', async () => {
    const sim = await fixture.start();
    const id = putBatch(sim, 'batch-kept');
    const provider = immProvider(sim, { ALIBABA_CLOUD_ACCESS_KEY_ID: 'LTAIUNKNOWNKEY000000' });
    await expect(provider.deleteTasks(PROJECT, [id])).rejects.toMatchObject({ kind: 'permanent', details: { code: 'InvalidAccessKeyId.NotFound', status: 404 } });
  });

  it('re-reads one batch with GetBatch, and answers gone when it no longer exists', async () => {
    const sim = await fixture.start();
    putBatch(sim, 'batch-suspended', { State: 'Suspended', UpdateTime: '2020-11-11T06:51:17.5Z' });
    const provider = immProvider(sim);
    expect(await provider.getTask(PROJECT, { id: 'batch-suspended' })).toEqual({ kind: 'found', task: {
      id: 'batch-suspended', states: ['Suspended'], agedFrom: { kind: 'ok', field: 'UpdateTime', at: new Date('2020-11-11T06:51:17.500Z') },
    } });
    expect(await provider.getTask(PROJECT, { id: 'batch-gone' })).toEqual({ kind: 'gone' });
    sim.inject({ provider: 'imm', op: 'get', times: 1, response: immError(404, 'ResourceNotFound', 'The specified resource Batch is not found.') });
    expect(await provider.getTask(PROJECT, { id: 'batch-suspended' })).toEqual({ kind: 'gone' });
    sim.inject({ provider: 'imm', op: 'get', times: 1, response: immError(400, 'Throttling', 'Request was denied due to flow control.') });
    await expect(provider.getTask(PROJECT, { id: 'batch-suspended' })).rejects.toMatchObject({ kind: 'throttled' });
  });
});

describe('IMM failure classification (by Code, not status)', () => {
  const failing = async (response: SimResponse) => {
    const sim = await fixture.start();
    const id = putBatch(sim, 'batch-x');
    sim.inject({ provider: 'imm', op: 'delete', taskId: id, times: 1, response });
    return immProvider(sim).deleteTasks(PROJECT, [id]);
  };

  it.each(['Throttling', 'Throttling.User', 'Throttling.Api'])('treats HTTP 400 %s as throttling', async (code) => {
    await expect(failing(immError(400, code, 'Request was denied due to user flow control.'))).rejects.toMatchObject({ kind: 'throttled', details: { code, status: 400 } });
  });

  it('honours a Retry-After header on throttling', async () => {
    const response = { ...immError(400, 'Throttling.Api', 'Request was denied due to api flow control.'), headers: { 'Retry-After': '7' } };
    await expect(failing(response)).rejects.toMatchObject({ kind: 'throttled', details: { retryAfterMs: 7_000 } });
  });

  it.each([
    [500, 'InternalError'], [503, 'ServiceUnavailable'], [400, 'SystemBusy'], [502, 'BadGateway'],
  ])('treats HTTP %i %s as transient', async (status, code) => {
    await expect(failing(immError(status, code, 'try again'))).rejects.toMatchObject({ kind: 'transient', details: { code, status } });
  });

  it('treats a 5xx without an error body as transient', async () => {
    await expect(failing({ status: 502, headers: { 'Content-Type': 'text/html' } })).rejects.toMatchObject({ kind: 'transient', details: { status: 502 } });
  });

  it('keeps the provider code, message and RequestId of a permanent failure', async () => {
    const response = immError(400, 'InvalidArgument', 'The parameter Id is invalid.', 'D18E94DF-1D00-0B75-811E-0000');
    await expect(failing(response)).rejects.toMatchObject({
      kind: 'permanent', message: 'InvalidArgument: The parameter Id is invalid.', details: { code: 'InvalidArgument', status: 400, requestId: 'D18E94DF-1D00-0B75-811E-0000' },
    });
  });

  it('is permanent on a wrong signature, keeping the gateway code and message', async () => {
    const sim = await fixture.start();
    const provider = immProvider(sim, { ALIBABA_CLOUD_ACCESS_KEY_SECRET: 'not-the-secret' });
    await expect(listAll(provider)).rejects.toMatchObject({
      kind: 'permanent', message: 'SignatureDoesNotMatch: Specified signature is not matched with our calculation.', details: { code: 'SignatureDoesNotMatch', status: 400 },
    });
    expect(sim.counters.imm.authFailures).toBe(1);
  });

  const response = (status: number, body: unknown): AlibabaResponse => ({ status, headers: {}, text: JSON.stringify(body), body, requestId: undefined });
  it.each([
    [400, 'Throttling.User', 'throttled'], [403, 'Throttling', 'throttled'], [429, 'Throttling.Api', 'throttled'],
    [503, 'ServiceUnavailable', 'transient'], [500, 'InternalError', 'transient'], [400, 'InternalError.Timeout', 'transient'],
    [400, 'ResourceNotFound', 'permanent'], [403, 'Forbidden.RAM', 'permanent'], [400, 'ThrottlingPolicy', 'permanent'],
    [404, 'InvalidAccessKeyId.NotFound', 'permanent'], [504, 'InvalidArgument', 'transient'],
  ])('classifies HTTP %i %s as %s', (status, code, kind) => {
    expect(classifyAlibabaFailure(response(status, { Code: code, Message: 'm' })).kind).toBe(kind);
  });
});

describe('IMM requests as the SDK sends them', () => {
  interface Captured { method: string; url: string; headers: IncomingMessage['headers']; body: Buffer }

  async function captureServer(answer: (req: Captured) => unknown): Promise<{ url: string; requests: Captured[] }> {
    const requests: Captured[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const captured = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
        requests.push(captured);
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(answer(captured)));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    fixture.onCleanup(() => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
  }

  it('lists with POST / and every parameter in the query, deletes with a form body, each signed with a fresh nonce', async () => {
    const capture = await captureServer((req) => (req.headers['x-acs-action'] === 'ListBatches'
      ? { RequestId: 'R', Batches: [{ Id: 'batch-1', State: 'Succeeded', CreateTime: OLD }], NextToken: req.url.includes('NextToken') ? '' : 'tok/+=' }
      : { RequestId: 'R' }));
    const sim = await fixture.start();
    const provider = immProvider(sim, { IMM_ENDPOINT: capture.url, IMM_PROJECTS: 'my-project' });
    await listAll(provider, 'my-project');
    await provider.deleteTasks('my-project', ['batch-1']);
    const [first, second, del] = capture.requests;
    expect(first).toMatchObject({ method: 'POST', url: '/?MaxResults=100&ProjectName=my-project', body: Buffer.alloc(0) });
    expect(second?.url).toBe('/?MaxResults=100&NextToken=tok%2F%2B%3D&ProjectName=my-project');
    expect(del).toMatchObject({ method: 'POST', url: '/' });
    expect(del?.body.toString()).toBe('Id=batch-1&ProjectName=my-project');
    expect(del?.headers['content-type']).toBe('application/x-www-form-urlencoded');
    for (const req of capture.requests) {
      expect(req.headers['x-acs-version']).toBe('2020-09-30');
      expect(req.headers.authorization).toMatch(/^ACS3-HMAC-SHA256 Credential=SIMULATORALIBABAAK01,SignedHeaders=/);
    }
    expect(capture.requests.map((r) => r.headers['x-acs-action'])).toEqual(['ListBatches', 'ListBatches', 'DeleteBatch']);
    // The simulator's own verifier (not our signer) accepts each request, and no nonce repeats.
    const nonces = new RecentNonces();
    const keys = new Map([[SIMULATOR_CREDENTIALS.alibaba.accessKeyId, SIMULATOR_CREDENTIALS.alibaba.accessKeySecret]]);
    for (const req of capture.requests) {
      const q = req.url.indexOf('?');
      const received = { method: req.method, path: q < 0 ? req.url : req.url.slice(0, q), rawQuery: q < 0 ? '' : req.url.slice(q + 1), headers: req.headers, body: req.body };
      expect(verifyAlibabaRequest(received, keys, new Date(), { seenNonce: nonces.check })).toEqual({ ok: true, accessKey: SIMULATOR_CREDENTIALS.alibaba.accessKeyId });
    }
  });

  it('signs with a rotated secret file on the next request', async () => {
    const sim = await fixture.start();
    putBatch(sim, 'batch-1');
    const file = join(mkdtempSync(join(tmpdir(), 'jt-imm-')), 'secret');
    writeFileSync(file, 'stale-secret');
    const provider = immProvider(sim, { ALIBABA_CLOUD_ACCESS_KEY_SECRET: '', ALIBABA_CLOUD_ACCESS_KEY_SECRET_FILE: file });
    await expect(listAll(provider)).rejects.toMatchObject({ details: { code: 'SignatureDoesNotMatch' } });
    writeFileSync(file, SIMULATOR_CREDENTIALS.alibaba.accessKeySecret);
    utimesSync(file, new Date(), new Date(Date.now() + 5_000));
    expect((await listAll(provider)).flat()).toHaveLength(1);
  });
});

describe('toImmTask', () => {
  it.each([
    [{ Id: 'a', State: 'Failed', UpdateTime: OLD, CreateTime: '2020-01-01T00:00:00Z' }, { kind: 'ok', field: 'UpdateTime', at: new Date(OLD) }],
    [{ Id: 'a', State: 'Failed', UpdateTime: null, CreateTime: OLD }, { kind: 'ok', field: 'CreateTime', at: new Date(OLD) }],
    [{ Id: 'a', State: 'Failed', UpdateTime: '2024-02-30T00:00:00Z' }, { kind: 'invalid', field: 'UpdateTime', raw: '2024-02-30T00:00:00Z' }],
    [{ Id: 'a', State: 'Failed', UpdateTime: 1605000628 }, { kind: 'invalid', field: 'UpdateTime', raw: 1605000628 }],
    [{ Id: 'a', State: 'Failed' }, { kind: 'missing', field: 'CreateTime' }],
  ])('ages %j from %j', (item, agedFrom) => {
    expect(toImmTask(item).agedFrom).toEqual(agedFrom);
  });

  it('gives an empty id for a record without a string Id, which the policy refuses', () => {
    expect(toImmTask({ Id: 42, State: 'Succeeded' }).id).toBe('');
  });
});
