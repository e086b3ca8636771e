// P_RATE_LIMIT counts delete calls, not jobs, and one provider's throttling slows only that provider.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { limiterFor } from '../../src/limiter.js';
import { huaweiError } from '../../src/simulator/api.js';
import { iotdaTime } from '../../src/simulator/iotda.js';
import { DEFAULT_SIM_PROJECTS } from '../../src/simulator/server.js';
import { WKS_CODES, wksError, workspaceTime } from '../../src/simulator/workspace.js';
import { runJanitor, simulatorEnv, useSimulators } from '../helpers/janitor.js';

const DAY = 86_400_000;
const OLD = new Date(Date.now() - 30 * DAY);
const fixture = useSimulators('budget');

describe('delete call budget', () => {
  it('lowers and pauses only the throttled provider; the other keeps its configured rate', async () => {
    const s = await fixture.start();
    const put = (provider: 'iotda' | 'mpc', project: string, n: number) => {
      if (provider === 'iotda') {
        s.put('iotda', project, { task_id: `${n.toString(16).padStart(24, '0')}`, task_type: 'createDevices', status: 'Success', create_time: iotdaTime(OLD) });
      } else {
        s.put('mpc', project, { task_id: String(100_000 + n), status: 'SUCCEED', create_time: '20200101000000', end_time: '20200101000000' });
      }
    };
    const env = simulatorEnv(s, ['iotda', 'mpc'], fixture.prefix('budget-iso'), { IOTDA_TASK_TYPES: 'createDevices', IOTDA_RATE_LIMIT: '50/s', MPC_RATE_LIMIT: '50/s' });
    const config = loadConfig(env);
    const iotdaProject = config.providers.find((p) => p.name === 'iotda')?.targets[0] ?? '';
    const mpcProject = config.providers.find((p) => p.name === 'mpc')?.targets[0] ?? '';
    for (let n = 1; n <= 20; n++) { put('iotda', iotdaProject, n); put('mpc', mpcProject, n); }
    // IoTDA's own throttling code, with HTTP 403 as its tables list it, and a Retry-After.
    s.inject({ provider: 'iotda', op: 'delete', times: 2, response: { ...huaweiError(403, 'IOTDA.021101', 'Request reached the maximum rate limit.'), headers: { 'Retry-After': '1' } } });

    const report = await runJanitor(env);
    expect(report.exitCode).toBe(0);
    expect(s.deleted.filter((d) => d.provider === 'iotda')).toHaveLength(20);
    expect(s.deleted.filter((d) => d.provider === 'mpc')).toHaveLength(20);

    const limiter = limiterFor(config);
    const status = await limiter.readStatus();
    await limiter.close();
    const of = (provider: string, kind: string) => status.find((b) => b.provider === provider && b.kind === kind);
    expect(of('iotda', 'delete')?.effectivePerSecond).toBeLessThan(50);
    expect(of('mpc', 'delete')?.effectivePerSecond).toBe(50);
    expect(of('mpc', 'read')?.effectivePerSecond).toBe(1000);
    // The Retry-After of one second held every IoTDA delete: the throttled calls were re-sent after it.
    const iotdaTimes = s.counters.iotda.deleteTimes;
    expect(iotdaTimes.length).toBe(22);
  });
  it('IOTDA_RATE_LIMIT=none: no rate of its own and no slot per call, yet a throttled answer still pauses every delete for its Retry-After', async () => {
    const s = await fixture.start({ latencyMs: 30 });
    const prefix = fixture.prefix('budget-none');
    const env = simulatorEnv(s, ['iotda'], prefix, { IOTDA_TASK_TYPES: 'createDevices', IOTDA_RATE_LIMIT: 'none', IOTDA_READ_RATE_LIMIT: 'none', IOTDA_CONCURRENCY: '4' });
    const config = loadConfig(env);
    const project = config.providers[0]?.targets[0] ?? '';
    for (let n = 1; n <= 40; n++) s.put('iotda', project, { task_id: n.toString(16).padStart(24, '0'), task_type: 'createDevices', status: 'Success', create_time: iotdaTime(OLD) });
    s.inject({ provider: 'iotda', op: 'delete', times: 1, response: { ...huaweiError(429, 'APIGW.0308', 'The throttling threshold has been reached.'), headers: { 'Retry-After': '1' } } });

    const report = await runJanitor(env);
    expect(report.exitCode).toBe(0);
    expect(s.deleted).toHaveLength(40);
    const times = s.counters.iotda.deleteTimes;
    expect(times).toHaveLength(41);
    // The throttled call went first; the calls already in flight when its answer came (30 ms) still
    // land (200 ms of slack for a busy machine), and then nothing until its Retry-After has passed.
    const throttledAt = times[0] ?? 0;
    expect(times.filter((t) => t > throttledAt + 200 && t < throttledAt + 900)).toEqual([]);

    const limiter = limiterFor(config);
    const status = await limiter.readStatus();
    await limiter.close();
    expect(status.filter((b) => b.provider === 'iotda').map((b) => b.effectivePerSecond)).toEqual([Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY]);
  });

  it('counts each call of Workspace\'s per-id fallback against WORKSPACE_RATE_LIMIT, not the job once', async () => {
    const s = await fixture.start();
    const project = DEFAULT_SIM_PROJECTS.workspace[0] as string;
    for (let n = 0; n < 10; n++) {
      s.put('workspace', project, { id: `ff80800${n}`, job_id: `parent-${n}`, job_type: 'createDesktops', status: 'SUCCESS', begin_time: workspaceTime(OLD), end_time: workspaceTime(OLD) });
    }
    // The batch call is refused with a code that may concern one id: the provider retries id by id.
    s.inject({ provider: 'workspace', op: 'delete', times: 1, response: wksError(400, WKS_CODES.subJobNotDeletable, 'The sub job cannot be deleted.') });
    const report = await runJanitor(simulatorEnv(s, ['workspace'], fixture.prefix('budget-wks'), { WORKSPACE_RATE_LIMIT: '4/s', WORKSPACE_CONCURRENCY: '1' }));
    expect(report.exitCode).toBe(0);
    expect(s.deleted.filter((d) => d.provider === 'workspace')).toHaveLength(10);
    // One batch call and ten single-id calls, each taking a slot of 4/s: at least 10 slot intervals
    // between the first and the last (a lower bound, so a loaded machine cannot make it flaky).
    const times = s.counters.workspace.deleteTimes;
    expect(times).toHaveLength(11);
    expect((times.at(-1) ?? 0) - (times[0] ?? 0)).toBeGreaterThanOrEqual(10 * 250 * 0.95);
  });
});
