import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { secretReader } from '../../src/providers/credentials.js';
import { createProviders } from '../../src/providers/registry.js';
import { iotdaTime } from '../../src/simulator/iotda.js';
import { DEFAULT_SIM_PROJECTS, SIMULATOR_CREDENTIALS } from '../../src/simulator/server.js';
import { runJanitor, simulatorEnv, useSimulators } from '../helpers/janitor.js';

const PROJECT = DEFAULT_SIM_PROJECTS.iotda[0] as string;
const fixture = useSimulators('creds');

async function drain(iterable: AsyncIterable<readonly unknown[]>): Promise<number> {
  let n = 0;
  for await (const page of iterable) n += page.length;
  return n;
}

describe('credentials', () => {
  it('re-reads a mounted secret file when it changes, without a restart', () => {
    const dir = mkdtempSync(join(tmpdir(), 'jt-cred-'));
    const file = join(dir, 'sk');
    writeFileSync(file, 'first\n');
    const read = secretReader({ name: 'HUAWEICLOUD_SDK_SK', kind: 'file', path: file });
    expect(read()).toBe('first');
    writeFileSync(file, 'second-and-longer\n');
    utimesSync(file, new Date(), new Date(Date.now() + 5_000));
    expect(read()).toBe('second-and-longer');
  });

  it('names the variable but never the value when a secret file disappears', () => {
    const read = secretReader({ name: 'HUAWEICLOUD_SDK_SK', kind: 'file', path: '/nonexistent/sk' });
    expect(() => read()).toThrow('cannot read HUAWEICLOUD_SDK_SK_FILE at /nonexistent/sk: ENOENT');
  });

  it('signs with a rotated secret file on the next request', async () => {
    const sim = await fixture.start();
    sim.put('iotda', PROJECT, { task_id: 'a'.repeat(24), task_type: 'createDevices', status: 'Success', create_time: iotdaTime(new Date(0)) });
    const dir = mkdtempSync(join(tmpdir(), 'jt-cred-'));
    const file = join(dir, 'sk');
    writeFileSync(file, 'stale-secret');
    const env = simulatorEnv(sim, ['iotda'], fixture.prefix(), { HUAWEICLOUD_SDK_SK: '', HUAWEICLOUD_SDK_SK_FILE: file, IOTDA_TASK_TYPES: 'createDevices' });
    const provider = createProviders(loadConfig(env)).get('iotda');
    await expect(drain(provider!.listTasks(PROJECT))).rejects.toThrow('APIGW.0301');
    writeFileSync(file, SIMULATOR_CREDENTIALS.huawei.secretKey);
    utimesSync(file, new Date(), new Date(Date.now() + 5_000));
    expect(await drain(provider!.listTasks(PROJECT))).toBe(1);
  });

  it('is refused by the provider when its clock is more than 15 minutes off (signed X-Sdk-Date)', async () => {
    const sim = await fixture.start();
    sim.put('iotda', PROJECT, { task_id: 'b'.repeat(24), task_type: 'createDevices', status: 'Success', create_time: iotdaTime(new Date(0)) });
    const config = loadConfig(simulatorEnv(sim, ['iotda'], fixture.prefix(), { IOTDA_TASK_TYPES: 'createDevices', IOTDA_SIGNING: 'standard' }));
    const skewed = createProviders(config, () => new Date(Date.now() + 16 * 60_000)).get('iotda');
    await expect(drain(skewed!.listTasks(PROJECT))).rejects.toThrow('APIGW.0301');
    const inTime = createProviders(config, () => new Date(Date.now() + 14 * 60_000)).get('iotda');
    expect(await drain(inTime!.listTasks(PROJECT))).toBe(1);
  });

  it('authenticates with an IAM token as X-Auth-Token, and a wrong token fails listing', async () => {
    const sim = await fixture.start({ tasksPerProject: 50 });
    const tokenEnv = { HUAWEICLOUD_SDK_AK: '', HUAWEICLOUD_SDK_SK: '', HUAWEICLOUD_AUTH_TOKEN: SIMULATOR_CREDENTIALS.huawei.token };
    const ok = await runJanitor(simulatorEnv(sim, ['iotda'], fixture.prefix(), tokenEnv));
    expect(ok.exitCode).toBe(0);
    expect(ok.stats[0]?.deleted).toBeGreaterThan(0);
    const bad = await runJanitor(simulatorEnv(sim, ['iotda'], fixture.prefix(), { ...tokenEnv, HUAWEICLOUD_AUTH_TOKEN: 'expired-token' }));
    expect(bad.exitCode).toBe(3);
    expect(bad.stats[0]?.listError).toContain('APIGW.0301');
    expect(bad.stats[0]?.listError).not.toContain('expired-token');
  });

  it('keeps the official cloud SDKs out of the runtime dependencies', () => {
    const tree = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: new URL('../..', import.meta.url), encoding: 'utf8' });
    expect(tree).not.toMatch(/@huaweicloud|@alicloud/);
    expect(tree).toMatch(/bullmq/);
  });
});
