import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { parseTargetEntries } from '../src/scope.js';
import { renderSummary, newTargetStats } from '../src/summary.js';

const P1 = '0a1b2c3d4e5f60718293a4b5c6d7e8f9';
const P2 = 'f9e8d7c6b5a4938271605f4e3d2c1b0a';
const AUTH = { HUAWEICLOUD_AUTH_TOKEN: 'tok' };

/** The ConfigError's message listing every problem ('' when the environment is valid). */
const configErrorOf = (env: Record<string, string>): string => {
  const err = ((): unknown => { try { loadConfig(env); return undefined; } catch (e) { return e; } })();
  return err instanceof ConfigError ? err.message : '';
};

describe('provider targets (scope)', () => {
  it('keeps P_REGION + P_PROJECT_ID as the simple case: the key is the project, the endpoint the region\'s', () => {
    const pc = loadConfig({ ...AUTH, JANITOR_PROVIDERS: 'vias', VIAS_REGION: 'cn-north-4', VIAS_PROJECT_ID: `${P1},${P2}` }).providers[0];
    expect(pc?.targets).toEqual([P1, P2]);
    expect(pc?.scopes).toEqual([
      { key: P1, region: 'cn-north-4', project: P1, endpoint: 'https://vias.cn-north-4.myhuaweicloud.com' },
      { key: P2, region: 'cn-north-4', project: P2, endpoint: 'https://vias.cn-north-4.myhuaweicloud.com' },
    ]);
  });

  it('reads P_TARGETS as region:project pairs, each with its own region\'s endpoint', () => {
    const pc = loadConfig({ ...AUTH, JANITOR_PROVIDERS: 'mpc', MPC_TARGETS: `cn-north-4:${P1}, ap-southeast-1:${P2}\ncn-north-1:${P1}` }).providers[0];
    expect(pc?.targets).toEqual([`cn-north-4:${P1}`, `ap-southeast-1:${P2}`, `cn-north-1:${P1}`]);
    expect(pc?.scopes.map((s) => [s.region, s.project, s.endpoint])).toEqual([
      ['cn-north-4', P1, 'https://mpc.cn-north-4.myhuaweicloud.com'],
      ['ap-southeast-1', P2, 'https://mpc.ap-southeast-1.myhuaweicloud.com'],
      ['cn-north-1', P1, 'https://mts.cn-north-1.myhuaweicloud.com'],
    ]);
  });

  it('takes several IoTDA instances, each an endpoint plus an Instance-Id, and P_ENDPOINT as the default endpoint', () => {
    const pc = loadConfig({
      ...AUTH, JANITOR_PROVIDERS: 'iotda,imm', IOTDA_ENDPOINT: 'http://127.0.0.1:9', ALIBABA_CLOUD_ACCESS_KEY_ID: 'a', ALIBABA_CLOUD_ACCESS_KEY_SECRET: 'b',
      IOTDA_TARGETS: `cn-north-4:${P1};instance=inst-a;endpoint=https://a1.st1.iotda-app.cn-north-4.myhuaweicloud.com/, cn-north-4:${P1};instance=inst-b`,
      IMM_TARGETS: 'cn-hangzhou:media,cn-shanghai:media',
    }).providers;
    expect(pc[0]?.scopes).toEqual([
      { key: `cn-north-4:${P1}/inst-a`, region: 'cn-north-4', project: P1, instanceId: 'inst-a', endpoint: 'https://a1.st1.iotda-app.cn-north-4.myhuaweicloud.com' },
      { key: `cn-north-4:${P1}/inst-b`, region: 'cn-north-4', project: P1, instanceId: 'inst-b', endpoint: 'http://127.0.0.1:9' },
    ]);
    expect(pc[1]?.scopes.map((s) => [s.key, s.endpoint])).toEqual([
      ['cn-hangzhou:media', 'https://imm.cn-hangzhou.aliyuncs.com'], ['cn-shanghai:media', 'https://imm.cn-shanghai.aliyuncs.com'],
    ]);
  });

  it('names every malformed entry, repeat and conflicting variable at once', () => {
    const text = configErrorOf({
      ...AUTH, JANITOR_PROVIDERS: 'iotda,vias', IOTDA_PROJECT_ID: P1, IOTDA_REGION: 'cn-north-4', IOTDA_INSTANCE_ID: 'x',
      IOTDA_TARGETS: `cn-north-4:${P1};instance=bad id, ${P2}, CN_NORTH:${P2};color=red, cn-north-4:${P2};endpoint=ftp://x`,
      VIAS_TARGETS: `cn-north-4:${P1},cn-north-4:${P1};instance=a`,
    });
    expect(text).toContain('IOTDA_PROJECT_ID: cannot be combined with IOTDA_TARGETS');
    expect(text).toContain('IOTDA_REGION: cannot be combined with IOTDA_TARGETS');
    expect(text).toContain('IOTDA_INSTANCE_ID: cannot be combined with IOTDA_TARGETS');
    expect(text).toContain('instance "bad id" is not an instance id');
    expect(text).toContain(`entry "${P2}": no region`);
    expect(text).toContain('region "CN_NORTH" is not a region id');
    expect(text).toContain('unknown attribute "color"');
    expect(text).toContain('endpoint "ftp://x" is not an absolute http(s) URL');
    // VIAS has no instances, and the same region:project twice is refused.
    expect(text).toContain('VIAS_TARGETS');
    expect(text).toMatch(/unknown attribute "instance"; allowed: endpoint=<url>/);
  });

  it('refuses a repeated target', () => {
    expect(parseTargetEntries(`cn-north-4:${P1}, cn-north-4:${P1}`, { allowInstance: false })).toEqual({ problems: [`repeated target cn-north-4:${P1}`] });
    expect(parseTargetEntries(' , ', { allowInstance: false })).toEqual({ problems: ['expected at least one region:project entry'] });
  });

  it('reports each target with its region and project in the summary', () => {
    const [scope] = loadConfig({ ...AUTH, JANITOR_PROVIDERS: 'iotda', IOTDA_TARGETS: `ap-southeast-1:${P2};instance=inst-b` }).providers[0]?.scopes ?? [];
    const stats = newTargetStats('iotda', scope?.key ?? '', 0, scope);
    expect(renderSummary([stats], { dryRun: true })).toContain(`iotda ap-southeast-1:${P2}/inst-b: listed 0`);
    expect(renderSummary([stats], { dryRun: true })).toContain(`  region ap-southeast-1, project ${P2}, instance inst-b`);
  });
});
