import { describe, expect, it } from 'vitest';
import { huaweiError, json } from '../../src/simulator/api.js';
import { iotdaTime } from '../../src/simulator/iotda.js';
import { DEFAULT_SIM_PROJECTS, type Simulator } from '../../src/simulator/server.js';
import { captureLogs, expectedDeletions, runJanitor, simulatorEnv, useSimulators } from '../helpers/janitor.js';

const DAY = 86_400_000;
const PROJECT = DEFAULT_SIM_PROJECTS.iotda[0] as string;
const TERMINAL = ['Success', 'Fail', 'PartialSuccess', 'Stopped'];

const fixture = useSimulators('iotda-faults');

function env(s: Simulator, extra: Record<string, string> = {}) {
  return simulatorEnv(s, ['iotda'], fixture.prefix(), { IOTDA_TASK_TYPES: 'createDevices', ...extra });
}

function putTask(s: Simulator, n: number, over: Record<string, unknown> = {}): string {
  const id = n.toString(16).padStart(24, '0');
  s.put('iotda', PROJECT, { task_id: id, task_name: `t${n}`, task_type: 'createDevices', status: 'Success', create_time: iotdaTime(new Date(Date.now() - 30 * DAY)), ...over });
  return id;
}

describe('IoTDA run under faults', () => {
  it('in a dry run deletes nothing and reports exactly the set a real run deletes', async () => {
    const sim = await fixture.start({ tasksPerProject: 200, seed: 11 });
    const expected = expectedDeletions(sim, 'iotda', PROJECT, TERMINAL, 7 * DAY);
    const logs = captureLogs();
    const report = await runJanitor(env(sim, { JANITOR_DRY_RUN: 'true', IOTDA_TASK_TYPES: '' }), { logs: logs.stream, logLevel: 'info' });
    expect(sim.deleted).toHaveLength(0);
    expect(sim.counters.iotda.delete).toBe(0);
    expect(report.stats[0]?.candidates).toBe(expected.length);
    expect(report.stats[0]?.enqueued).toBe(0);
    const reported = logs.lines.filter((l) => l.msg === 'task would be deleted').map((l) => String(l.taskId)).sort();
    expect(reported).toEqual(expected);
  });

  it('retries a transient 5xx and then deletes', async () => {
    const sim = await fixture.start();
    const id = putTask(sim, 1);
    sim.inject({ provider: 'iotda', op: 'delete', taskId: id, times: 2, response: huaweiError(503, 'APIGW.0103', 'backend unavailable') });
    const report = await runJanitor(env(sim));
    expect(sim.deleted.map((d) => d.id)).toEqual([id]);
    expect(report.stats[0]).toMatchObject({ deleted: 1, retries: 2 });
    expect(report.exitCode).toBe(0);
  });

  it('counts a 404 on delete as already gone', async () => {
    const sim = await fixture.start();
    const id = putTask(sim, 2);
    sim.inject({ provider: 'iotda', op: 'delete', taskId: id, times: 1, response: huaweiError(404, 'IOTDA.014000', 'The batch task does not exist.') });
    const report = await runJanitor(env(sim));
    expect(report.stats[0]).toMatchObject({ deleted: 0, gone: 1 });
    expect(report.exitCode).toBe(0);
  });

  it('never counts an APIG "API does not exist" 404 as gone', async () => {
    const sim = await fixture.start();
    const id = putTask(sim, 3);
    sim.inject({ provider: 'iotda', op: 'delete', taskId: id, times: 10, response: huaweiError(404, 'APIGW.0101', 'The API does not exist.') });
    const report = await runJanitor(env(sim));
    expect(report.stats[0]?.gone).toBe(0);
    expect(Object.keys(report.stats[0]?.failed ?? {})).toEqual([expect.stringContaining('APIGW.0101')]);
    expect(report.exitCode).toBe(1);
  });

  it('fails a permanent 4xx once, keeping the provider code and message, and a later run tries again', async () => {
    const sim = await fixture.start();
    const id = putTask(sim, 4);
    sim.inject({ provider: 'iotda', op: 'delete', taskId: id, times: 1, response: huaweiError(400, 'IOTDA.014111', 'The task cannot be deleted.') });
    const e = env(sim);
    const report = await runJanitor(e);
    expect(sim.counters.iotda.delete).toBe(1);
    expect(report.stats[0]?.failed).toEqual({ 'IOTDA.014111: The task cannot be deleted.': 1 });
    expect(report.exitCode).toBe(1);
    // The failed job is retained for inspection, yet it does not block the next run.
    const again = await runJanitor(e);
    expect(again.stats[0]).toMatchObject({ enqueued: 1, alreadyQueued: 0, deleted: 1 });
    expect(sim.deleted.map((d) => d.id)).toEqual([id]);
  });

  it('never sends again the delete of a task that failed for good, while its job retries another task', async () => {
    const sim = await fixture.start();
    const refused = putTask(sim, 6);
    const flaky = putTask(sim, 7); // the same job: one page, one project, one task type
    sim.inject({ provider: 'iotda', op: 'delete', taskId: refused, times: 100, response: huaweiError(403, 'IOTDA.000005', 'Forbidden by policy.') });
    sim.inject({ provider: 'iotda', op: 'delete', taskId: flaky, times: 1, response: huaweiError(503, 'APIGW.0103', 'backend unavailable') });
    const report = await runJanitor(env(sim, { IOTDA_ATTEMPTS: '3' }));
    expect(sim.deleted.map((d) => d.id)).toEqual([flaky]);
    // One delete call for the refused task: the retry that deleted its job-mate did not send it again.
    expect(sim.requests.filter((r) => r.op === 'delete' && r.taskId === refused)).toHaveLength(1);
    expect(report.stats[0]).toMatchObject({ deleted: 1, failed: { 'IOTDA.000005: Forbidden by policy.': 1 } });
    expect(report.exitCode).toBe(1);
  });

  it('counts and deletes once a task that one page lists twice', async () => {
    const sim = await fixture.start();
    const id = putTask(sim, 8);
    const task = { task_id: id, task_name: 't8', task_type: 'createDevices', status: 'Success', create_time: iotdaTime(new Date(Date.now() - 30 * DAY)) };
    sim.inject({ provider: 'iotda', op: 'list', times: 1, response: json(200, { batchtasks: [task, task], page: { count: 2 } }) });
    const report = await runJanitor(env(sim));
    expect(sim.deleted.map((d) => d.id)).toEqual([id]);
    expect(sim.requests.filter((r) => r.op === 'delete')).toHaveLength(1);
    expect(report.stats[0]).toMatchObject({ candidates: 1, enqueued: 1, deleted: 1, gone: 0 });
  });

  it('slows down on throttling without spending attempts', async () => {
    const sim = await fixture.start();
    const id = putTask(sim, 5);
    sim.inject({ provider: 'iotda', op: 'delete', taskId: id, times: 3, response: { ...huaweiError(429, 'APIGW.0308', 'The request is throttled.'), headers: { 'Retry-After': '0' } } });
    sim.inject({ provider: 'iotda', op: 'delete', taskId: id, times: 1, response: huaweiError(403, 'IOTDA.021101', 'Request reached the maximum rate limit.') });
    const report = await runJanitor(env(sim, { IOTDA_ATTEMPTS: '1' }));
    expect(sim.deleted.map((d) => d.id)).toEqual([id]);
    expect(report.stats[0]).toMatchObject({ deleted: 1, retries: 0 });
  });

  it('never runs more deletes at once than IOTDA_CONCURRENCY, and keeps to IOTDA_RATE_LIMIT', async () => {
    const sim = await fixture.start({ latencyMs: 80 });
    for (let n = 10; n < 40; n++) putTask(sim, n);
    const concurrency = await runJanitor(env(sim, { IOTDA_CONCURRENCY: '3' }));
    expect(concurrency.stats[0]?.deleted).toBe(30);
    expect(sim.counters.iotda.maxConcurrentDeletes).toBeLessThanOrEqual(3);
    expect(sim.counters.iotda.maxConcurrentDeletes).toBeGreaterThan(1);

    for (let n = 50; n < 62; n++) putTask(sim, n);
    const started = Date.now();
    const limited = await runJanitor(env(sim, { IOTDA_RATE_LIMIT: '4/s', IOTDA_CONCURRENCY: '10' }));
    expect(limited.stats[0]?.deleted).toBe(12);
    // 12 deletes at 4 per second need at least two full windows after the first.
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_000);
  });

  it('never deletes a task that is not terminal, stale and dated in the past', async () => {
    const sim = await fixture.start();
    const now = Date.now();
    putTask(sim, 100, { status: 'Processing' });
    putTask(sim, 101, { status: 'Stopping' });
    putTask(sim, 102, { status: 'success ' });
    putTask(sim, 103, { status: undefined });
    putTask(sim, 104, { create_time: iotdaTime(new Date(now + DAY)) });
    putTask(sim, 105, { create_time: undefined });
    putTask(sim, 106, { create_time: '2024-02-30T00:00:00Z' });
    putTask(sim, 107, { create_time: iotdaTime(new Date(now - 6 * DAY)) });
    putTask(sim, 108, { create_time: 1_700_000_000 });
    putTask(sim, 109, { task_id: '' });
    const keep = await runJanitor(env(sim));
    expect(sim.deleted).toHaveLength(0);
    expect(keep.stats[0]?.skipped).toEqual({
      'state-not-selected': 2, 'unknown-state': 2, 'future-timestamp': 1, 'missing-timestamp': 1, 'invalid-timestamp': 2, 'too-recent': 1, 'missing-id': 1,
    });
  });
});

describe('IoTDA signing scheme', () => {
  it.each([['SDK-HMAC-SHA256'], ['V11-HMAC-SHA256']] as const)('works against an endpoint that accepts only %s', async (scheme) => {
    const sim = await fixture.start({ huaweiSchemes: [scheme] });
    putTask(sim, 7);
    putTask(sim, 8);
    const report = await runJanitor(env(sim));
    expect(report.exitCode).toBe(0);
    expect(report.stats[0]?.deleted).toBe(2);
    // At most one refused request before the working scheme is kept.
    expect(sim.counters.iotda.authFailures).toBeLessThanOrEqual(1);
  });

  it('tries the other scheme once, not on every call, when the endpoint refuses both (a wrong key)', async () => {
    const sim = await fixture.start();
    putTask(sim, 10);
    // Four task types, one listing call each: without settling, each would be sent twice.
    const report = await runJanitor(env(sim, { HUAWEICLOUD_SDK_SK: 'not-the-secret-key', IOTDA_TASK_TYPES: 'createDevices,deleteDevices,freezeDevices,unfreezeDevices', IOTDA_LIST_CONCURRENCY: '1' }));
    expect(report.exitCode).toBe(3);
    expect(report.stats[0]?.listError).toContain('APIGW.0301');
    expect(sim.counters.iotda.authFailures).toBe(5);
  });

  it('signs with exactly the configured scheme when IOTDA_SIGNING is not auto', async () => {
    const sim = await fixture.start({ huaweiSchemes: ['SDK-HMAC-SHA256'] });
    putTask(sim, 9);
    const report = await runJanitor(env(sim, { IOTDA_SIGNING: 'derived' }));
    expect(report.exitCode).toBe(3);
    expect(report.stats[0]?.listError).toContain('APIGW.0301');
  });
});

describe('IoTDA derived (V11) signing names the region', () => {
  it('is refused by an instance endpoint of another region, and accepted with the instance\'s own', async () => {
    const sim = await fixture.start();
    putTask(sim, 9);
    const wrong = await runJanitor(env(sim, { IOTDA_SIGNING: 'derived', IOTDA_REGION: 'cn-south-1' }));
    expect(wrong.exitCode).toBe(3);
    expect(wrong.stats[0]?.listError).toContain('APIGW.0301');
    expect(sim.deleted).toEqual([]);
    const southern = await fixture.start({ iotdaRegion: 'cn-south-1' });
    putTask(southern, 9);
    const right = await runJanitor(env(southern, { IOTDA_SIGNING: 'derived', IOTDA_REGION: 'cn-south-1' }));
    expect(right.exitCode).toBe(0);
    expect(southern.deleted).toHaveLength(1);
  });
});
