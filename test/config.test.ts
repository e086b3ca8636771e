import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { problemsOf } from './helpers/config.js';

const P1 = '0123456789abcdef0123456789abcdef';
const BASE = {
  JANITOR_PROVIDERS: 'iotda',
  IOTDA_REGION: 'cn-north-4',
  IOTDA_PROJECT_ID: P1,
  HUAWEICLOUD_AUTH_TOKEN: 'tok',
};

describe('loadConfig', () => {
  it('applies the documented defaults, dry run first', () => {
    const config = loadConfig(BASE);
    expect(config).toMatchObject({
      redis: { mode: 'single', url: 'redis://127.0.0.1:6379', tls: false }, dryRun: true, retentionMs: 7 * 86_400_000, queuePrefix: 'janitor',
      maxRuntimeMs: 50 * 60_000, logLevel: 'info',
    });
    const iotda = config.providers[0];
    expect(iotda).toMatchObject({
      name: 'iotda', endpoint: 'https://iotda.cn-north-4.myhuaweicloud.com', targets: [P1], retentionMs: 7 * 86_400_000,
      states: ['Success', 'Fail', 'PartialSuccess', 'Stopped'], rateLimit: { max: 10, durationMs: 1000 }, concurrency: 4, attempts: 5,
      readRateLimit: { max: 20, durationMs: 1000 },
    });
    expect(iotda?.iotda?.taskTypes).toHaveLength(13);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.providers[0]?.states)).toBe(true);
  });

  it('reads per-provider overrides and comma lists of projects', () => {
    const config = loadConfig({
      ...BASE, IOTDA_PROJECT_ID: '0123456789abcdef0123456789abcdef, fedcba9876543210fedcba9876543210', IOTDA_RETENTION: '36h', IOTDA_STATES: 'success,fail', IOTDA_RATE_LIMIT: '300/m', IOTDA_READ_RATE_LIMIT: '5/s',
      IOTDA_CONCURRENCY: '2', IOTDA_ATTEMPTS: '3', IOTDA_ENDPOINT: 'http://127.0.0.1:9999/', IOTDA_INSTANCE_ID: 'abc-123', IOTDA_TASK_TYPES: 'createDevices',
      JANITOR_DRY_RUN: 'false',
    });
    expect(config.dryRun).toBe(false);
    expect(config.providers[0]).toMatchObject({
      targets: ['0123456789abcdef0123456789abcdef', 'fedcba9876543210fedcba9876543210'], retentionMs: 36 * 3_600_000, states: ['Success', 'Fail'], rateLimit: { max: 300, durationMs: 60_000 },
      readRateLimit: { max: 5, durationMs: 1_000 }, concurrency: 2, attempts: 3, endpoint: 'http://127.0.0.1:9999', iotda: { instanceId: 'abc-123', taskTypes: ['createDevices'] },
    });
  });

  it('reports every bad variable at once, naming it, the value and what is allowed', () => {
    const problems = problemsOf({
      JANITOR_PROVIDERS: 'iotda,s3', JANITOR_RETENTION: '7 days', JANITOR_DRY_RUN: 'maybe', REDIS_URL: 'localhost:6379',
      JANITOR_QUEUE_PREFIX: 'a:b', LOG_LEVEL: 'loud', JANITOR_MAX_RUNTIME: '0m',
    });
    const text = problems.join('\n');
    for (const name of ['JANITOR_PROVIDERS', 'JANITOR_RETENTION', 'JANITOR_DRY_RUN', 'REDIS_URL', 'JANITOR_QUEUE_PREFIX', 'LOG_LEVEL', 'JANITOR_MAX_RUNTIME']) {
      expect(text).toContain(`${name}:`);
    }
    expect(text).toContain('"iotda,s3"');
    expect(text).toContain('unknown provider s3');
    expect(text).toContain('90m, 36h, 7d or 2w');
  });

  it('ages from the documented timestamp unless P_AGE_FROM=observed, and names a bad value', () => {
    expect(loadConfig(BASE).providers[0]?.ageFrom).toBe('documented');
    expect(loadConfig({ ...BASE, IOTDA_AGE_FROM: 'observed' }).providers[0]?.ageFrom).toBe('observed');
    expect(problemsOf({ ...BASE, IOTDA_AGE_FROM: 'end_time' })).toEqual(['IOTDA_AGE_FROM: got "end_time"; expected one of documented, observed']);
  });

  it('requires JANITOR_PROVIDERS', () => {
    expect(problemsOf({})).toEqual([expect.stringMatching(/^JANITOR_PROVIDERS: is required/)]);
  });

  it('refuses states the delete API does not accept, and unknown ones', () => {
    const problems = problemsOf({ ...BASE, IOTDA_STATES: 'Success,Processing,Bogus' });
    expect(problems).toEqual([expect.stringContaining('IOTDA_STATES: got "Success,Processing,Bogus"; not deletable by the iotda API: Processing, Bogus; allowed: Success, Fail, PartialSuccess, Stopped')]);
  });

  it('requires the project list, a region or endpoint, and credentials for each selected cloud', () => {
    const problems = problemsOf({ JANITOR_PROVIDERS: 'iotda,imm' });
    const text = problems.join('\n');
    expect(text).toContain('IOTDA_PROJECT_ID: is required');
    expect(text).toContain('IOTDA_REGION: is required when IOTDA_ENDPOINT is unset');
    expect(text).toContain('IMM_PROJECTS: is required');
    expect(text).toContain('HUAWEICLOUD_SDK_AK: Huawei Cloud credentials are required');
    expect(text).toContain('ALIBABA_CLOUD_ACCESS_KEY_ID: is required for provider imm');
    expect(text).toContain('ALIBABA_CLOUD_ACCESS_KEY_SECRET: is required for provider imm');
  });

  it('prefers AK/SK over an IAM token and asks for the missing half of a pair', () => {
    expect(loadConfig({ ...BASE, HUAWEICLOUD_SDK_AK: 'ak', HUAWEICLOUD_SDK_SK: 'sk' }).huaweiAuth?.kind).toBe('aksk');
    expect(problemsOf({ ...BASE, HUAWEICLOUD_SDK_AK: 'ak' })).toEqual([expect.stringContaining('HUAWEICLOUD_SDK_SK: is required with HUAWEICLOUD_SDK_AK')]);
  });

  it('names a likely misspelling beside the problems it may cause, not only once the configuration is valid', () => {
    let error: unknown;
    try {
      loadConfig({ JANITOR_PROVIDERS: 'iotda', IOTDA_REGION: 'cn-north-4', IOTDA_PROJECTID: P1, HUAWEICLOUD_AUTH_TOKEN: 'tok' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const { problems, hints, message } = error as ConfigError;
    expect(problems).toEqual([expect.stringMatching(/^IOTDA_PROJECT_ID: is required/)]);
    expect(hints).toEqual(['IOTDA_PROJECTID: is not a task-janitor variable and is ignored; did you mean IOTDA_PROJECT_ID?']);
    expect(message).toMatch(/invalid configuration:\n  - IOTDA_PROJECT_ID: is required.*\nperhaps because of:\n  - IOTDA_PROJECTID: is not a task-janitor variable and is ignored; did you mean IOTDA_PROJECT_ID\?$/s);
    const noProviders = (() => { try { loadConfig({ JANITOR_PROVIDER: 'iotda' }); } catch (err) { return err as ConfigError; } return undefined; })();
    expect(noProviders?.hints).toEqual(['JANITOR_PROVIDER: is not a task-janitor variable and is ignored; did you mean JANITOR_PROVIDERS?']);
  });

  it('says how to fix provider names run together and a cap out of range', () => {
    expect(problemsOf({ ...BASE, JANITOR_PROVIDERS: 'iotda mpc' })).toEqual([
      'JANITOR_PROVIDERS: got "iotda mpc"; unknown provider iotda mpc; allowed: imm, vias, iotda, mpc, workspace (separate them with commas)',
    ]);
    expect(problemsOf({ ...BASE, JANITOR_MAX_DELETES: '9999999999' })).toEqual([
      'JANITOR_MAX_DELETES: got "9999999999"; expected a number of deletions from 1 to 999999999 (e.g. 500) or a share of the listed tasks above 0% up to 100% (e.g. 20%)',
    ]);
  });

  it('warns when a protecting pattern is set but empty (a template that came out blank): it protects nothing', () => {
    const config = loadConfig({ ...BASE, IOTDA_EXCLUDE: '  ', IOTDA_INCLUDE: '' });
    expect(config.providers[0]?.exclude).toBeUndefined();
    expect(config.warnings).toEqual([
      'IOTDA_EXCLUDE: is set but empty, so it protects no task; unset it if that is meant',
      'IOTDA_INCLUDE: is set but empty, so it limits nothing (every task is in scope); unset it if that is meant',
    ]);
  });

  it('defaults the Pushgateway instance to the queue prefix in a form its own check accepts', () => {
    expect(loadConfig({ ...BASE, JANITOR_QUEUE_PREFIX: 'jp' }).operator.pushgatewayInstance).toBe('jp');
    // A hash-tagged prefix (Redis Cluster) keeps its name without the braces.
    expect(loadConfig({ ...BASE, JANITOR_QUEUE_PREFIX: '{jp}' }).operator.pushgatewayInstance).toBe('jp');
    expect(problemsOf({ ...BASE, JANITOR_PUSHGATEWAY_INSTANCE: '{jp}' })).toEqual([expect.stringMatching(/^JANITOR_PUSHGATEWAY_INSTANCE: got "\{jp\}"/)]);
  });

  it('never echoes a secret in any part of a problem: addresses, target endpoints, a webhook\'s path', () => {
    const problems = problemsOf({
      ...BASE, REDIS_CLUSTER_NODES: 'redis://:s3cretPW@10.0.0.5:6379', JANITOR_NOTIFY_WEBHOOK: 'hooks.slack.com/services/T000/B000/XXXXs3cretXXXX',
      JANITOR_PUSHGATEWAY_URL: 'ftp://gateway.local/metrics/job/s3cretPATH',
    });
    const text = problems.join('\n');
    expect(problems).toHaveLength(3);
    expect(text).toContain('REDIS_CLUSTER_NODES');
    expect(text).toContain('JANITOR_NOTIFY_WEBHOOK: got "hooks.slack.com/***"; expected an absolute http(s) URL');
    expect(text).toContain('JANITOR_PUSHGATEWAY_URL: got "ftp://gateway.local/***"');
    for (const secret of ['s3cretPW', 'XXXXs3cretXXXX', 'T000', 's3cretPATH']) expect(text).not.toContain(secret);
    const sentinels = problemsOf({ ...BASE, REDIS_SENTINELS: 'redis://:s3cretPW@10.0.0.5:26379' }).join('\n');
    expect(sentinels).toContain('REDIS_SENTINELS');
    expect(sentinels).not.toContain('s3cretPW');
    const targets = problemsOf({ ...BASE, IOTDA_PROJECT_ID: '', IOTDA_REGION: '', IOTDA_TARGETS: 'cn-north-4:1b2c3d4e5f60718293a4b5c6d7e8f90a;endpoint=https://proxyuser:s3cretPW@proxy.local;bogus=1' }).join('\n');
    expect(targets).toContain('unknown attribute "bogus"');
    expect(targets).not.toContain('s3cretPW');
  });

  it('refuses a secret file that holds nothing (an empty Secret key), naming the variable', () => {
    const dir = mkdtempSync(join(tmpdir(), 'jt-secret-'));
    const empty = join(dir, 'ak');
    writeFileSync(empty, ' \n');
    const sk = join(dir, 'sk');
    writeFileSync(sk, 'very-secret\n');
    const env = { JANITOR_PROVIDERS: 'iotda', IOTDA_REGION: 'cn-north-4', IOTDA_PROJECT_ID: P1, HUAWEICLOUD_SDK_AK_FILE: empty, HUAWEICLOUD_SDK_SK_FILE: sk };
    expect(problemsOf(env)).toEqual([`HUAWEICLOUD_SDK_AK_FILE: ${JSON.stringify(empty)} is empty; expected a path to a readable secret file that holds the value`]);
    expect(loadConfig({ ...env, HUAWEICLOUD_SDK_AK_FILE: sk }).huaweiAuth).toMatchObject({ kind: 'aksk' });
  });

  it('reads secrets from *_FILE paths, refuses unreadable ones and both forms at once, never echoing a secret', () => {
    const dir = mkdtempSync(join(tmpdir(), 'jt-secret-'));
    const skFile = join(dir, 'sk');
    writeFileSync(skFile, 'very-secret\n');
    const config = loadConfig({ ...BASE, HUAWEICLOUD_AUTH_TOKEN: '', HUAWEICLOUD_SDK_AK: 'ak', HUAWEICLOUD_SDK_SK_FILE: skFile });
    expect(config.huaweiAuth).toMatchObject({ kind: 'aksk', secretKey: { kind: 'file', path: skFile } });
    const problems = problemsOf({ ...BASE, HUAWEICLOUD_AUTH_TOKEN: '', HUAWEICLOUD_SDK_AK: 'ak', HUAWEICLOUD_SDK_SK: 'very-secret', HUAWEICLOUD_SDK_SK_FILE: skFile, HUAWEICLOUD_AUTH_TOKEN_FILE: join(dir, 'missing') });
    const text = problems.join('\n');
    expect(text).toContain('HUAWEICLOUD_SDK_SK: set both HUAWEICLOUD_SDK_SK and HUAWEICLOUD_SDK_SK_FILE');
    expect(text).toContain('HUAWEICLOUD_AUTH_TOKEN_FILE: cannot read');
    expect(text).not.toContain('very-secret');
  });

  it('validates the cron schedule and refuses derived IoTDA signing without a region', () => {
    const problems = problemsOf({ ...BASE, JANITOR_SCHEDULE: 'every day', IOTDA_REGION: '', IOTDA_ENDPOINT: 'https://x.example.com', IOTDA_SIGNING: 'derived', HUAWEICLOUD_SDK_AK: 'ak', HUAWEICLOUD_SDK_SK: 'sk' });
    expect(problems.join('\n')).toContain('JANITOR_SCHEDULE: got "every day"');
    expect(problems.join('\n')).toContain('IOTDA_REGION: is required when IOTDA_SIGNING=derived');
    // With only the IAM token nothing is signed: the signing setting itself is the contradiction.
    expect(problemsOf({ ...BASE, IOTDA_SIGNING: 'derived' })).toEqual([expect.stringMatching(/^IOTDA_SIGNING: is derived, but IoTDA sends an IAM token \(only HUAWEICLOUD_AUTH_TOKEN/)]);
    expect(loadConfig({ ...BASE, JANITOR_SCHEDULE: '0 3 * * *' }).schedule).toBe('0 3 * * *');
  });

  it('bounds the snapshot age of tasks without a re-read, 15m by default, from 1s to 24h', () => {
    expect(loadConfig(BASE).maxSnapshotAgeMs).toBe(15 * 60_000);
    expect(loadConfig({ ...BASE, JANITOR_MAX_SNAPSHOT_AGE: '90s' }).maxSnapshotAgeMs).toBe(90_000);
    expect(problemsOf({ ...BASE, JANITOR_MAX_SNAPSHOT_AGE: '2d' })).toEqual([
      'JANITOR_MAX_SNAPSHOT_AGE: got "2d"; expected from 1s to 24h: how old a listing may be when a task without a re-read is deleted',
    ]);
  });

  it('keeps MPC cn-north-1 on the legacy mts host', () => {
    const config = loadConfig({ JANITOR_PROVIDERS: 'mpc', MPC_REGION: 'cn-north-1', MPC_PROJECT_ID: P1, HUAWEICLOUD_AUTH_TOKEN: 't' });
    expect(config.providers[0]?.endpoint).toBe('https://mts.cn-north-1.myhuaweicloud.com');
  });
});

describe('safety valves', () => {
  it('reads patterns, keep-latest, caps and the clock bound, with their defaults', () => {
    const config = loadConfig({ ...BASE, IOTDA_EXCLUDE: '^prod-', IOTDA_INCLUDE: '(scratch|tmp)', IOTDA_KEEP_LATEST: '5', IOTDA_MAX_DELETES: '20%', JANITOR_MAX_DELETES: '500' });
    expect(config.providers[0]).toMatchObject({ exclude: '^prod-', include: '(scratch|tmp)', keepLatest: 5, maxDeletes: { kind: 'share', percent: 20, variable: 'IOTDA_MAX_DELETES' } });
    expect(config).toMatchObject({ maxDeletes: { kind: 'count', count: 500 }, maxDeletesMode: 'refuse', maxClockSkewMs: 300_000 });
    expect(loadConfig(BASE).providers[0]).toMatchObject({ keepLatest: 0, maxDeletes: undefined, exclude: undefined });
  });

  it('refuses a bad regular expression, cap, mode or keep-latest, naming each', () => {
    const problems = problemsOf({ ...BASE, IOTDA_EXCLUDE: '(unclosed', IOTDA_MAX_DELETES: '0', JANITOR_MAX_DELETES: '120%', JANITOR_MAX_DELETES_MODE: 'oldest', IOTDA_KEEP_LATEST: '-1', JANITOR_MAX_CLOCK_SKEW: 'soon' });
    expect(problems).toEqual(expect.arrayContaining([
      expect.stringMatching(/^IOTDA_EXCLUDE: got "\(unclosed"; not a valid regular expression \(.*Unterminated group\); expected a JavaScript regular expression/),
      expect.stringMatching(/^IOTDA_MAX_DELETES: got "0"; expected a number of deletions from 1 to 999999999 \(e.g. 500\) or a share/),
      expect.stringMatching(/^JANITOR_MAX_DELETES: got "120%"/),
      expect.stringMatching(/^JANITOR_MAX_DELETES_MODE: got "oldest"; expected one of refuse, truncate/),
      expect.stringMatching(/^IOTDA_KEEP_LATEST: got "-1"/),
      expect.stringMatching(/^JANITOR_MAX_CLOCK_SKEW: got "soon"/),
    ]));
    expect(problems).toHaveLength(6);
  });
});

describe('REDIS_URL_FILE', () => {
  const dir = mkdtempSync(join(tmpdir(), 'janitor-redis-url-'));
  const fileWith = (name: string, content: string) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };

  it('reads the Redis URL from a mounted file, trimming its trailing newline', () => {
    const path = fileWith('url', 'redis://:s3cret-pw@redis.janitor.svc:6379/0\n');
    const config = loadConfig({ ...BASE, REDIS_URL_FILE: path });
    expect(config.redis).toEqual({ mode: 'single', url: 'redis://:s3cret-pw@redis.janitor.svc:6379/0', tls: false });
    expect(config.warnings).toEqual([]);
  });

  it('refuses a file that holds no Redis URL without printing its content', () => {
    const path = fileWith('bad', 'hunter2-password-only\n');
    const text = problemsOf({ ...BASE, REDIS_URL_FILE: path }).join('\n');
    expect(text).toContain('REDIS_URL_FILE:');
    expect(text).toContain('content not shown');
    expect(text).not.toContain('hunter2');
  });

  it('refuses an unreadable path and both REDIS_URL and REDIS_URL_FILE at once', () => {
    expect(problemsOf({ ...BASE, REDIS_URL_FILE: join(dir, 'missing') })).toEqual([expect.stringMatching(/^REDIS_URL_FILE: cannot read .*missing.*ENOENT/)]);
    const path = fileWith('both', 'redis://:pw@h:6379');
    expect(problemsOf({ ...BASE, REDIS_URL_FILE: path, REDIS_URL: 'redis://h:6379' })).toEqual([expect.stringMatching(/^REDIS_URL: set both/)]);
  });
});

describe('JANITOR_ACTIVE_DEADLINE_SECONDS', () => {
  it('derives the runtime from the Job deadline minus the start allowance and the shutdown grace', () => {
    const config = loadConfig({ ...BASE, JANITOR_ACTIVE_DEADLINE_SECONDS: '7200', JANITOR_SHUTDOWN_GRACE: '30s' });
    expect(config.activeDeadlineMs).toBe(7_200_000);
    expect(config.maxRuntimeMs).toBe(7_200_000 - 60_000 - 30_000);
  });

  it('keeps an explicit runtime that fits inside the deadline', () => {
    expect(loadConfig({ ...BASE, JANITOR_ACTIVE_DEADLINE_SECONDS: '3600', JANITOR_MAX_RUNTIME: '50m' }).maxRuntimeMs).toBe(50 * 60_000);
  });

  it('refuses a runtime Kubernetes would cut short, naming both variables and the largest that fits', () => {
    const problems = problemsOf({ ...BASE, JANITOR_ACTIVE_DEADLINE_SECONDS: '3300', JANITOR_MAX_RUNTIME: '2h', JANITOR_SHUTDOWN_GRACE: '30s' });
    expect(problems).toEqual([expect.stringMatching(/^JANITOR_MAX_RUNTIME: got 7200s; with JANITOR_ACTIVE_DEADLINE_SECONDS=3300 .* at most 3210s/)]);
  });

  it('refuses a deadline too short for any run, and one that is not whole seconds', () => {
    expect(problemsOf({ ...BASE, JANITOR_ACTIVE_DEADLINE_SECONDS: '100' })).toEqual([expect.stringMatching(/^JANITOR_ACTIVE_DEADLINE_SECONDS: got 100; leaves 10s of runtime .* expected at least 150/)]);
    expect(problemsOf({ ...BASE, JANITOR_ACTIVE_DEADLINE_SECONDS: '1h' })).toEqual([expect.stringMatching(/^JANITOR_ACTIVE_DEADLINE_SECONDS: got "1h"; expected a whole number/)]);
  });

  it('keeps the 50m default runtime when no deadline is given', () => {
    expect(loadConfig(BASE).maxRuntimeMs).toBe(50 * 60_000);
  });
});

describe('loadConfig: mistakes an operator makes', () => {
  it('warns about a misspelled variable with the name it most likely meant', () => {
    const config = loadConfig({ ...BASE, JANITOR_RETENTON: '30d', IOTDA_STATE: 'Success', IOTDA_RATELIMIT: '5/s' });
    expect(config.warnings).toEqual([
      'IOTDA_RATELIMIT: is not a task-janitor variable and is ignored; did you mean IOTDA_RATE_LIMIT?',
      'IOTDA_STATE: is not a task-janitor variable and is ignored; did you mean IOTDA_STATES?',
      'JANITOR_RETENTON: is not a task-janitor variable and is ignored; did you mean JANITOR_RETENTION?',
    ]);
    // The misspelled value had no effect: the default retention stands.
    expect(config.retentionMs).toBe(7 * 86_400_000);
  });

  it("says that an unselected provider's or cloud's variables are ignored", () => {
    const config = loadConfig({ ...BASE, VIAS_PROJECT_ID: P1, ALIBABA_CLOUD_ACCESS_KEY_ID: 'id' });
    expect(config.warnings).toEqual([
      'ALIBABA_CLOUD_ACCESS_KEY_ID: is set but ignored; it applies only when JANITOR_PROVIDERS names imm',
      'VIAS_PROJECT_ID: is set but ignored; it applies only when JANITOR_PROVIDERS names vias',
    ]);
  });

  it('does not mistake Kubernetes service-link variables or known *_FILE forms for typos', () => {
    const config = loadConfig({
      ...BASE, HUAWEICLOUD_AUTH_TOKEN: '', HUAWEICLOUD_AUTH_TOKEN_FILE: '/etc/hostname',
      REDIS_PORT: 'tcp://10.0.0.5:6379', REDIS_SERVICE_HOST: '10.0.0.5', REDIS_PORT_6379_TCP_ADDR: '10.0.0.5', JANITOR_METRICS_SERVICE_PORT: '9464',
    }, () => true);
    expect(config.warnings).toEqual([]);
  });

  it('still names a misspelled *_PORT variable whose value is a port, not a service link', () => {
    const config = loadConfig({ ...BASE, JANITOR_METRIC_PORT: '9464', REDIS_PORT: 'tcp://10.0.0.5:6379' }, () => true);
    expect(config.warnings).toEqual(['JANITOR_METRIC_PORT: is not a task-janitor variable and is ignored; did you mean JANITOR_METRICS_PORT?']);
  });

  it('refuses placeholder and malformed Huawei project ids and IMM project names', () => {
    const problems = problemsOf({
      ...BASE, JANITOR_PROVIDERS: 'iotda,imm', IOTDA_PROJECT_ID: 'replace-with-your-project-id', IMM_REGION: 'cn-hangzhou',
      IMM_PROJECTS: 'your-imm-project', ALIBABA_CLOUD_ACCESS_KEY_ID: 'id', ALIBABA_CLOUD_ACCESS_KEY_SECRET: 'secret',
    });
    expect(problems).toEqual([
      expect.stringMatching(/^IOTDA_PROJECT_ID: got "replace-with-your-project-id"; not a Huawei Cloud project id: .*32 hexadecimal characters/),
      expect.stringMatching(/^IMM_PROJECTS: got "your-imm-project"; invalid or placeholder IMM project name/),
    ]);
  });

  it("reports every problem at once, still validating known providers' variables beside an unknown provider", () => {
    const problems = problemsOf({
      JANITOR_PROVIDERS: 'iotda,nosuch', IOTDA_RATE_LIMIT: 'fast', IOTDA_PROJECT_ID: P1, HUAWEICLOUD_AUTH_TOKEN: 'tok', JANITOR_DRY_RUN: 'perhaps',
    });
    expect(problems).toEqual(expect.arrayContaining([
      expect.stringContaining('JANITOR_PROVIDERS: got "iotda,nosuch"; unknown provider nosuch; allowed: imm, vias, iotda, mpc, workspace'),
      expect.stringContaining('JANITOR_DRY_RUN: got "perhaps"'),
      expect.stringContaining('IOTDA_RATE_LIMIT: got "fast"; expected a rate like 10/s, 300/m or 1000/h, or none'),
      expect.stringContaining('IOTDA_REGION: is required'),
    ]));
    expect(problems).toHaveLength(4);
  });
});

describe('the retention floor', () => {
  it('refuses a retention under 1h, globally or per provider, naming the variable and the override', () => {
    const problems = problemsOf({ ...BASE, JANITOR_RETENTION: '7m', IOTDA_RETENTION: '59m' });
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^JANITOR_RETENTION: 7m is below the 1h floor .*JANITOR_ALLOW_SHORT_RETENTION=true/);
    expect(problems[1]).toMatch(/^IOTDA_RETENTION: 59m is below the 1h floor/);
  });

  it('accepts exactly 1h, and anything shorter only with JANITOR_ALLOW_SHORT_RETENTION=true', () => {
    expect(loadConfig({ ...BASE, JANITOR_RETENTION: '1h' }).retentionMs).toBe(3_600_000);
    const config = loadConfig({ ...BASE, JANITOR_RETENTION: '7m', IOTDA_RETENTION: '30s', JANITOR_ALLOW_SHORT_RETENTION: 'true' });
    expect(config.retentionMs).toBe(7 * 60_000);
    expect(config.providers[0]?.retentionMs).toBe(30_000);
  });
});
