import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { redactText } from '../src/redact.js';
import { hasHashTag } from '../src/redis-config.js';
import { describeRedis } from '../src/redis.js';
import { problemsOf as problemsWith } from './helpers/config.js';

const BASE = { JANITOR_PROVIDERS: 'iotda', IOTDA_REGION: 'cn-north-4', IOTDA_PROJECT_ID: '0123456789abcdef0123456789abcdef', HUAWEICLOUD_AUTH_TOKEN: 'tok' };

const problemsOf = (env: Record<string, string>, readable: (path: string) => boolean = () => true) => problemsWith({ ...BASE, ...env }, readable);

describe('Redis configuration', () => {
  it('defaults to one local node and keeps a plain prefix', () => {
    const config = loadConfig(BASE);
    expect(config.redis).toEqual({ mode: 'single', url: 'redis://127.0.0.1:6379', tls: false });
    expect(config.queuePrefix).toBe('janitor');
  });

  it('reads cluster seed nodes, defaulting the port, and wraps a plain prefix into a hash tag', () => {
    const config = loadConfig({ ...BASE, REDIS_CLUSTER_NODES: 'redis-0.redis:7000, 10.0.0.2, [::1]:7002', REDIS_PASSWORD: 'pw', REDIS_TLS: 'true' });
    expect(config.redis).toEqual({
      mode: 'cluster', nodes: [{ host: 'redis-0.redis', port: 7000 }, { host: '10.0.0.2', port: 6379 }, { host: '::1', port: 7002 }],
      password: { name: 'REDIS_PASSWORD', kind: 'env', value: 'pw' }, tls: true,
    });
    expect(config.queuePrefix).toBe('{janitor}');
    expect(loadConfig({ ...BASE, REDIS_CLUSTER_NODES: 'a:1', JANITOR_QUEUE_PREFIX: 'prod-{jan}' }).queuePrefix).toBe('prod-{jan}');
    expect(describeRedis(config.redis)).toBe('Redis Cluster redis-0.redis:7000,10.0.0.2:6379,::1:7002');
  });

  it('accepts a hash-tagged prefix for one node too (a cluster behind a proxy), and refuses malformed ones', () => {
    expect(loadConfig({ ...BASE, JANITOR_QUEUE_PREFIX: '{janitor}' }).queuePrefix).toBe('{janitor}');
    for (const bad of ['{}', 'a{b}{c}', 'a:b', '{a', 'a}', `{${'x'.repeat(64)}}`]) {
      expect(problemsOf({ JANITOR_QUEUE_PREFIX: bad }), bad).toEqual([expect.stringMatching(/^JANITOR_QUEUE_PREFIX: got .*optionally with one \{hash tag\}/)]);
    }
  });

  it('reads sentinels with the master name, and the same from a redis+sentinel:// URL', () => {
    const vars = loadConfig({ ...BASE, REDIS_SENTINELS: 's1:26380,s2', REDIS_SENTINEL_NAME: 'mymaster', REDIS_SENTINEL_PASSWORD_FILE: '/run/secrets/s' }, () => true);
    expect(vars.redis).toEqual({
      mode: 'sentinel', sentinels: [{ host: 's1', port: 26380 }, { host: 's2', port: 26379 }], masterName: 'mymaster', db: 0, tls: false,
      sentinelPassword: { name: 'REDIS_SENTINEL_PASSWORD', kind: 'file', path: '/run/secrets/s' },
    });
    const url = loadConfig({ ...BASE, REDIS_URL: 'rediss+sentinel://app:p%40ss@s1:26380,s2/mymaster/2' });
    expect(url.redis).toEqual({
      mode: 'sentinel', sentinels: [{ host: 's1', port: 26380 }, { host: 's2', port: 26379 }], masterName: 'mymaster', db: 2, tls: true,
      username: 'app', password: { name: 'REDIS_URL', kind: 'env', value: 'p@ss' },
    });
    expect(loadConfig({ ...BASE, REDIS_URL: 'redis+sentinel://s1', REDIS_SENTINEL_NAME: 'm' }).redis).toMatchObject({ mode: 'sentinel', masterName: 'm' });
    expect(describeRedis(url.redis)).toBe('Sentinel master mymaster via s1:26380,s2:26379');
  });

  it('refuses cluster and sentinel set together, naming both variables', () => {
    expect(problemsOf({ REDIS_CLUSTER_NODES: 'a:7000', REDIS_SENTINELS: 'b:26379', REDIS_SENTINEL_NAME: 'm' })).toEqual([
      expect.stringMatching(/^REDIS_CLUSTER_NODES: set together with REDIS_SENTINELS; set only one of REDIS_URL .*REDIS_CLUSTER_NODES .*REDIS_SENTINELS/),
    ]);
    expect(problemsOf({ REDIS_URL: 'redis://a:1', REDIS_CLUSTER_NODES: 'a:7000' })).toEqual([expect.stringMatching(/^REDIS_CLUSTER_NODES: set together with REDIS_URL/)]);
  });

  it('names each bad host:port and what is allowed', () => {
    const problems = problemsOf({ REDIS_CLUSTER_NODES: 'good:7000,bad:99999,:7001,host:port,a b:1' });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^REDIS_CLUSTER_NODES: got ".*"; invalid address\(es\) bad:99999, :7001, host:port, a b:1; expected host:port entries like 10\.0\.0\.5:6379 \(port 1-65535\)$/);
    expect(problemsOf({ REDIS_SENTINELS: 's1:0', REDIS_SENTINEL_NAME: 'm' })).toEqual([expect.stringMatching(/^REDIS_SENTINELS: .*invalid address\(es\) s1:0/)]);
  });

  it('requires the master name with sentinels, and refuses it (or a sentinel password) without them', () => {
    expect(problemsOf({ REDIS_SENTINELS: 's1:26379' })).toEqual([expect.stringMatching(/^REDIS_SENTINEL_NAME: is required with REDIS_SENTINELS/)]);
    expect(problemsOf({ REDIS_URL: 'redis+sentinel://s1:26379' })).toEqual([expect.stringMatching(/^REDIS_SENTINEL_NAME: is required when the redis\+sentinel:\/\/ REDIS_URL names no master/)]);
    expect(problemsOf({ REDIS_SENTINEL_NAME: 'm' })).toEqual([expect.stringMatching(/^REDIS_SENTINEL_NAME: is only used with REDIS_SENTINELS/)]);
    expect(problemsOf({ REDIS_CLUSTER_NODES: 'a:1', REDIS_SENTINEL_PASSWORD: 'x' })).toEqual([expect.stringMatching(/^REDIS_SENTINEL_PASSWORD: is only used with Sentinel/)]);
    expect(problemsOf({ REDIS_URL: 'redis+sentinel://s1/m1', REDIS_SENTINEL_NAME: 'm2' })).toEqual([expect.stringMatching(/^REDIS_SENTINEL_NAME: set while REDIS_URL names the master too/)]);
  });

  it('never echoes a password, and refuses two sources of one password', () => {
    const problems = problemsOf({ REDIS_URL: 'redis://:hunter2@no spaces:6379', REDIS_PASSWORD: 'other-secret' });
    const text = problems.join('\n');
    expect(text).toContain('REDIS_URL: got "redis://:***@no spaces:6379"');
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('other-secret');
    const both = problemsOf({ REDIS_URL: 'redis://:hunter2@h:6379', REDIS_PASSWORD: 'other-secret' }).join('\n');
    expect(both).toMatch(/^REDIS_PASSWORD: set while REDIS_URL carries a password; set only one$/);
    expect(problemsOf({ REDIS_PASSWORD: 'a', REDIS_PASSWORD_FILE: '/x' })).toEqual([expect.stringMatching(/^REDIS_PASSWORD: set both REDIS_PASSWORD and REDIS_PASSWORD_FILE/)]);
    expect(problemsOf({ REDIS_PASSWORD_FILE: '/nope' }, () => false)).toEqual([expect.stringMatching(/^REDIS_PASSWORD_FILE: cannot read "\/nope"/)]);
    expect(problemsOf({ REDIS_TLS: 'true' })).toEqual([expect.stringMatching(/^REDIS_TLS: is for REDIS_CLUSTER_NODES and REDIS_SENTINELS; with REDIS_URL, rediss:\/\/ means TLS/)]);
  });

  it('refuses a malformed %-escape in a Redis URL\'s user or password, naming REDIS_URL, never the password', () => {
    for (const url of ['redis+sentinel://:s3cret%ZZ@h1:26379/mymaster', 'redis://u:s3cret%ZZ@h:6379', 'redis://us%ZZer:pw@h:6379/0']) {
      const problems = problemsOf({ REDIS_URL: url });
      expect(problems, url).toEqual([expect.stringMatching(/^REDIS_URL: got ".*"; the user or password holds a malformed %-escape \(write % as %25\); expected redis:\/\//)]);
      expect(problems.join('\n')).not.toContain('s3cret');
    }
    expect(loadConfig({ ...BASE, REDIS_URL: 'redis://u:p%40ss%25@h:6379' }).redis).toBeDefined();
  });

  it('masks the password of every Redis URL form', () => {
    expect(redactText('redis://user:pa/ss@word@h:1/0')).toBe('redis://user:***@h:1/0');
    expect(redactText('redis+sentinel://:pw@s1,s2/m')).toBe('redis+sentinel://:***@s1,s2/m');
    expect(redactText('redis://token@h')).toBe('redis://***@h');
    expect(redactText('redis://h:6379')).toBe('redis://h:6379');
  });

  it('finds hash tags the way Redis Cluster does', () => {
    expect([hasHashTag('{a}'), hasHashTag('x{a}y'), hasHashTag('{}a'), hasHashTag('{a'), hasHashTag('a}{b}')]).toEqual([true, true, false, false, true]);
  });
});
