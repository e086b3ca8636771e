// Test oracles: the official SDK signers from node_modules, wrapped for differential tests.
import { BasicCredentials } from '@huaweicloud/huaweicloud-sdk-core/auth/BasicCredentials.js';
import { DerivedAKSKSigner } from '@huaweicloud/huaweicloud-sdk-core/auth/DerivedAKSKSigner.js';
import * as openApiUtilNs from '@alicloud/openapi-util';
import { vi } from 'vitest';

type OpenApiUtilClass = typeof openApiUtilNs.default.default;
// The package is CommonJS with `exports.default`: Node's loader nests it one level deeper than
// vitest's interop does, so unwrap whichever shape arrives.
const openApiUtilDefault = (openApiUtilNs as unknown as { default: OpenApiUtilClass | { default: OpenApiUtilClass } }).default;
const OpenApiUtil: OpenApiUtilClass =
  'default' in openApiUtilDefault ? openApiUtilDefault.default : openApiUtilDefault;

/** A Huawei request in the SDK's own terms: raw query values, a JSON `data` object or a string. */
export interface SdkHuaweiRequest {
  /** `https://host[:port]`, no path. */
  readonly endpoint: string;
  /** Path as the SDK builds it: path params already `encodeURIComponent`-ed. */
  readonly path: string;
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly queryParams: Readonly<Record<string, string | readonly string[]>>;
  readonly data?: unknown;
  /** Fixed `X-Sdk-Date` so both sides sign the same time. */
  readonly sdkDate: string;
}

/** Huawei key material as `BasicCredentials` takes it. */
export interface SdkHuaweiCredentials {
  readonly ak: string;
  readonly sk: string;
  readonly securityToken?: string;
  readonly projectId?: string;
  readonly derived?: { readonly regionId: string; readonly serviceName: string };
}

/** Headers the official Node SDK sends: `BasicCredentials.processAuthRequest`, the HcClient path. */
export async function officialHuaweiHeaders(
  req: SdkHuaweiRequest,
  creds: SdkHuaweiCredentials,
): Promise<Record<string, string>> {
  let credentials = new BasicCredentials().withAk(creds.ak).withSk(creds.sk);
  if (creds.securityToken) credentials = credentials.withSecurityToken(creds.securityToken);
  if (creds.projectId) credentials = credentials.withProjectId(creds.projectId);
  if (creds.derived) {
    credentials = credentials.withDerivedPredicate(() => true);
    credentials.processDerivedAuthParams(creds.derived.serviceName, creds.derived.regionId);
  }
  const httpRequest = {
    endpoint: req.endpoint,
    url: req.path,
    method: req.method,
    headers: { ...req.headers, 'X-Sdk-Date': req.sdkDate },
    // The SDK sorts array values in place; hand it copies.
    queryParams: Object.fromEntries(
      Object.entries(req.queryParams).map(([k, v]) => [k, typeof v === 'string' ? v : [...v]]),
    ),
    data: req.data,
  };
  // hcClient is only used for federated tokens, which these credentials never have.
  const signed = await credentials.processAuthRequest(undefined as never, httpRequest);
  return signed.headers as Record<string, string>;
}

/** Headers from calling the SDK's `DerivedAKSKSigner.sign` directly. */
export function officialDerivedHeaders(
  req: { readonly endpoint: string; readonly method: string; readonly headers: Record<string, string>; readonly queryParams: Record<string, string>; readonly data?: unknown },
  creds: { readonly ak: string; readonly sk: string; readonly regionId: string; readonly serviceName: string },
): Record<string, string> {
  const credentials = new BasicCredentials().withAk(creds.ak).withSk(creds.sk).withRegionId(creds.regionId);
  credentials.processDerivedAuthParams(creds.serviceName, creds.regionId);
  return DerivedAKSKSigner.sign({ ...req, headers: { ...req.headers } }, credentials);
}

/** The SDK's default derived predicate for a host (`BaseCredentials.getDefaultDerivedPredicate`). */
export function officialNeedsDerived(host: string): boolean {
  return BasicCredentials.getDefaultDerivedPredicate({ endpoint: `https://${host}` });
}

/** An Alibaba request as openapi-client holds it just before signing (`$tea.Request` fields). */
export interface SdkAcs3Request {
  readonly method: string;
  readonly pathname: string;
  readonly query: Readonly<Record<string, string>>;
  readonly headers: Readonly<Record<string, string>>;
}

/** `OpenApiUtil.getAuthorization`, as openapi-client's `doRequest` calls it for ACS3-HMAC-SHA256. */
export function officialAcs3Authorization(req: SdkAcs3Request, body: string, akId: string, secret: string): string {
  const payloadHash = OpenApiUtil.hexEncode(OpenApiUtil.hash(Buffer.from(body), 'ACS3-HMAC-SHA256'));
  const teaRequest = { ...req, query: { ...req.query }, headers: { ...req.headers } };
  return OpenApiUtil.getAuthorization(teaRequest as never, 'ACS3-HMAC-SHA256', payloadHash, akId, secret);
}

/** The SDK's hash of a body, as doRequest puts it in `x-acs-content-sha256`. */
export function officialAcs3PayloadHash(body: string): string {
  return OpenApiUtil.hexEncode(OpenApiUtil.hash(Buffer.from(body), 'ACS3-HMAC-SHA256'));
}

/** `x-acs-date` as the SDK formats the current time (`OpenApiUtil.getTimestamp`), at a fixed `now`. */
export function officialAcs3Timestamp(now: Date): string {
  vi.useFakeTimers({ now, toFake: ['Date'] });
  try {
    return OpenApiUtil.getTimestamp();
  } finally {
    vi.useRealTimers();
  }
}

/** The form body the SDK sends for a `formData` parameter map (`OpenApiUtil.toForm`). */
export function officialAcs3Form(params: Readonly<Record<string, string>>): string {
  return OpenApiUtil.toForm({ ...params });
}

/** A complete doRequest-style header set for an RPC call, before Authorization is added. */
export function officialAcs3Headers(input: {
  readonly host: string;
  readonly action: string;
  readonly version: string;
  readonly now: Date;
  readonly nonce: string;
  readonly body: string;
  readonly contentType?: string;
  readonly accessKeyId: string;
  readonly securityToken?: string;
  readonly extra: Readonly<Record<string, string>>;
}): Record<string, string> {
  const headers: Record<string, string> = {
    host: input.host,
    'x-acs-version': input.version,
    'x-acs-action': input.action,
    'user-agent': 'AlibabaCloud (linux; x64) Node.js/v20 Core/1.0.1 TeaDSL/1',
    'x-acs-date': officialAcs3Timestamp(input.now),
    'x-acs-signature-nonce': input.nonce,
    accept: 'application/json',
    ...input.extra,
  };
  if (input.contentType) headers['content-type'] = input.contentType;
  headers['x-acs-content-sha256'] = officialAcs3PayloadHash(input.body);
  if (input.securityToken) {
    headers['x-acs-accesskey-id'] = input.accessKeyId;
    headers['x-acs-security-token'] = input.securityToken;
  }
  return headers;
}
