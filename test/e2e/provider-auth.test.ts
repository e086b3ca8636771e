// Per-provider credential choice (P_AUTH): VIAS with its documented IAM token beside AK/SK-signed
// Huawei providers in one run, and every contradictory combination refused (issue 11, item 13).
import { describe, expect, it } from 'vitest';
import { iotdaTime } from '../../src/simulator/iotda.js';
import { DEFAULT_SIM_PROJECTS, SIMULATOR_CREDENTIALS, type Simulator } from '../../src/simulator/server.js';
import { runCli } from '../helpers/cli.js';
import { simulatorEnv, useSimulators } from '../helpers/janitor.js';

const DAY = 86_400_000;
const fixture = useSimulators('provider-auth');
const TOKEN = SIMULATOR_CREDENTIALS.huawei.token;

function putStaleTasks(sim: Simulator): string[] {
  const iotda = '0'.repeat(23) + '1';
  sim.put('iotda', DEFAULT_SIM_PROJECTS.iotda[0] as string, { task_id: iotda, task_name: 't', task_type: 'createDevices', status: 'Success', create_time: iotdaTime(new Date(Date.now() - 30 * DAY)) });
  const vias = 'vias-batch-1';
  sim.put('vias', DEFAULT_SIM_PROJECTS.vias[0] as string, { id: vias, batch_task_name: 'b1', created_at: Date.now() - 30 * DAY, batch_task_status_info: { succeeded: 3 } });
  return [iotda, vias];
}

describe('per-provider credentials (P_AUTH)', () => {
  it('sends VIAS an IAM token and signs IoTDA with AK/SK in the same run', async () => {
    const sim = await fixture.start();
    const ids = putStaleTasks(sim);
    const env = simulatorEnv(sim, ['iotda', 'vias'], fixture.prefix(), { IOTDA_TASK_TYPES: 'createDevices', VIAS_AUTH: 'token', HUAWEICLOUD_AUTH_TOKEN: TOKEN });
    const result = await runCli(['run'], env);
    expect(result.code).toBe(0);
    expect(sim.deleted.map((d) => d.id).sort()).toEqual(ids.sort());
    expect(new Set(sim.requests.filter((r) => r.provider === 'vias').map((r) => r.scheme))).toEqual(new Set(['token']));
    // The simulator's host is not a standard one: IoTDA signs it V11, as the SDK does (IOTDA_SIGNING=auto).
    expect(new Set(sim.requests.filter((r) => r.provider === 'iotda').map((r) => r.scheme))).toEqual(new Set(['V11-HMAC-SHA256']));
    expect(result.stdout + result.stderr).not.toContain(TOKEN);
  });

  it('sends VIAS the token by default when both the token and AK/SK are set, and still signs IoTDA', async () => {
    const sim = await fixture.start();
    const ids = putStaleTasks(sim);
    const { VIAS_AUTH: _chosen, ...env } = simulatorEnv(sim, ['iotda', 'vias'], fixture.prefix(), { IOTDA_TASK_TYPES: 'createDevices', HUAWEICLOUD_AUTH_TOKEN: TOKEN });
    expect(env.HUAWEICLOUD_SDK_AK).toBeTruthy();
    const result = await runCli(['run'], env);
    expect(result.code).toBe(0);
    expect(sim.deleted.map((d) => d.id).sort()).toEqual(ids.sort());
    expect(new Set(sim.requests.filter((r) => r.provider === 'vias').map((r) => r.scheme))).toEqual(new Set(['token']));
    expect(new Set(sim.requests.filter((r) => r.provider === 'iotda').map((r) => r.scheme))).toEqual(new Set(['V11-HMAC-SHA256']));
  });

  it('is refused by VIAS, which documents only X-Auth-Token, when it signs with AK/SK', async () => {
    const sim = await fixture.start();
    putStaleTasks(sim);
    const env = simulatorEnv(sim, ['vias'], fixture.prefix(), { VIAS_AUTH: 'aksk', JANITOR_DRY_RUN: 'true' });
    const result = await runCli(['run'], env);
    expect(result.stdout).toMatch(/LIST FAILED: APIGW\.0301: .*x-auth-token not found/);
    expect(result.code).toBe(3);
  });

  it.each([
    ['a token provider without a token', { VIAS_AUTH: 'token', HUAWEICLOUD_AUTH_TOKEN: '' }, 'VIAS_AUTH: is token, but HUAWEICLOUD_AUTH_TOKEN'],
    ['an AK/SK provider without AK/SK', { IOTDA_AUTH: 'aksk', HUAWEICLOUD_SDK_AK: '', HUAWEICLOUD_SDK_SK: '', HUAWEICLOUD_AUTH_TOKEN: TOKEN }, 'IOTDA_AUTH: is aksk, but HUAWEICLOUD_SDK_AK'],
    ['an unknown scheme', { IOTDA_AUTH: 'oauth' }, 'IOTDA_AUTH: got "oauth"; expected one of aksk, token'],
    ['IoTDA signing settings with a token', { IOTDA_AUTH: 'token', HUAWEICLOUD_AUTH_TOKEN: TOKEN, IOTDA_SIGNING: 'derived' }, 'IOTDA_SIGNING: is derived, but IoTDA sends an IAM token'],
  ])('exits 2 naming the variable for %s', async (_, extra, message) => {
    const sim = await fixture.start();
    const result = await runCli(['run'], simulatorEnv(sim, ['iotda', 'vias'], fixture.prefix(), { JANITOR_DRY_RUN: 'true', ...extra }));
    expect(result.stderr).toContain(message);
    expect(result.code).toBe(2);
    expect(sim.requests).toHaveLength(0);
  });

  it('needs no IOTDA_REGION for an instance endpoint when IoTDA sends a token (nothing is signed)', async () => {
    const sim = await fixture.start();
    putStaleTasks(sim);
    const env = simulatorEnv(sim, ['iotda'], fixture.prefix(), { IOTDA_REGION: '', IOTDA_AUTH: 'token', HUAWEICLOUD_AUTH_TOKEN: TOKEN, IOTDA_TASK_TYPES: 'createDevices', JANITOR_DRY_RUN: 'true' });
    const result = await runCli(['run'], env);
    expect(result.stderr).not.toContain('IOTDA_REGION');
    expect(result.code).toBe(0);
    expect(new Set(sim.requests.map((r) => r.scheme))).toEqual(new Set(['token']));
  });
});
