// The `check` command: one cheap authenticated read per provider target, and Redis, before any run.
import type { Config } from './config.js';
import type { ProviderName } from './providers/catalog.js';
import { asProviderError, type Provider } from './providers/provider.js';
import { assertRedisReachable } from './redis.js';

/** What one probe found: fine, a configuration problem (fix the settings), or an outage (try later). */
export interface CheckResult {
  readonly component: string;
  readonly verdict: 'ok' | 'config' | 'outage';
  readonly message: string;
}

/** Exit code of `check`: 0 all fine, 2 any configuration problem, 3 only outages. */
export function checkExitCode(results: readonly CheckResult[]): 0 | 2 | 3 {
  if (results.some((r) => r.verdict === 'config')) return 2;
  return results.some((r) => r.verdict === 'outage') ? 3 : 0;
}

/**
 * Reads the first page of every configured target (the cheapest authenticated call each API has)
 * and pings Redis. Refused credentials, an unknown project or a wrong endpoint (any 4xx) are
 * configuration problems; throttling, 5xx and network failures are outages.
 */
export async function checkTargets(
  config: Config, providers: ReadonlyMap<ProviderName, Provider>, signal?: AbortSignal,
): Promise<CheckResult[]> {
  const probes = config.providers.flatMap((pc) => pc.targets.map(async (target): Promise<CheckResult> => {
    const component = `${pc.name} ${target} (${pc.endpoint})`;
    const provider = providers.get(pc.name);
    if (!provider) return { component, verdict: 'config', message: 'provider was not built' };
    try {
      let firstPage = 0;
      for await (const page of provider.listTasks(target, signal)) {
        firstPage = page.length;
        break; // one page proves endpoint, region, project and credentials
      }
      return { component, verdict: 'ok', message: `listed, ${firstPage} task(s) on the first page` };
    } catch (err) {
      const error = asProviderError(err);
      const status = error.details.status;
      const isConfig = error.kind === 'permanent' && status !== undefined && status >= 400 && status < 500;
      const code = error.details.code && !error.message.startsWith(error.details.code) ? `${error.details.code}: ` : '';
      const hint = status === 401 || status === 403 ? 'credentials or permissions refused' : status === 404 ? 'endpoint, region or project not found' : `HTTP ${status ?? 'no response'}`;
      return { component, verdict: isConfig ? 'config' : 'outage', message: `${hint} (${code}${error.message})` };
    }
  }));
  const redis = (async (): Promise<CheckResult> => {
    const note = config.dryRun ? ' (not needed while JANITOR_DRY_RUN=true)' : '';
    try {
      await assertRedisReachable(config.redis);
      return { component: 'redis', verdict: 'ok', message: `reachable${note}` };
    } catch (err) {
      // A dry run does not use Redis, so its absence is reported but is no failure then.
      return { component: 'redis', verdict: config.dryRun ? 'ok' : 'outage', message: `${(err as Error).message}${note}` };
    }
  })();
  return Promise.all([...probes, redis]);
}

/** One line per probe, the verdict first so a failing line stands out. */
export function renderCheck(results: readonly CheckResult[]): string {
  const label = { ok: 'ok    ', config: 'CONFIG', outage: 'OUTAGE' } as const;
  return results.map((r) => `${label[r.verdict]} ${r.component}: ${r.message}`).join('\n');
}
