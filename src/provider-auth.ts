// Which Huawei credentials each provider uses (P_AUTH: AK/SK or the IAM token), and the settings
// that only make sense with one of them (IoTDA's signing, and the region its derived key needs).
// Pure: called by loadConfig with the credentials it read; returns problems, one line each.
import type { HuaweiAuthConfig, ProviderConfig } from './config.js';
import { needsDerivedSigning } from './providers/signing/huawei-aksk.js';

/** P_AUTH values: `aksk` signs (SDK-HMAC-SHA256 / V11), `token` sends X-Auth-Token. */
export const AUTH_SCHEMES = ['aksk', 'token'] as const;
export type AuthScheme = (typeof AUTH_SCHEMES)[number];

/** The Huawei credentials that are set, each usable by any provider that chooses it. */
export interface HuaweiCredentials {
  readonly aksk?: Extract<HuaweiAuthConfig, { kind: 'aksk' }>;
  readonly token?: Extract<HuaweiAuthConfig, { kind: 'token' }>;
}

const TOKEN_VARS = 'HUAWEICLOUD_AUTH_TOKEN (or HUAWEICLOUD_AUTH_TOKEN_FILE)';
const AKSK_VARS = 'HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK (or their _FILE)';

/**
 * The credentials `pc` uses: its P_AUTH choice, or by default AK/SK when set and else the token;
 * VIAS, whose API reference shows only X-Auth-Token (§2d), the other way round. Undefined, with a
 * problem, when the choice has no credentials.
 */
export function huaweiAuthFor(pc: ProviderConfig, scheme: AuthScheme | undefined, creds: HuaweiCredentials, problems: string[]): HuaweiAuthConfig | undefined {
  const P = pc.name.toUpperCase();
  if (scheme === 'token' && !creds.token) problems.push(`${P}_AUTH: is token, but ${TOKEN_VARS} is not set; expected the IAM token ${pc.name} is to send as X-Auth-Token, or ${P}_AUTH=aksk`);
  if (scheme === 'aksk' && !creds.aksk) problems.push(`${P}_AUTH: is aksk, but ${AKSK_VARS} are not set; expected the AK/SK pair, or ${P}_AUTH=token with ${TOKEN_VARS}`);
  const byDefault = pc.name === 'vias' ? creds.token ?? creds.aksk : creds.aksk ?? creds.token;
  const auth = scheme === undefined ? byDefault : creds[scheme];
  if (auth?.kind === 'aksk' && pc.iotda) problems.push(...iotdaSigningProblems(pc));
  if (auth?.kind === 'token' && pc.iotda && pc.iotda.signing !== 'auto') {
    problems.push(`IOTDA_SIGNING: is ${pc.iotda.signing}, but IoTDA sends an IAM token (${scheme === 'token' ? 'IOTDA_AUTH=token' : `only ${TOKEN_VARS} is set`}), which is not signed; unset IOTDA_SIGNING, or set IOTDA_AUTH=aksk with the AK/SK pair`);
  }
  return auth;
}

/**
 * V11-HMAC-SHA256 scopes its key to a region: a target signed that way (IOTDA_SIGNING=derived, or
 * `auto` at an instance host, as the SDK decides) without a region would be refused on every call.
 */
function iotdaSigningProblems(pc: ProviderConfig): string[] {
  const signing = pc.iotda?.signing ?? 'auto';
  const unscoped = pc.scopes.filter((s) => s.region === undefined && s.endpoint !== '');
  if (signing === 'derived' && unscoped.length > 0) return ['IOTDA_REGION: is required when IOTDA_SIGNING=derived (the derived key is scoped to the region)'];
  const derivedHost = signing === 'auto' ? unscoped.find((s) => needsDerivedSigning(new URL(s.endpoint).host)) : undefined;
  // The SDK signs such hosts with V11-HMAC-SHA256, whose key is scoped to the region: without one every call is refused (401).
  return derivedHost ? [`IOTDA_REGION: is required with IOTDA_ENDPOINT=${new URL(derivedHost.endpoint).origin}, an instance endpoint signed with V11-HMAC-SHA256 (its key is scoped to the region); expected the instance's region id like cn-north-4, or IOTDA_SIGNING=standard, or IOTDA_AUTH=token`] : [];
}
