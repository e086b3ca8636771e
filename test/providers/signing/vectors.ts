// Loads the providers' documented signing examples, kept in this repository (test/fixtures/signing-vectors.json).
import { readFileSync } from 'node:fs';

/** The Huawei SDK-HMAC-SHA256 worked example (api-sign-algorithm-002/003/004). */
export interface HuaweiVector {
  readonly sk: string;
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly canonical_request: string;
  readonly canonical_request_sha256: string;
  readonly string_to_sign: string;
  readonly signature: string;
}

/** The Alibaba ACS3-HMAC-SHA256 fixed-parameter example (V3 request structure and signature). */
export interface AlibabaVector {
  readonly access_key_id: string;
  readonly access_key_secret: string;
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly canonical_request_sha256: string;
  readonly signature: string;
  readonly authorization: string;
}

/** Both vectors, read at test time from the fixture file. */
export function loadVectors(): { huawei: HuaweiVector; alibaba: AlibabaVector } {
  // test/providers/signing -> test/fixtures.
  const file = new URL('../../fixtures/signing-vectors.json', import.meta.url);
  const json = JSON.parse(readFileSync(file, 'utf8')) as {
    huawei_sdk_hmac_sha256: HuaweiVector;
    alibaba_acs3_hmac_sha256: AlibabaVector;
  };
  return { huawei: json.huawei_sdk_hmac_sha256, alibaba: json.alibaba_acs3_hmac_sha256 };
}
