import { createHash } from 'node:crypto';
import { stringify } from 'node:querystring';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeAcs3Params, signAcs3Request } from '../../src/providers/signing/alibaba-acs3.js';
import { huaweiSdkDate, signHuaweiRequest } from '../../src/providers/signing/huawei-aksk.js';
import { RecentNonces, verifyAlibabaRequest } from '../../src/simulator/auth/alibaba-verify.js';
import { verifyHuaweiRequest, type ReceivedRequest } from '../../src/simulator/auth/huawei-verify.js';
import {
  officialAcs3Authorization,
  officialAcs3Form,
  officialAcs3Headers,
  officialHuaweiHeaders,
  type SdkHuaweiCredentials,
  type SdkHuaweiRequest,
} from '../providers/signing/official-signers.js';
import { loadVectors } from '../providers/signing/vectors.js';

const RUNS = 200;
const MINUTE = 60_000;

/** What a node server would hand the verifier for this URL, headers and body. */
function received(method: string, url: string, headers: Record<string, string>, body: string): ReceivedRequest {
  const u = new URL(url);
  return {
    method,
    path: u.pathname,
    rawQuery: u.search.slice(1),
    headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])),
    body: Buffer.from(body, 'utf8'),
  };
}

function withHeader(req: ReceivedRequest, name: string, value: string | undefined): ReceivedRequest {
  return { ...req, headers: { ...req.headers, [name]: value } };
}

const { huawei, alibaba } = loadVectors();

// --- Huawei ----------------------------------------------------------------------------------

/** Signs with the official SDK and returns the request as the server would receive it. */
async function sdkSignedHuawei(req: SdkHuaweiRequest, creds: SdkHuaweiCredentials): Promise<ReceivedRequest> {
  const headers = await officialHuaweiHeaders(req, creds);
  // DefaultHttpClient sends queryParams through querystring.stringify and the data as JSON.
  const query = stringify(req.queryParams);
  const body = req.data === undefined ? '' : JSON.stringify(req.data);
  return received(req.method, `${req.endpoint}${req.path}${query ? `?${query}` : ''}`, headers, body);
}

const hwNow = new Date('2024-05-06T07:08:09Z');
const hwKeys = new Map([['HWAKEXAMPLE000000001', 'hwSecretKeyExample0000000000000000000000']]);
const hwCreds = { ak: 'HWAKEXAMPLE000000001', sk: 'hwSecretKeyExample0000000000000000000000', projectId: '0123456789abcdef0123456789abcdef' };
const hwBase: SdkHuaweiRequest = {
  endpoint: 'https://vias.cn-north-4.myhuaweicloud.com',
  path: '/v2/0123456789abcdef0123456789abcdef/batch-tasks/task%201',
  method: 'DELETE',
  headers: { 'content-type': 'application/json' },
  queryParams: { force: 'true', tag: ['b', 'a b'] },
  data: { reason: 'stale ✓' },
  sdkDate: huaweiSdkDate(hwNow),
};

describe('Huawei APIG verifier', () => {
  it('accepts the documented example request', () => {
    const url = new URL(huawei.url);
    const req = received(huawei.method, huawei.url, {
      ...huawei.headers,
      authorization: `SDK-HMAC-SHA256 Access=DOCAK, SignedHeaders=content-type;host;x-sdk-date, Signature=${huawei.signature}`,
    }, huawei.body);
    expect(req.rawQuery).toBe(url.search.slice(1));
    const verdict = verifyHuaweiRequest(req, new Map([['DOCAK', huawei.sk]]), new Date('2019-11-15T03:40:00Z'));
    expect(verdict).toEqual({ ok: true, accessKey: 'DOCAK' });
  });

  it('accepts requests signed by the official SDK, plain and derived', async () => {
    const segment = fc.string({ unit: 'binary', maxLength: 8 }).filter((s) => !s.includes("'") && s !== '.' && s !== '..');
    const text = fc.string({ unit: 'binary', maxLength: 8 });
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          method: fc.constantFrom('GET', 'POST', 'DELETE', 'PUT'),
          segments: fc.array(segment, { minLength: 1, maxLength: 3 }),
          query: fc.dictionary(text, fc.oneof(text, fc.array(text, { minLength: 1, maxLength: 3 })), { maxKeys: 4 }),
          data: fc.option(fc.dictionary(text, text, { maxKeys: 3 }), { nil: undefined }),
          securityToken: fc.option(fc.stringMatching(/^[A-Za-z0-9]{10,30}$/), { nil: undefined }),
          projectId: fc.option(fc.stringMatching(/^[0-9a-f]{32}$/), { nil: undefined }),
          derived: fc.boolean(),
          skewMs: fc.integer({ min: -14 * MINUTE, max: 14 * MINUTE }),
        }),
        async (c) => {
          const req = await sdkSignedHuawei(
            {
              endpoint: c.derived ? 'https://a1b2.st1.iotda-app.cn-north-4.myhuaweicloud.com' : 'https://iotda.cn-north-4.myhuaweicloud.com',
              path: `/${c.segments.map(encodeURIComponent).join('/')}`,
              method: c.method,
              headers: { 'content-type': 'application/json' },
              queryParams: c.query,
              data: c.data,
              sdkDate: huaweiSdkDate(hwNow),
            },
            { ...hwCreds, securityToken: c.securityToken, projectId: c.projectId, derived: c.derived ? { regionId: 'cn-north-4', serviceName: 'iotdm' } : undefined },
          );
          const verdict = verifyHuaweiRequest(req, hwKeys, new Date(hwNow.getTime() + c.skewMs), { derivedServiceName: 'iotdm', regionId: 'cn-north-4' });
          expect(verdict).toEqual({ ok: true, accessKey: hwCreds.ak });
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('accepts requests signed by our signer, form bodies included', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ unit: 'binary', maxLength: 8 }), { maxKeys: 4 }), fc.boolean(), (params, derived) => {
        const query = new URLSearchParams(params).toString().replace(/\+/g, '%20');
        const url = `https://mpc.cn-north-4.myhuaweicloud.com/v1/p/remux?${query}`;
        const body = new URLSearchParams(params).toString();
        const headers = signHuaweiRequest(
          { method: 'POST', url, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body },
          { accessKey: hwCreds.ak, secretKey: hwCreds.sk },
          { now: hwNow, projectId: 'p', derived: derived ? { regionId: 'cn-north-4', serviceName: 'mpc' } : undefined },
        );
        expect(verifyHuaweiRequest(received('POST', url, headers, body), hwKeys, hwNow)).toEqual({ ok: true, accessKey: hwCreds.ak });
      }),
      { numRuns: RUNS },
    );
  });

  describe('rejects with APIGW.0301 / 401', () => {
    const sigFail = { ok: false, status: 401, code: 'APIGW.0301', message: 'Incorrect IAM authentication information: verify aksk signature fail' };

    it.each<[string, (r: ReceivedRequest) => ReceivedRequest]>([
      ['a changed method', (r) => ({ ...r, method: 'GET' })],
      ['a changed path', (r) => ({ ...r, path: r.path.replace('task%201', 'task%202') })],
      ['a changed query', (r) => ({ ...r, rawQuery: r.rawQuery.replace('force=true', 'force=false') })],
      ['an extra query parameter', (r) => ({ ...r, rawQuery: `${r.rawQuery}&all=1` })],
      ['a changed signed header', (r) => withHeader(r, 'x-project-id', 'ffffffffffffffffffffffffffffffff')],
      ['a removed signed header', (r) => withHeader(r, 'content-type', undefined)],
      ['a changed body', (r) => ({ ...r, body: Buffer.from('{"reason":"stale ✗"}') })],
      ['an X-Sdk-Date more than 15 minutes old', (r) => r],
    ])('%s', async (name, tamper) => {
      const req = tamper(await sdkSignedHuawei(hwBase, hwCreds));
      const now = name.startsWith('an X-Sdk-Date') ? new Date(hwNow.getTime() + 15 * MINUTE + 1000) : hwNow;
      expect(verifyHuaweiRequest(req, hwKeys, now)).toEqual(sigFail);
    });

    it('accepts the same request 15 minutes either side of its X-Sdk-Date', async () => {
      const req = await sdkSignedHuawei(hwBase, hwCreds);
      expect(verifyHuaweiRequest(req, hwKeys, new Date(hwNow.getTime() + 15 * MINUTE)).ok).toBe(true);
      expect(verifyHuaweiRequest(req, hwKeys, new Date(hwNow.getTime() - 15 * MINUTE)).ok).toBe(true);
    });

    it('a wrong secret key', async () => {
      const req = await sdkSignedHuawei(hwBase, { ...hwCreds, sk: 'another-secret' });
      expect(verifyHuaweiRequest(req, hwKeys, hwNow)).toEqual(sigFail);
    });

    it('an unknown access key', async () => {
      const req = await sdkSignedHuawei(hwBase, { ...hwCreds, ak: 'UNKNOWNAK' });
      expect(verifyHuaweiRequest(req, hwKeys, hwNow)).toEqual({
        ok: false, status: 401, code: 'APIGW.0301',
        message: 'Incorrect IAM authentication information: Get secretKey failed,ak:UNKNOWNAK,err:ak not exist',
      });
    });

    it('a request with neither Authorization nor X-Auth-Token', async () => {
      const req = withHeader(await sdkSignedHuawei(hwBase, hwCreds), 'authorization', undefined);
      expect(verifyHuaweiRequest(req, hwKeys, hwNow)).toEqual({
        ok: false, status: 401, code: 'APIGW.0301', message: 'Incorrect IAM authentication information: x-auth-token not found',
      });
    });

    it('a derived signature scoped to another service than the simulator expects', async () => {
      const req = await sdkSignedHuawei(hwBase, { ...hwCreds, derived: { regionId: 'cn-north-4', serviceName: 'iotda' } });
      expect(verifyHuaweiRequest(req, hwKeys, hwNow, { derivedServiceName: 'iotdm' })).toEqual(sigFail);
      expect(verifyHuaweiRequest(req, hwKeys, hwNow).ok).toBe(true);
    });
  });

  it('accepts the configured IAM token and rejects any other', () => {
    const req = received('GET', 'https://vias.cn-north-4.myhuaweicloud.com/v2/p/batch-tasks', { 'x-auth-token': 'MIItoken' }, '');
    expect(verifyHuaweiRequest(req, hwKeys, hwNow, { iamToken: 'MIItoken' })).toEqual({ ok: true, accessKey: '' });
    expect(verifyHuaweiRequest(req, hwKeys, hwNow, { iamToken: 'other' })).toEqual({
      ok: false, status: 401, code: 'APIGW.0301', message: 'Incorrect IAM authentication information: decrypt token fail',
    });
  });
});

// --- Alibaba ---------------------------------------------------------------------------------

const aliNow = new Date('2024-05-06T07:08:09Z');
const aliKeys = new Map([['LTAIexampleKey0001', 'exampleSecretForTheSimulator0001']]);

/** Signs an RPC call the way openapi-client's doRequest does and returns it as received. */
function sdkSignedAlibaba(input: {
  method?: string;
  query: Record<string, string>;
  form?: Record<string, string>;
  accessKeyId?: string;
  secret?: string;
  securityToken?: string;
  nonce?: string;
  now?: Date;
}): ReceivedRequest {
  const accessKeyId = input.accessKeyId ?? 'LTAIexampleKey0001';
  const body = input.form ? officialAcs3Form(input.form) : '';
  const headers = officialAcs3Headers({
    host: 'imm.cn-hangzhou.aliyuncs.com',
    action: input.form ? 'DeleteBatch' : 'ListBatches',
    version: '2020-09-30',
    now: input.now ?? aliNow,
    nonce: input.nonce ?? 'a1b2c3d4e5f60718293a4b5c6d7e8f90',
    body,
    contentType: input.form ? 'application/x-www-form-urlencoded' : undefined,
    accessKeyId,
    securityToken: input.securityToken,
    extra: {},
  });
  const method = input.method ?? 'POST';
  headers.Authorization = officialAcs3Authorization(
    { method, pathname: '/', query: input.query, headers },
    body,
    accessKeyId,
    input.secret ?? 'exampleSecretForTheSimulator0001',
  );
  // $tea.doAction appends the query with querystring.stringify.
  const query = stringify(input.query);
  return received(method, `https://imm.cn-hangzhou.aliyuncs.com/${query ? `?${query}` : ''}`, headers, body);
}

describe('Alibaba ACS3 verifier', () => {
  it('accepts the documented example request', () => {
    const req = received(alibaba.method, alibaba.url, { ...alibaba.headers, authorization: alibaba.authorization }, alibaba.body);
    const verdict = verifyAlibabaRequest(req, new Map([[alibaba.access_key_id, alibaba.access_key_secret]]), new Date('2023-10-26T10:30:00Z'));
    expect(verdict).toEqual({ ok: true, accessKey: alibaba.access_key_id });
  });

  it('accepts requests signed the way @alicloud/openapi-client signs them', () => {
    const name = fc.stringMatching(/^[A-Za-z0-9._~-]{1,10}$/);
    const value = fc.string({ unit: 'binary', maxLength: 10 });
    fc.assert(
      fc.property(
        fc.dictionary(name, value, { maxKeys: 4 }),
        fc.option(fc.dictionary(name, value, { minKeys: 1, maxKeys: 4 }), { nil: undefined }),
        fc.option(fc.stringMatching(/^[A-Za-z0-9]{10,30}$/), { nil: undefined }),
        fc.integer({ min: -14 * MINUTE, max: 14 * MINUTE }),
        (query, form, securityToken, skewMs) => {
          const req = sdkSignedAlibaba({ query, form, securityToken });
          expect(verifyAlibabaRequest(req, aliKeys, new Date(aliNow.getTime() + skewMs))).toEqual({ ok: true, accessKey: 'LTAIexampleKey0001' });
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('accepts requests signed by our signer', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ unit: 'binary', maxLength: 10 }), { maxKeys: 4 }), (params) => {
        const url = `https://imm.cn-hangzhou.aliyuncs.com/?${encodeAcs3Params({ ProjectName: 'p', ...params })}`;
        const body = encodeAcs3Params(params);
        const headers = signAcs3Request(
          { method: 'POST', url, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body },
          { accessKeyId: 'LTAIexampleKey0001', accessKeySecret: 'exampleSecretForTheSimulator0001', securityToken: 'sts' },
          { now: aliNow, nonce: 'n-1', action: 'DeleteBatch', version: '2020-09-30' },
        );
        expect(verifyAlibabaRequest(received('POST', url, headers, body), aliKeys, aliNow)).toEqual({ ok: true, accessKey: 'LTAIexampleKey0001' });
      }),
      { numRuns: RUNS },
    );
  });

  const base = (): ReceivedRequest => sdkSignedAlibaba({ query: { ProjectName: 'demo', MaxResults: '100' }, form: { ProjectName: 'demo', Id: 'batch-1' } });
  const mismatch = { ok: false, status: 400, code: 'SignatureDoesNotMatch', message: 'Specified signature is not matched with our calculation.' };

  it.each<[string, (r: ReceivedRequest) => ReceivedRequest]>([
    ['a changed method', (r) => ({ ...r, method: 'GET' })],
    ['a changed path', (r) => ({ ...r, path: '/x' })],
    ['a changed query', (r) => ({ ...r, rawQuery: r.rawQuery.replace('demo', 'other') })],
    ['a changed signed header', (r) => withHeader(r, 'x-acs-action', 'DeleteProject')],
    ['a changed body', (r) => ({ ...r, body: Buffer.from(r.body.toString().replace('batch-1', 'batch-2')) })],
    ['a missing Authorization', (r) => withHeader(r, 'authorization', undefined)],
  ])('rejects %s with SignatureDoesNotMatch (400)', (_name, tamper) => {
    expect(verifyAlibabaRequest(tamper(base()), aliKeys, aliNow)).toEqual(mismatch);
  });

  it('rejects a body whose x-acs-content-sha256 was recomputed but not re-signed', () => {
    const req = base();
    const body = Buffer.from('ProjectName=demo&Id=batch-2');
    const tampered = withHeader({ ...req, body }, 'x-acs-content-sha256', createHash('sha256').update(body).digest('hex'));
    expect(verifyAlibabaRequest(tampered, aliKeys, aliNow)).toEqual(mismatch);
  });

  it('rejects a wrong secret with SignatureDoesNotMatch (400)', () => {
    expect(verifyAlibabaRequest(sdkSignedAlibaba({ query: {}, secret: 'wrong' }), aliKeys, aliNow)).toEqual(mismatch);
  });

  it('rejects an unknown key with InvalidAccessKeyId.NotFound (404)', () => {
    expect(verifyAlibabaRequest(sdkSignedAlibaba({ query: {}, accessKeyId: 'LTAIunknown' }), aliKeys, aliNow)).toEqual({
      ok: false, status: 404, code: 'InvalidAccessKeyId.NotFound', message: 'Specified access key is not found.',
    });
  });

  it('rejects an x-acs-date more than 15 minutes off with InvalidTimeStamp.Expired (400)', () => {
    const req = base();
    expect(verifyAlibabaRequest(req, aliKeys, new Date(aliNow.getTime() + 15 * MINUTE)).ok).toBe(true);
    expect(verifyAlibabaRequest(req, aliKeys, new Date(aliNow.getTime() - 15 * MINUTE - 1000))).toEqual({
      ok: false, status: 400, code: 'InvalidTimeStamp.Expired', message: 'Specified time stamp or date value is expired.',
    });
  });

  it('rejects a malformed x-acs-date with InvalidTimeStamp.Format (400)', () => {
    expect(verifyAlibabaRequest(withHeader(base(), 'x-acs-date', '2024-05-06 07:08:09'), aliKeys, aliNow)).toMatchObject({ code: 'InvalidTimeStamp.Format', status: 400 });
  });

  it('rejects an unsigned x-acs-* header with IncompleteSignature (400)', () => {
    expect(verifyAlibabaRequest(withHeader(base(), 'x-acs-extra', '1'), aliKeys, aliNow)).toMatchObject({ code: 'IncompleteSignature', status: 400 });
  });

  it('rejects a reused nonce with SignatureNonceUsed (400), but not a forged request', () => {
    const nonces = new RecentNonces(10);
    const req = base();
    expect(verifyAlibabaRequest({ ...req, method: 'GET' }, aliKeys, aliNow, { seenNonce: nonces.check })).toEqual(mismatch);
    expect(verifyAlibabaRequest(req, aliKeys, aliNow, { seenNonce: nonces.check }).ok).toBe(true);
    expect(verifyAlibabaRequest(req, aliKeys, aliNow, { seenNonce: nonces.check })).toEqual({
      ok: false, status: 400, code: 'SignatureNonceUsed', message: 'Specified signature nonce was used already.',
    });
  });

  it('forgets the oldest nonces beyond its capacity', () => {
    const nonces = new RecentNonces(2);
    expect([nonces.check('k', 'a'), nonces.check('k', 'b'), nonces.check('k', 'c'), nonces.check('k', 'a')]).toEqual([false, false, false, false]);
    expect(nonces.check('k', 'c')).toBe(true);
  });
});
