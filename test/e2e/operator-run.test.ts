import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { huaweiError } from '../../src/simulator/api.js';
import { iotdaTime } from '../../src/simulator/iotda.js';
import { DEFAULT_SIM_PROJECTS } from '../../src/simulator/server.js';
import { runCli } from '../helpers/cli.js';
import { expectedDeletions, simulatorEnv, useSimulators } from '../helpers/janitor.js';
import { startReceiver } from '../helpers/receiver.js';

const DAY = 86_400_000;
const PROJECT = DEFAULT_SIM_PROJECTS.iotda[0] as string;
const TERMINAL = ['Success', 'Fail', 'PartialSuccess', 'Stopped'];

const fixture = useSimulators('operator-run');

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'janitor-audit-'));
  fixture.onCleanup(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
  return dir;
}

async function receiver(statuses?: readonly number[]) {
  const r = await startReceiver(statuses);
  fixture.onCleanup(() => r.close());
  return r;
}

describe('run: audit file, Pushgateway and webhook', () => {
  it('appends one audit line per task the simulator deleted and per permanent failure, pushes its metrics grouped by job and instance, and posts the summary', async () => {
    const sim = await fixture.start({ tasksPerProject: 120, seed: 21 });
    const refused = '00000000000000000000beef';
    sim.put('iotda', PROJECT, { task_id: refused, task_name: 'refused', task_type: 'createDevices', status: 'Success', create_time: iotdaTime(new Date(Date.now() - 30 * DAY)) });
    sim.inject({ provider: 'iotda', op: 'delete', taskId: refused, times: 100, response: huaweiError(403, 'IOTDA.000005', 'Forbidden by policy.') });
    const expected = expectedDeletions(sim, 'iotda', PROJECT, TERMINAL, 7 * DAY);
    const pushgateway = await receiver();
    const webhook = await receiver([503, 200]);
    const auditFile = join(tempDir(), 'audit.jsonl');

    const result = await runCli(['run'], simulatorEnv(sim, ['iotda'], fixture.prefix(), {
      IOTDA_TASK_TYPES: '', JANITOR_AUDIT_FILE: auditFile, JANITOR_PUSHGATEWAY_URL: pushgateway.url,
      JANITOR_PUSHGATEWAY_INSTANCE: 'prod-eu', JANITOR_NOTIFY_WEBHOOK: `${webhook.url}/hooks/T000/secret`, LOG_LEVEL: 'info',
    }));
    expect(result.code).toBe(1);

    const deleted = sim.deleted.map((d) => d.id).sort();
    expect(deleted).toEqual(expected.filter((id) => id !== refused));
    const lines = readFileSync(auditFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.filter((l) => l.event === 'task deleted').map((l) => l.taskId).sort()).toEqual(deleted);
    expect(lines.filter((l) => l.event === 'task deletion failed').map((l) => l.taskId)).toEqual([refused]);
    expect(lines).toHaveLength(deleted.length + 1);
    const one = lines.find((l) => l.event === 'task deleted');
    expect(one).toMatchObject({
      provider: 'iotda', project: PROJECT, runId: expect.any(String), requestId: expect.any(String), state: expect.any(String),
      agedFrom: { field: expect.any(String), at: expect.any(String) }, rule: { states: TERMINAL, retentionMs: 7 * DAY, retention: '7d' },
    });
    expect(one?.ageMs).toBeGreaterThan(7 * DAY);
    expect(lines.find((l) => l.event === 'task deletion failed')).toMatchObject({ code: 'IOTDA.000005', error: expect.stringContaining('Forbidden by policy.'), requestId: expect.stringMatching(/\S/) });
    // The same events are in the log, marked as audit events.
    const logged = result.stderr.split('\n').filter((l) => l.includes('"audit":true'));
    expect(logged).toHaveLength(lines.length);

    expect(pushgateway.requests).toHaveLength(1);
    const push = pushgateway.requests[0];
    expect(push).toMatchObject({ method: 'POST', path: '/metrics/job/task-janitor/instance/prod-eu' });
    expect(push?.body).toContain(`janitor_deletions_total{provider="iotda",project="${PROJECT}",outcome="deleted"} ${deleted.length}`);
    expect(push?.body).toContain(`janitor_deletions_total{provider="iotda",project="${PROJECT}",outcome="failed"} 1`);
    expect(push?.body).toContain('janitor_run_failed_deletions 1');
    expect(push?.body).toContain('janitor_run_exit_code 1');
    // A failed run does not claim success: the gateway keeps the earlier success time.
    expect(push?.body).not.toContain('janitor_last_success_timestamp_seconds');

    // The first POST got a 503; the retry delivered it.
    expect(webhook.requests.map((r) => r.method)).toEqual(['POST', 'POST']);
    const body = JSON.parse(webhook.requests[1]?.body ?? '{}') as Record<string, unknown>;
    expect(body).toMatchObject({ service: 'task-janitor', command: 'run', exitCode: 1, totals: { deleted: deleted.length, failed: 1 } });
    expect(body.text).toMatch(new RegExp(`^task-janitor run \\w+: deleted ${deleted.length}, already gone 0, failed 1; exit 1\\niotda ${PROJECT}: 1 failed \\(IOTDA.000005`));
    expect(result.stderr).not.toContain('/hooks/T000/secret');
  }, 60_000);

  it('audits every deletion of a run its deadline cuts mid-job, once, from the process that made it', async () => {
    const sim = await fixture.start({ latencyMs: 150 });
    const old = iotdaTime(new Date(Date.now() - 30 * DAY));
    for (let i = 0; i < 60; i++) sim.put('iotda', PROJECT, { task_id: (i + 1).toString(16).padStart(24, '0'), task_name: `t${i}`, task_type: 'createDevices', status: 'Success', create_time: old });
    const auditFile = join(tempDir(), 'audit.jsonl');
    const result = await runCli(['run'], simulatorEnv(sim, ['iotda'], fixture.prefix(), {
      IOTDA_TASK_TYPES: 'createDevices', IOTDA_CONCURRENCY: '2', JANITOR_MAX_RUNTIME: '3s', JANITOR_SHUTDOWN_GRACE: '2s', JANITOR_AUDIT_FILE: auditFile,
    }));
    expect(result.code).toBe(1);
    const deleted = sim.deleted.map((d) => d.id).sort();
    expect(deleted.length).toBeGreaterThan(0);
    expect(deleted.length).toBeLessThan(60);
    const lines = readFileSync(auditFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l.taskId).sort()).toEqual(deleted);
    expect(lines.every((l) => l.event === 'task deleted')).toBe(true);
  }, 60_000);

  it('gives each failed task of a job its own code, and audits none twice when retry-failed sends the job again', async () => {
    const sim = await fixture.start();
    const old = iotdaTime(new Date(Date.now() - 30 * DAY));
    const ids = Array.from({ length: 10 }, (_, i) => (i + 1).toString(16).padStart(24, '0'));
    for (const [i, id] of ids.entries()) sim.put('iotda', PROJECT, { task_id: id, task_name: `t${i}`, task_type: 'createDevices', status: 'Success', create_time: old });
    const [forbidden, busy] = [ids[2] as string, ids[7] as string];
    sim.inject({ provider: 'iotda', op: 'delete', taskId: forbidden, times: 1, response: huaweiError(403, 'IOTDA.000005', 'Forbidden by policy.') });
    sim.inject({ provider: 'iotda', op: 'delete', taskId: busy, times: 1, response: huaweiError(400, 'IOTDA.014111', 'The task in status Processing cannot be deleted.') });
    const auditFile = join(tempDir(), 'audit.jsonl');
    const env = simulatorEnv(sim, ['iotda'], fixture.prefix(), { IOTDA_TASK_TYPES: 'createDevices', JANITOR_AUDIT_FILE: auditFile, LOG_LEVEL: 'error' });
    const first = await runCli(['run'], env);
    expect(first.code).toBe(1);
    // The error log names the job's failed tasks, not all of its tasks.
    const failedLog = first.stderr.split('\n').filter((l) => l.includes('"msg":"delete failed"')).map((l) => JSON.parse(l) as { taskIds: string[] });
    expect(failedLog.flatMap((l) => l.taskIds).sort()).toEqual([forbidden, busy].sort());
    const read = () => readFileSync(auditFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const failed = read().filter((l) => l.event === 'task deletion failed');
    expect(Object.fromEntries(failed.map((l) => [l.taskId, l.code]))).toEqual({ [forbidden]: 'IOTDA.000005', [busy]: 'IOTDA.014111' });
    expect(failed.find((l) => l.taskId === busy)?.error).toContain('cannot be deleted');

    // The causes are gone; the job is sent again and a run waits for it.
    expect((await runCli(['retry-failed', 'iotda'], env)).code).toBe(0);
    expect((await runCli(['run'], env)).code).toBe(0);
    expect(sim.deleted.map((d) => d.id).sort()).toEqual(ids);
    const deletedLines = read().filter((l) => l.event === 'task deleted').map((l) => l.taskId as string);
    expect(deletedLines.sort()).toEqual(ids);
  }, 60_000);

  it('posts and pushes a run that could not start (Redis unreachable, exit 3), naming why', async () => {
    const sim = await fixture.start({ tasksPerProject: 5 });
    const pushgateway = await receiver();
    const webhook = await receiver();
    const result = await runCli(['run'], simulatorEnv(sim, ['iotda'], fixture.prefix(), {
      REDIS_URL: 'redis://127.0.0.1:1', JANITOR_NOTIFY_WEBHOOK: webhook.url, JANITOR_PUSHGATEWAY_URL: pushgateway.url,
    }));
    expect(result.code).toBe(3);
    expect(sim.deleted).toEqual([]);
    expect(webhook.requests).toHaveLength(1);
    const body = JSON.parse(webhook.requests[0]?.body ?? '{}') as Record<string, unknown>;
    expect(body).toMatchObject({ command: 'run', exitCode: 3 });
    expect(body.text).toMatch(/^task-janitor run: could not run; exit 3\n.*Redis at redis:\/\/127\.0\.0\.1:1/);
    expect(pushgateway.requests).toHaveLength(1);
    expect(pushgateway.requests[0]?.body).toContain('janitor_run_exit_code 3');
  }, 60_000);

  it('still exits 0 after a clean run when the webhook keeps failing and the Pushgateway is down', async () => {
    const sim = await fixture.start({ tasksPerProject: 30, seed: 5 });
    const webhook = await receiver([500]);
    const down = await receiver();
    await down.close();
    const result = await runCli(['run'], simulatorEnv(sim, ['iotda'], fixture.prefix(), {
      IOTDA_TASK_TYPES: 'createDevices', JANITOR_NOTIFY_WEBHOOK: webhook.url, JANITOR_PUSHGATEWAY_URL: down.url, LOG_LEVEL: 'warn',
    }));
    expect(sim.deleted.length).toBeGreaterThan(0);
    expect(result.code).toBe(0);
    expect(webhook.requests).toHaveLength(4); // one try and three bounded retries
    expect(result.stderr).toContain('notification failed; the run result stands');
    expect(result.stderr).toContain('metrics push failed; the run result stands');
  }, 60_000);

  it('sends no notification after a run that neither deleted nor failed anything, and pushes a success time', async () => {
    const sim = await fixture.start({ tasksPerProject: 30, seed: 5 });
    const webhook = await receiver();
    const pushgateway = await receiver();
    const result = await runCli(['run'], simulatorEnv(sim, ['iotda'], fixture.prefix(), {
      IOTDA_TASK_TYPES: 'createDevices', JANITOR_DRY_RUN: 'true', JANITOR_NOTIFY_WEBHOOK: webhook.url, JANITOR_PUSHGATEWAY_URL: pushgateway.url,
    }));
    expect(result.code).toBe(0);
    expect(webhook.requests).toHaveLength(0);
    expect(pushgateway.requests[0]?.path).toMatch(/^\/metrics\/job\/task-janitor\/instance\/jt-operator-run-/);
    const success = /janitor_last_success_timestamp_seconds (\d+(\.\d+)?)/.exec(pushgateway.requests[0]?.body ?? '');
    expect(Number(success?.[1]) * 1000).toBeGreaterThan(Date.now() - 60_000);
  });

  it('refuses an audit file it cannot open with exit 2, before listing anything', async () => {
    const sim = await fixture.start({ tasksPerProject: 10 });
    const result = await runCli(['run'], simulatorEnv(sim, ['iotda'], fixture.prefix(), { JANITOR_AUDIT_FILE: join(tempDir(), 'missing-dir', 'audit.jsonl') }));
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/JANITOR_AUDIT_FILE: cannot open ".*audit.jsonl" for appending \(ENOENT\)/);
    expect(sim.counters.iotda.list).toBe(0);
  });
});
