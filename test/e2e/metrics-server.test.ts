import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { huaweiError } from '../../src/simulator/api.js';
import { iotdaTime } from '../../src/simulator/iotda.js';
import { ensureLocalRedis, freePort } from '../../src/simulator/local-redis.js';
import { DEFAULT_SIM_PROJECTS, type Simulator } from '../../src/simulator/server.js';
import { runCli, startCli } from '../helpers/cli.js';
import { simulatorEnv, useSimulators } from '../helpers/janitor.js';
import { startReceiver } from '../helpers/receiver.js';

const DAY = 86_400_000;
const PROJECT = DEFAULT_SIM_PROJECTS.iotda[0] as string;
const MONITORING = new URL('../../k8s/components/monitoring/', import.meta.url);

const fixture = useSimulators('metrics');

function putStale(sim: Simulator, id: string): void {
  sim.put('iotda', PROJECT, { task_id: id, task_name: id, task_type: 'createDevices', status: 'Success', create_time: iotdaTime(new Date(Date.now() - 30 * DAY)) });
}

async function get(port: number, path: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: response.status, text: await response.text() };
}

/** Value of one sample line, e.g. `janitor_deletions_total{…,outcome="deleted"}`, summed over matches. */
function sampleSum(text: string, name: string, labelPart: string): number {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) && l.includes(labelPart)).reduce((n, l) => n + Number(l.split(' ').pop()), 0);
}

/** Every `janitor_*` metric name the shipped alerts and dashboard use. */
function monitoredMetricNames(): string[] {
  const rules = parse(readFileSync(new URL('prometheusrule.yaml', MONITORING), 'utf8')) as { spec: { groups: { rules: { expr: string }[] }[] } };
  const dashboard = JSON.parse(readFileSync(new URL('task-janitor-dashboard.json', MONITORING), 'utf8')) as { panels: { targets: { expr: string }[] }[] };
  const exprs = [...rules.spec.groups.flatMap((g) => g.rules.map((r) => r.expr)), ...dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr))];
  return [...new Set(exprs.flatMap((e) => e.match(/\bjanitor_[a-z_]+\b/g) ?? []))].sort();
}

describe('metrics endpoint', () => {
  it('daemon serves /metrics, /healthz and /readyz, and every metric the shipped alerts and dashboard use has samples in real output', async () => {
    const sim = await fixture.start();
    for (let i = 0; i < 20; i++) putStale(sim, `00000000000000000000${(0xa000 + i).toString(16)}`);
    const throttled = '000000000000000000000ff1';
    const refused = '000000000000000000000ff2';
    putStale(sim, throttled);
    putStale(sim, refused);
    sim.put('iotda', PROJECT, { task_id: '000000000000000000000ff3', task_name: 'fresh', task_type: 'createDevices', status: 'Success', create_time: iotdaTime(new Date()) });
    sim.inject({ provider: 'iotda', op: 'delete', taskId: throttled, times: 1, response: { ...huaweiError(429, 'APIGW.0308', 'The throttling threshold has been reached.'), headers: { 'Retry-After': '0' } } });
    sim.inject({ provider: 'iotda', op: 'delete', taskId: refused, times: 100, response: huaweiError(403, 'IOTDA.000005', 'Forbidden by policy.') });
    const port = await freePort();
    const env = simulatorEnv(sim, ['iotda'], fixture.prefix(), { IOTDA_TASK_TYPES: 'createDevices', JANITOR_SCHEDULE: '* * * * * *', JANITOR_METRICS_PORT: String(port), LOG_LEVEL: 'info' });
    const daemon = startCli(['daemon'], env);
    fixture.onCleanup(() => Promise.resolve(daemon.child.kill('SIGKILL')));

    let text = '';
    for (let i = 0; i < 300; i++) {
      await sleep(200);
      text = await get(port, '/metrics').then((r) => r.text, () => '');
      if (sampleSum(text, 'janitor_deletions_total', 'outcome="deleted"') >= 21 && text.includes('janitor_last_success_timestamp_seconds ')) break;
    }
    expect(sampleSum(text, 'janitor_deletions_total', 'outcome="deleted"')).toBe(21);
    // Each scheduled produce re-enqueues the refused task once its last job failed for good.
    expect(sampleSum(text, 'janitor_deletions_total', 'outcome="failed"')).toBeGreaterThanOrEqual(1);
    expect(sampleSum(text, 'janitor_tasks_kept_total', 'reason="too-recent"')).toBeGreaterThanOrEqual(1);
    expect(sampleSum(text, 'janitor_provider_throttled_total', 'operation="delete"')).toBeGreaterThanOrEqual(1);
    expect(sampleSum(text, 'janitor_provider_calls_total', 'operation="delete",status="204"') + sampleSum(text, 'janitor_provider_calls_total', 'operation="delete",status="200"')).toBe(21);
    expect(sampleSum(text, 'janitor_provider_calls_total', 'operation="delete",status="403"')).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/janitor_queue_jobs\{provider="iotda",state="failed"\} [1-9]/);
    // The worker's delete permits (their values move with the jobs active at the scrape).
    expect(text).toMatch(/^janitor_delete_permits\{provider="iotda"\} \d+$/m);
    expect(text).toMatch(/^janitor_delete_tasks_in_flight\{provider="iotda"\} \d+$/m);
    expect(text).toMatch(/janitor_build_info\{version="\d+\.\d+\.\d+[^"]*",node_version="v\d+/);
    expect(text).toMatch(/^process_resident_memory_bytes /m);
    expect(await get(port, '/healthz')).toEqual({ status: 200, text: 'ok\n' });
    expect(await get(port, '/readyz')).toEqual({ status: 200, text: 'ok\n' });
    expect((await get(port, '/nope')).status).toBe(404);

    // A run's own gauges: the pushed body of a real `run` is the other real output.
    const pushgateway = await startReceiver();
    fixture.onCleanup(() => pushgateway.close());
    await runCli(['run'], simulatorEnv(sim, ['iotda'], fixture.prefix(), { IOTDA_TASK_TYPES: 'createDevices', JANITOR_PUSHGATEWAY_URL: pushgateway.url }));
    const outputs = `${text}\n${pushgateway.requests[0]?.body ?? ''}`;
    const names = monitoredMetricNames();
    expect(names.length).toBeGreaterThanOrEqual(10);
    const missing = names.filter((name) => !new RegExp(`^${name}(\\{[^}]*\\})? `, 'm').test(outputs));
    expect(missing).toEqual([]);

    daemon.child.kill('SIGTERM');
    expect((await daemon.done).code).toBe(0);
  }, 90_000);

  it('answers /readyz 503 while Redis is unreachable, and /healthz 200 all along', async () => {
    const sim = await fixture.start();
    const redis = await ensureLocalRedis(`redis://127.0.0.1:${await freePort()}`);
    fixture.onCleanup(() => Promise.resolve(redis.stop()));
    const port = await freePort();
    const env = simulatorEnv(sim, ['iotda'], fixture.prefix(), { REDIS_URL: redis.url, JANITOR_METRICS_PORT: String(port), JANITOR_SHUTDOWN_GRACE: '2s' });
    const work = startCli(['work'], env);
    fixture.onCleanup(() => Promise.resolve(work.child.kill('SIGKILL')));
    let exited = false;
    void work.done.then(() => { exited = true; });
    let ready = { status: 0, text: '' };
    for (let i = 0; i < 150 && ready.status !== 200 && !exited; i++) {
      await sleep(100);
      ready = await get(port, '/readyz').catch(() => ({ status: 0, text: '' }));
    }
    expect(ready.status, exited ? (await work.done).stderr : 'no answer within 15 s').toBe(200);
    redis.stop();
    await sleep(300);
    const down = await get(port, '/readyz');
    expect(down.status).toBe(503);
    expect(down.text).toMatch(/^not ready: Redis unreachable/);
    expect((await get(port, '/healthz')).status).toBe(200);
    expect((await get(port, '/metrics')).status).toBe(200);
  }, 60_000);
  it('a dry-run daemon serves /metrics and /readyz with Redis switched off: what it listed and kept, no queue', async () => {
    const sim = await fixture.start();
    for (let i = 0; i < 5; i++) putStale(sim, `00000000000000000000${(0xb000 + i).toString(16)}`);
    const port = await freePort();
    const env = simulatorEnv(sim, ['iotda'], fixture.prefix(), {
      IOTDA_TASK_TYPES: 'createDevices', JANITOR_DRY_RUN: 'true', JANITOR_SCHEDULE: '* * * * * *', JANITOR_METRICS_PORT: String(port),
      REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
    });
    const daemon = startCli(['daemon'], env);
    fixture.onCleanup(() => Promise.resolve(daemon.child.kill('SIGKILL')));
    let text = '';
    for (let i = 0; i < 150 && !text.includes('janitor_last_success_timestamp_seconds '); i++) {
      await sleep(200);
      text = await get(port, '/metrics').then((r) => r.text, () => '');
    }
    expect(sampleSum(text, 'janitor_tasks_listed_total', `project="${PROJECT}"`)).toBeGreaterThanOrEqual(5);
    expect(text).not.toMatch(/^janitor_queue_jobs/m);
    expect(await get(port, '/readyz')).toEqual({ status: 200, text: 'ok\n' });
    expect(sim.deleted).toEqual([]);
    daemon.child.kill('SIGTERM');
    expect((await daemon.done).code).toBe(0);
  }, 60_000);
});
