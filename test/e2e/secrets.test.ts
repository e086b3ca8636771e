// No secret anywhere: the Redis password and provider access keys never reach stderr, stdout, logs,
// Redis job data, failed reasons or the audit file (issue 11, item 12).
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { huaweiError } from '../../src/simulator/api.js';
import { iotdaTime } from '../../src/simulator/iotda.js';
import { DEFAULT_SIM_PROJECTS, SIMULATOR_CREDENTIALS } from '../../src/simulator/server.js';
import { freePort, runCli } from '../helpers/cli.js';
import { simulatorEnv, useSimulators } from '../helpers/janitor.js';
import { redisTextUnder } from '../helpers/redis.js';

const DAY = 86_400_000;
const PROJECT = DEFAULT_SIM_PROJECTS.iotda[0] as string;
const PASSWORD = 's3cretRedisPw';
const fixture = useSimulators('secrets');

describe('the Redis password never reaches the output', () => {
  it.each([
    ['a port of 0', `redis://:${PASSWORD}@127.0.0.1:0`],
    ['a ?password= query and a bad database', `redis://127.0.0.1:6379/?password=${PASSWORD}&db=x`],
    ['a missing slash', `redis:/:${PASSWORD}@127.0.0.1:6379`],
    ['no scheme at all', `${PASSWORD}@127.0.0.1:6379`],
    ['a sentinel URL with a bad host', `redis+sentinel://:${PASSWORD}@bad_host:26379/mymaster`],
    ['a sentinel URL with an encoded password and a bad database', `redis+sentinel://user:${PASSWORD}%40x@s1:26379/mymaster/x`],
    ['a password containing a slash', `redis://:${PASSWORD}/x@127.0.0.1:0`],
  ])('in a REDIS_URL that fails validation (%s)', async (_, url) => {
    const sim = await fixture.start();
    const result = await runCli(['run'], simulatorEnv(sim, ['iotda'], fixture.prefix(), { REDIS_URL: `${url}\n` }));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('REDIS_URL');
    expect(result.stdout + result.stderr).not.toContain(PASSWORD);
  });

  it.each([
    ['a ?password= query', async () => `redis://127.0.0.1:${await freePort()}/?password=${PASSWORD}`],
    ['a sentinel URL', async () => `redis+sentinel://:${PASSWORD}@127.0.0.1:${await freePort()}/mymaster`],
  ])('in a REDIS_URL that is unreachable (%s)', async (_, url) => {
    const sim = await fixture.start();
    const result = await runCli(['run'], simulatorEnv(sim, ['iotda'], fixture.prefix(), { REDIS_URL: await url(), LOG_LEVEL: 'debug' }));
    expect(result.code).toBe(3);
    expect(result.stdout + result.stderr).not.toContain(PASSWORD);
  });

  it('in the config command and the run log of a URL with a ?password= query', async () => {
    const sim = await fixture.start();
    const env = simulatorEnv(sim, ['iotda'], fixture.prefix(), { REDIS_URL: `redis://127.0.0.1:6379/?password=${PASSWORD}`, LOG_LEVEL: 'debug', JANITOR_DRY_RUN: 'true' });
    const config = await runCli(['config'], env);
    expect(config.code).toBe(0);
    const run = await runCli(['run'], env);
    expect(run.code).toBe(0);
    expect(config.stdout + config.stderr + run.stdout + run.stderr).not.toContain(PASSWORD);
  });
});

describe('access keys in provider messages are redacted', () => {
  it('in logs, the summary, Redis job data and failed reasons, and the audit file', async () => {
    const sim = await fixture.start();
    const { accessKey, secretKey } = SIMULATOR_CREDENTIALS.huawei;
    const id = '0'.repeat(23) + '7';
    sim.put('iotda', PROJECT, { task_id: id, task_name: 't', task_type: 'createDevices', status: 'Success', create_time: iotdaTime(new Date(Date.now() - 30 * DAY)) });
    // APIG's answer to an unknown access key names the key (devg-apisign/api-sign-0001.html).
    sim.inject({ provider: 'iotda', op: 'delete', taskId: id, times: 5, response: huaweiError(401, 'APIGW.0301', `Incorrect IAM authentication information: Get secretKey failed,ak:${accessKey},err:ak not exist`) });
    const audit = join(mkdtempSync(join(tmpdir(), 'janitor-secrets-')), 'audit.jsonl');
    const prefix = fixture.prefix();
    const result = await runCli(['run'], simulatorEnv(sim, ['iotda'], prefix, { IOTDA_TASK_TYPES: 'createDevices', LOG_LEVEL: 'debug', JANITOR_AUDIT_FILE: audit, IOTDA_ATTEMPTS: '1' }));
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('APIGW.0301');
    const redis = await redisTextUnder(prefix);
    expect(redis).toContain('APIGW.0301');
    const everything = [result.stdout, result.stderr, redis, readFileSync(audit, 'utf8')].join('\n');
    expect(everything).toContain('ak:');
    expect(everything).not.toContain(accessKey);
    expect(everything).not.toContain(secretKey);
  });

  it('in a listing refused for an unknown access key', async () => {
    const sim = await fixture.start();
    const unknownKey = 'UNKNOWNHUAWEIAK12345';
    const result = await runCli(['run'], simulatorEnv(sim, ['iotda'], fixture.prefix(), { HUAWEICLOUD_SDK_AK: unknownKey, JANITOR_DRY_RUN: 'true', LOG_LEVEL: 'debug' }));
    expect(result.code).toBe(3);
    expect(result.stdout).toContain('LIST FAILED: APIGW.0301');
    expect(result.stdout + result.stderr).not.toContain(unknownKey);
  });
});
