// The environment that points task-janitor at a running simulator: endpoints, regions, projects, credentials.
import type { ProviderName } from '../providers/catalog.js';
import { DEFAULT_SIM_PROJECTS, SIMULATOR_CREDENTIALS } from './server.js';

/**
 * Variables that make the given providers talk to the simulator at `url`, signing with its AK/SK
 * (VIAS: sending its IAM token, the only scheme the VIAS docs show):
 * `<P>_ENDPOINT`, `<P>_REGION`, `<P>_PROJECT_ID` (`IMM_PROJECTS` for IMM) with the seeded default
 * projects, and both clouds' access keys. Pure; callers add queue, Redis and tuning settings.
 */
export function simulatorEnvironment(url: string, providers: readonly ProviderName[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const p of providers) {
    const P = p.toUpperCase();
    env[`${P}_ENDPOINT`] = url;
    env[`${P}_REGION`] = p === 'imm' ? 'cn-hangzhou' : 'cn-north-4';
    env[p === 'imm' ? 'IMM_PROJECTS' : `${P}_PROJECT_ID`] = DEFAULT_SIM_PROJECTS[p].join(',');
  }
  // VIAS documents only the IAM token (§2d), and the simulator holds it to that.
  if (providers.includes('vias')) Object.assign(env, { VIAS_AUTH: 'token', HUAWEICLOUD_AUTH_TOKEN: SIMULATOR_CREDENTIALS.huawei.token });
  return {
    ...env,
    HUAWEICLOUD_SDK_AK: SIMULATOR_CREDENTIALS.huawei.accessKey, HUAWEICLOUD_SDK_SK: SIMULATOR_CREDENTIALS.huawei.secretKey,
    ALIBABA_CLOUD_ACCESS_KEY_ID: SIMULATOR_CREDENTIALS.alibaba.accessKeyId, ALIBABA_CLOUD_ACCESS_KEY_SECRET: SIMULATOR_CREDENTIALS.alibaba.accessKeySecret,
  };
}
