// Runs the janitor in-process against a simulator, the way main.ts wires it, with a silent logger.
import { Writable } from 'node:stream';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import type { ProviderName } from '../../src/providers/catalog.js';
import { createProviders } from '../../src/providers/registry.js';
import { runCleanup, type RunReport } from '../../src/run.js';
import { createShutdown } from '../../src/shutdown.js';
import { DEFAULT_SIM_PROJECTS, SIMULATOR_CREDENTIALS, type Simulator } from '../../src/simulator/server.js';
import { REDIS_URL } from './redis.js';

/** Environment that points the given providers at the simulator, signing with AK/SK. */
export function simulatorEnv(sim: Simulator, providers: readonly ProviderName[], prefix: string, extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {
    REDIS_URL, JANITOR_QUEUE_PREFIX: prefix, JANITOR_PROVIDERS: providers.join(','), JANITOR_DRY_RUN: 'false',
    JANITOR_BACKOFF: '1s', JANITOR_MAX_RUNTIME: '2m', LOG_LEVEL: 'silent',
    HUAWEICLOUD_SDK_AK: SIMULATOR_CREDENTIALS.huawei.accessKey, HUAWEICLOUD_SDK_SK: SIMULATOR_CREDENTIALS.huawei.secretKey,
    ALIBABA_CLOUD_ACCESS_KEY_ID: SIMULATOR_CREDENTIALS.alibaba.accessKeyId, ALIBABA_CLOUD_ACCESS_KEY_SECRET: SIMULATOR_CREDENTIALS.alibaba.accessKeySecret,
  };
  for (const p of providers) {
    const P = p.toUpperCase();
    env[`${P}_ENDPOINT`] = sim.url;
    env[`${P}_REGION`] = p === 'imm' ? 'cn-hangzhou' : 'cn-north-4';
    env[p === 'imm' ? 'IMM_PROJECTS' : `${P}_PROJECT_ID`] = DEFAULT_SIM_PROJECTS[p].join(',');
    env[`${P}_RATE_LIMIT`] = '1000/s';
  }
  return { ...env, ...extra };
}

/** Collects pino lines so tests can assert on log events. */
export function captureLogs(): { lines: Record<string, unknown>[]; stream: Writable } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, stream };
}

export async function runJanitor(env: Record<string, string>, options: { mode?: 'run' | 'produce'; logs?: Writable; logLevel?: string } = {}): Promise<RunReport> {
  const config = loadConfig(env);
  const logger = createLogger(options.logLevel ?? (options.logs ? 'debug' : 'silent'), options.logs);
  const shutdown = createShutdown(logger, { stepTimeoutMs: 10_000, handleSignals: false });
  try {
    return await runCleanup({ config, logger, providers: createProviders(config), shutdown }, options.mode ?? 'run');
  } finally {
    await shutdown.close();
  }
}

/** The ids a correct janitor deletes, computed from the seeder's own facts, not from our policy code. */
export function expectedDeletions(sim: Simulator, provider: ProviderName, project: string, deletable: readonly string[], retentionMs: number): string[] {
  return sim.expectedDeletions(provider, project, deletable, retentionMs);
}
