import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createCallLimiter, providerRatesOf } from '../../src/limiter.js';
import { RedisBudgetStore } from '../../src/limiter-redis.js';
import { createLogger } from '../../src/logger.js';
import { createProviders } from '../../src/providers/registry.js';
import { connectRedis, openQueues, startWorkers } from '../../src/run.js';
import { createShutdown } from '../../src/shutdown.js';
import { huaweiError } from '../../src/simulator/api.js';
import { iotdaTime } from '../../src/simulator/iotda.js';
import { DEFAULT_SIM_PROJECTS, type Simulator } from '../../src/simulator/server.js';
import type { StatusReport } from '../../src/status.js';
import { runCli } from '../helpers/cli.js';
import { runJanitor, simulatorEnv, useSimulators } from '../helpers/janitor.js';

const DAY = 86_400_000;
const PROJECT = DEFAULT_SIM_PROJECTS.iotda[0] as string;
const REFUSED = '00000000000000000000beef';

const fixture = useSimulators('status');

/** Eleven stale tasks, two delete jobs (counts below are jobs), one task of which the API refuses to delete (403) `times` times. */
function seed(sim: Simulator, times: number): void {
  for (let i = 0; i < 11; i++) {
    const id = i === 0 ? REFUSED : `0000000000000000000000${(0x10 + i).toString(16)}`;
    sim.put('iotda', PROJECT, { task_id: id, task_name: `t${i}`, task_type: 'createDevices', status: 'Success', create_time: iotdaTime(new Date(Date.now() - 30 * DAY)) });
  }
  sim.inject({ provider: 'iotda', op: 'delete', taskId: REFUSED, times, response: huaweiError(403, 'IOTDA.000005', 'Forbidden by policy.') });
}

/** The deployment's ConfigMap without its Secret: the queue commands need no credentials. */
function withoutCredentials(env: Record<string, string>): Record<string, string> {
  const { HUAWEICLOUD_SDK_AK: _ak, HUAWEICLOUD_SDK_SK: _sk, ...rest } = env;
  return rest;
}

describe('status and retry-failed', () => {
  it('status shows each provider queue\'s counts, rate and latest failures with the provider\'s code and message, as text and JSON, without credentials', async () => {
    const sim = await fixture.start();
    seed(sim, 100);
    const env = simulatorEnv(sim, ['iotda'], fixture.prefix(), { IOTDA_TASK_TYPES: 'createDevices' });
    expect((await runJanitor(env)).exitCode).toBe(1);

    const json = await runCli(['status', '--json'], withoutCredentials(env));
    expect(json.stderr).toBe('');
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout) as StatusReport;
    expect(report.providers).toHaveLength(1);
    const iotda = report.providers[0];
    expect(iotda).toMatchObject({ provider: 'iotda', counts: { waiting: 0, active: 0, delayed: 0, failed: 1, completed: 1 }, rateLimitPerSecond: 1000, effectiveRatePerSecond: 1000, throttledForMs: 0 });
    expect(iotda?.recentJobsPerSecond).toBeGreaterThan(0);
    expect(iotda?.latestFailures).toEqual([expect.objectContaining({ target: PROJECT, taskIds: [REFUSED], attempts: 1, code: 'IOTDA.000005', message: 'Forbidden by policy.' })]);

    const text = await runCli(['status'], withoutCredentials(env));
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('iotda: waiting 0, active 0, delayed 0, failed 1, completed 1; workers 0');
    expect(text.stdout).toContain(`concurrency: IOTDA_CONCURRENCY=${loadConfig(env).providers[0]?.concurrency} tasks in flight, at most ${iotda?.expectedActiveJobsCap} jobs active\n`);
    // Read by a deployment configured with another P_CONCURRENCY: the cap in Redis is named as set from it.
    const other = await runCli(['status'], withoutCredentials({ ...env, IOTDA_CONCURRENCY: '40' }));
    const configured = loadConfig(env).providers[0]?.concurrency;
    expect(iotda?.queueConcurrency).toBe(configured);
    expect(other.stdout).toContain(`concurrency: IOTDA_CONCURRENCY=40 tasks in flight, at most ${iotda?.activeJobsCap} jobs active (set by a process with IOTDA_CONCURRENCY=${configured}, which every worker follows: here it would be 20)`);
    expect(text.stdout).toMatch(new RegExp(`\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z ${PROJECT} task ${REFUSED}, 1 attempt\\(s\\): IOTDA.000005: Forbidden by policy.`));
    // IOTDA_RATE_LIMIT=none: no rate to show, as text or JSON (which has no infinity).
    const unpaced = withoutCredentials({ ...env, IOTDA_RATE_LIMIT: 'none' });
    expect((await runCli(['status'], unpaced)).stdout).toContain('rate: limit none, effective none,');
    expect((JSON.parse((await runCli(['status', '--json'], unpaced)).stdout) as StatusReport).providers[0]).toMatchObject({ rateLimitPerSecond: null, effectiveRatePerSecond: null });

    // A worker elsewhere was throttled: status shows the shared limiter's pause, not the configured rate.
    const redis = new Redis(env.REDIS_URL as string);
    fixture.onCleanup(() => Promise.resolve(redis.disconnect()));
    const config = loadConfig(env);
    await createCallLimiter(providerRatesOf(config), { store: new RedisBudgetStore(redis), keyPrefix: config.queuePrefix }).budgetFor('iotda').throttled('delete', 60_000);
    const paused = await runCli(['status'], withoutCredentials(env));
    expect(paused.stdout).toContain('rate: limit 1000/s, effective 0/s');
  }, 60_000);

  it('retry-failed re-enqueues a failed deletion, and running workers delete it once the cause is gone', async () => {
    const sim = await fixture.start();
    seed(sim, 1);
    const env = simulatorEnv(sim, ['iotda'], fixture.prefix(), { IOTDA_TASK_TYPES: 'createDevices' });
    expect((await runJanitor(env)).exitCode).toBe(1);
    expect(sim.deleted.map((d) => d.id)).not.toContain(REFUSED);

    const retried = await runCli(['retry-failed', 'iotda'], withoutCredentials(env));
    expect(retried.code).toBe(0);
    expect(retried.stdout).toContain('iotda: re-enqueued 1 failed job(s) (1 task(s)); left 0');

    const config = loadConfig(env);
    const logger = createLogger('silent');
    const shutdown = createShutdown(logger, { graceMs: 5_000, handleSignals: false });
    fixture.onCleanup(() => shutdown.close());
    startWorkers({ config, logger, providers: createProviders(config), shutdown }, await openQueues(config, await connectRedis(config, shutdown, logger), shutdown, logger));
    for (let i = 0; i < 100 && !sim.deleted.some((d) => d.id === REFUSED); i++) await sleep(100);
    expect(sim.deleted.filter((d) => d.id === REFUSED)).toHaveLength(1);

    const status = JSON.parse((await runCli(['status', '--json'], withoutCredentials(env))).stdout) as StatusReport;
    expect(status.providers[0]?.counts).toMatchObject({ failed: 0, completed: 2 });
  }, 60_000);

  it('retry-failed leaves a failed job alone when a later run has queued its task again', async () => {
    const sim = await fixture.start();
    seed(sim, 1);
    const env = simulatorEnv(sim, ['iotda'], fixture.prefix(), { IOTDA_TASK_TYPES: 'createDevices' });
    expect((await runJanitor(env)).exitCode).toBe(1);
    const produced = await runJanitor(env, { mode: 'produce' });
    expect(produced.stats[0]?.enqueued).toBe(1);

    const retried = await runCli(['retry-failed', '--json'], withoutCredentials(env));
    expect(retried.code).toBe(0);
    const report = JSON.parse(retried.stdout) as { providers: { retriedJobs: number; skipped: { reason: string }[] }[] };
    expect(report.providers[0]?.retriedJobs).toBe(0);
    expect(report.providers[0]?.skipped).toEqual([{ jobId: expect.any(String), reason: expect.stringMatching(new RegExp(`^task ${REFUSED} is queued again by job iotda-`)) }]);
  }, 60_000);

  it('refuses a provider that is not configured, with usage and exit 2', async () => {
    const sim = await fixture.start();
    const result = await runCli(['retry-failed', 'imm'], simulatorEnv(sim, ['iotda'], fixture.prefix()));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('provider "imm" is not in JANITOR_PROVIDERS (iotda)');
  });
});
