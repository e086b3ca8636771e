// Explicit provider name -> factory map: a provider without a factory is a compile error.
import type { Config, ProviderConfig } from '../config.js';
import { createCallLimiter, providerRatesOf, type CallLimiter } from '../limiter.js';
import { MemoryBudgetStore } from '../limiter-memory.js';
import type { TargetScope } from '../scope.js';
import { alibabaAuthFrom } from './alibaba-api.js';
import type { ProviderName } from './catalog.js';
import { huaweiAuthFrom } from './huawei-api.js';
import { observeProvider, ServerClock, type CallWatch, type ProviderCallObserver } from './call-context.js';
import { createHttpClient, type HttpClient } from './http.js';
import { createImmProvider } from './imm.js';
import { createIotdaProvider } from './iotda.js';
import { createMpcProvider } from './mpc.js';
import { ProviderError, type Provider, type TaskRead, type TaskRef } from './provider.js';
import { createViasProvider } from './vias.js';
import { createWorkspaceProvider } from './workspace.js';

export interface ProviderDeps {
  readonly config: Config;
  readonly http: HttpClient;
  readonly now: () => Date;
  readonly limiter: CallLimiter;
}

type ProviderFactory = (providerConfig: ProviderConfig, deps: ProviderDeps, watch: CallWatch) => Provider;

function huaweiAuth(pc: ProviderConfig) {
  if (!pc.huaweiAuth) throw new Error(`Huawei Cloud credentials missing for ${pc.name} (config validation should have caught this)`);
  return huaweiAuthFrom(pc.huaweiAuth);
}

/** What every adapter takes besides its credentials: the HTTP client, the clock, its call budgets and who watches its calls. */
function adapterDeps(pc: ProviderConfig, deps: ProviderDeps, watch: CallWatch) {
  return { http: deps.http, now: deps.now, budget: deps.limiter.budgetFor(pc.name), watch };
}

const FACTORIES: Readonly<Record<ProviderName, ProviderFactory>> = {
  imm: (pc, deps, watch) => createImmProvider(pc, { ...adapterDeps(pc, deps, watch), auth: alibabaAuthFrom(deps.config.alibabaAuth) }),
  iotda: (pc, deps, watch) => createIotdaProvider(pc, { ...adapterDeps(pc, deps, watch), auth: huaweiAuth(pc) }),
  mpc: (pc, deps, watch) => createMpcProvider(pc, { ...adapterDeps(pc, deps, watch), auth: huaweiAuth(pc) }),
  vias: (pc, deps, watch) => createViasProvider(pc, { ...adapterDeps(pc, deps, watch), auth: huaweiAuth(pc) }),
  workspace: (pc, deps, watch) => createWorkspaceProvider(pc, { ...adapterDeps(pc, deps, watch), auth: huaweiAuth(pc) }),
};

/**
 * Builds every configured provider, keyed by name; with an observer, every call they make is reported
 * to it; each provider's `serverClock` tells the skew its list answers showed. Each call draws on `limiter`'s budgets (one per provider, whatever its regions): main passes
 * the Redis-shared one (limiterFor); without one, budgets are this process's own.
 */
export function createProviders(config: Config, now: () => Date = () => new Date(), observer?: ProviderCallObserver, limiter?: CallLimiter): Map<ProviderName, Provider> {
  const budgets = limiter ?? createCallLimiter(providerRatesOf(config), { store: new MemoryBudgetStore(), keyPrefix: config.queuePrefix });
  const deps: ProviderDeps = { config, http: createHttpClient({ timeoutMs: config.httpTimeoutMs }), now, limiter: budgets };
  return new Map(config.providers.map((pc) => {
    // One watch per provider, whatever its regions: its calls' observer and the clock its answers are read against.
    const watch: CallWatch = { provider: pc.name, observer, clock: new ServerClock() };
    const provider = routeByTarget(pc, (scoped) => FACTORIES[pc.name](scoped, deps, watch));
    // Always wrapped: the wrapper also exposes the provider's clock (JANITOR_MAX_CLOCK_SKEW).
    return [pc.name, observeProvider(provider, watch)];
  }));
}

/**
 * One adapter per target, each seeing a single-region configuration (its endpoint, region and IoTDA
 * instance), behind one Provider that takes target keys. Adapters stay unaware of multi-region scope.
 */
function routeByTarget(pc: ProviderConfig, build: (scoped: ProviderConfig) => Provider): Provider {
  const routes = new Map(pc.scopes.map((scope) => [scope.key, { scope, adapter: build(scopedConfig(pc, scope)) }]));
  const route = (key: string) => {
    const found = routes.get(key);
    if (!found) throw new ProviderError('permanent', `target ${key} is not configured for ${pc.name}`);
    return found;
  };
  return {
    name: pc.name,
    listTasks: (key, signal, onWarning) => { const r = route(key); return r.adapter.listTasks(r.scope.project, signal, onWarning); },
    deleteTasks: async (key, ids) => { const r = route(key); return r.adapter.deleteTasks(r.scope.project, ids); },
    getTask: async (key, task) => { const r = route(key); return r.adapter.getTask(r.scope.project, task); },
    // Every target's adapter is the same kind: all read several tasks at once, or none does.
    ...([...routes.values()].every((r) => r.adapter.getTasks !== undefined) ? {
      getTasks: async (key: string, tasks: readonly TaskRef[]) => {
        const { adapter, scope } = route(key);
        return (await adapter.getTasks?.(scope.project, tasks)) ?? new Map<string, TaskRead>();
      },
    } : {}),
  };
}

function scopedConfig(pc: ProviderConfig, scope: TargetScope): ProviderConfig {
  return {
    ...pc, region: scope.region, endpoint: scope.endpoint, targets: [scope.project], scopes: [{ ...scope, key: scope.project }],
    ...(pc.iotda ? { iotda: { ...pc.iotda, instanceId: scope.instanceId } } : {}),
  };
}
