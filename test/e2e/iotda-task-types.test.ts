// IoTDA lists each task_type on its own: a type the endpoint refuses is a warning, not a failure,
// unless every type is refused (issue 11, item 11).
import { describe, expect, it } from 'vitest';
import { huaweiError } from '../../src/simulator/api.js';
import { iotdaTime } from '../../src/simulator/iotda.js';
import { DEFAULT_SIM_PROJECTS, type Simulator } from '../../src/simulator/server.js';
import { runCli } from '../helpers/cli.js';
import { simulatorEnv, useSimulators } from '../helpers/janitor.js';

const DAY = 86_400_000;
const PROJECT = DEFAULT_SIM_PROJECTS.iotda[0] as string;
const fixture = useSimulators('iotda-task-types');

function putTask(sim: Simulator, n: number, taskType: string): string {
  const id = n.toString(16).padStart(24, '0');
  sim.put('iotda', PROJECT, { task_id: id, task_name: `t${n}`, task_type: taskType, status: 'Success', create_time: iotdaTime(new Date(Date.now() - 30 * DAY)) });
  return id;
}

describe('IoTDA task types', () => {
  it('lists every other type when the endpoint refuses one, and reports the refusal as a warning', async () => {
    const sim = await fixture.start({ iotdaRefusedTaskTypes: ['changeGateway'] });
    const ids = [putTask(sim, 1, 'createDevices'), putTask(sim, 2, 'deleteDevices')];
    const env = simulatorEnv(sim, ['iotda'], fixture.prefix(), { IOTDA_TASK_TYPES: 'createDevices,changeGateway,deleteDevices', IOTDA_LIST_CONCURRENCY: '1', LOG_LEVEL: 'warn' });
    const result = await runCli(['run'], env);
    expect(sim.deleted.map((d) => d.id).sort()).toEqual(ids);
    expect(result.stdout).toMatch(/\n\s+WARNING: task_type changeGateway refused by the list API \(IOTDA\.000006: .*changeGateway.*\); its tasks were not listed/);
    expect(result.stdout).not.toContain('LIST FAILED');
    expect(result.stderr).toMatch(/"level":40.*"taskType":"changeGateway".*"msg":"task type refused by the list API"/);
    expect(result.code).toBe(0);
  });

  it('fails the target with the first refusal when every type is refused', async () => {
    const sim = await fixture.start({ iotdaRefusedTaskTypes: ['changeGateway', 'moduleUpgrade'] });
    const env = simulatorEnv(sim, ['iotda'], fixture.prefix(), { IOTDA_TASK_TYPES: 'changeGateway,moduleUpgrade', IOTDA_LIST_CONCURRENCY: '1', JANITOR_DRY_RUN: 'true' });
    const result = await runCli(['run'], env);
    expect(result.stdout).toMatch(/LIST FAILED: IOTDA\.000006: .*changeGateway/);
    expect(result.code).toBe(3);
  });

  it('fails the target on an API gateway 400 (APIGW.*) on a type\'s first page: the request was refused, not the type', async () => {
    const sim = await fixture.start();
    putTask(sim, 1, 'createDevices');
    sim.inject({ provider: 'iotda', op: 'list', times: 1, response: huaweiError(400, 'APIGW.0201', 'Request is not valid.') });
    const env = simulatorEnv(sim, ['iotda'], fixture.prefix(), { IOTDA_TASK_TYPES: 'createDevices,deleteDevices', IOTDA_LIST_CONCURRENCY: '1', JANITOR_DRY_RUN: 'true' });
    const result = await runCli(['run'], env);
    expect(result.stdout).toMatch(/LIST FAILED: APIGW\.0201/);
    expect(result.stdout).not.toContain('WARNING: task_type');
    expect(result.code).toBe(3);
  });

  it('walks by default every task type the API reference names, the four the SDK enum lacks included', async () => {
    const sim = await fixture.start();
    const result = await runCli(['config'], simulatorEnv(sim, ['iotda'], fixture.prefix(), { JANITOR_DRY_RUN: 'true' }));
    const config = JSON.parse(result.stdout) as { providers: { iotda?: { taskTypes: string[] } }[] };
    expect(config.providers[0]?.iotda?.taskTypes).toEqual([
      'softwareUpgrade', 'firmwareUpgrade', 'moduleUpgrade', 'createDevices', 'deleteDevices', 'freezeDevices', 'unfreezeDevices',
      'createCommands', 'createAsyncCommands', 'createMessages', 'updateDeviceShadows', 'updateDevices', 'changeGateway',
    ]);
  });

  it('lists all thirteen types side by side (IOTDA_LIST_CONCURRENCY=13) without a listener-leak warning on stderr', async () => {
    const sim = await fixture.start({ latencyMs: 50 });
    const ids = ['moduleUpgrade', 'createMessages', 'updateDevices', 'changeGateway', 'createDevices'].map((type, n) => putTask(sim, n + 1, type));
    const result = await runCli(['run'], simulatorEnv(sim, ['iotda'], fixture.prefix(), { IOTDA_LIST_CONCURRENCY: '13', IOTDA_READ_RATE_LIMIT: '1000/s', LOG_LEVEL: 'warn' }));
    expect(result.code).toBe(0);
    expect(sim.deleted.map((d) => d.id).sort()).toEqual([...ids].sort());
    expect(result.stderr).not.toContain('MaxListenersExceededWarning');
  });

  it('deletes by default the stale tasks of the types only the API reference names (moduleUpgrade, createMessages, updateDevices, changeGateway)', async () => {
    const sim = await fixture.start();
    const ids = ['moduleUpgrade', 'createMessages', 'updateDevices', 'changeGateway', 'createDevices'].map((type, n) => putTask(sim, n + 1, type));
    const env = simulatorEnv(sim, ['iotda'], fixture.prefix(), { LOG_LEVEL: 'warn' });
    const result = await runCli(['run'], env);
    expect(result.code).toBe(0);
    expect(sim.deleted.map((d) => d.id).sort()).toEqual([...ids].sort());
    expect(result.stdout).not.toContain('WARNING');
  });
});
