import { describe, expect, it } from 'vitest';
import { redactText } from '../src/redact.js';

describe('redactText', () => {
  it.each([
    ['redis://user:pa/ss@word@h:1/0', 'redis://user:***@h:1/0'],
    ['redis://:pw@h:6379/0?db=1', 'redis://:***@h:6379/0?db=1'],
    ['redis+sentinel://:pw@s1:26379,s2/m', 'redis+sentinel://:***@s1:26379,s2/m'],
    ['redis:/:pw@h:6379', 'redis:/:***@h:6379'],
    ['pw@h:6379', '***@h:6379'],
    ['Redis at redis://h:1/?password=pw&db=2 is unreachable', 'Redis at redis://h:1/?password=***&db=2 is unreachable'],
    ['https://hooks.example/x?token=abc#f', 'https://hooks.example/x?token=***#f'],
    ['got "redis://u:p@h"; expected', 'got "redis://u:***@h"; expected'],
    ['Get secretKey failed,ak:HPUAXXXXXXXXXXXXXXXX,err:ak not exist', 'Get secretKey failed,ak:***,err:ak not exist'],
    ['SDK-HMAC-SHA256 Access=HPUA123, SignedHeaders=host', 'SDK-HMAC-SHA256 Access=***, SignedHeaders=host'],
    ['V11-HMAC-SHA256 Credential=HPUA123/20240101/cn-north-4/iotdm', 'V11-HMAC-SHA256 Credential=***/20240101/cn-north-4/iotdm'],
    ['AccessKeyId: LTAI5tAbCdEfGh123 is disabled', 'AccessKeyId: *** is disabled'],
    ['key LTAI5tAbCdEfGh123 was refused', 'key LTAI*** was refused'],
    // A password cut by a space or a quote: every piece of it is masked, not only the one before the `@`.
    ['got "redis://default:my s3cret@host"', 'got "redis://default:*** ***@host"'],
    ['got "redis://u:ab\\"cd@host:6379"', 'got "redis://u:***"***@host:6379"'],
    // Cut short after leading digits: a password, not a port.
    ['got "redis://u:2024-Spring!x y@host"', 'got "redis://u:*** ***@host"'],
    ['got "redis://u:123_secret y@host"', 'got "redis://u:*** ***@host"'],
    ['got "redis://u:42.abc y@host"', 'got "redis://u:*** ***@host"'],
  ])('masks the credential in %j', (text, redacted) => {
    expect(redactText(text)).toBe(redacted);
  });

  it.each([
    'redis://h:6379',
    'redis://[::1]:6379/0',
    'Redis at redis://127.0.0.1:44619: read-only replica (READONLY)',
    'https://iotda.example.com:8443/v5/iot',
    'https://example.com/path:with-colon',
    'IOTDA.014111: The task in status Processing cannot be deleted.',
    'Specified access key is not found.',
    'network error ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:1',
    'APIGW.0308: The request is throttled.',
  ])('leaves %j as it is', (text) => {
    expect(redactText(text)).toBe(text);
  });
});
