// `npm run demo`: a real `run` against the seeded simulator and a real Redis (REDIS_URL, or a
// throwaway redis-server), with a live progress line, the summary, and a check against the seed.
import { loadConfig, ConfigError } from './config.js';
import { createLogger } from './logger.js';
import { PROVIDER_FACTS } from './providers/catalog.js';
import { createProviders } from './providers/registry.js';
import { DependencyError, dropQueuePrefix } from './redis.js';
import { runCleanup } from './run.js';
import { createShutdown } from './shutdown.js';
import { SIMULATED_APIS } from './simulator/apis.js';
import { simulatorEnvironment } from './simulator/env.js';
import { ensureLocalRedis } from './simulator/local-redis.js';
import { startSimulator } from './simulator/server.js';
import { renderSummary, type TargetStats } from './summary.js';

const out = (line: string) => process.stdout.write(`${line}\n`);

function progressLine(stats: readonly TargetStats[], pending: number): string {
  const parts = stats.map((s) => `${s.provider} ${s.deleted + s.gone}/${s.enqueued}`);
  return `deleting... ${parts.join('  ')}  pending ${pending}`;
}

async function demo(): Promise<number> {
  // Unset or empty: the documented 1000 (Number('') would be 0).
  const tasksPerProject = Number(process.env.DEMO_TASKS || 1000);
  if (!Number.isInteger(tasksPerProject) || tasksPerProject < 0 || tasksPerProject > 1_000_000) {
    process.stderr.write(`demo: DEMO_TASKS: got ${JSON.stringify(process.env.DEMO_TASKS)}; expected a whole number from 0 to 1000000\n`);
    return 2;
  }
  const sim = await startSimulator({ tasksPerProject, seed: 2026, latencyMs: 5, errorRate: 0.02 });
  const wanted = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const redis = await ensureLocalRedis(wanted);
  if (redis.started) out(`no Redis answered at ${wanted}; started a throwaway redis-server at ${redis.url}`);
  const providers = SIMULATED_APIS.map((a) => a.provider);
  const prefix = `janitor-demo-${Date.now().toString(36)}`;
  const env: Record<string, string | undefined> = {
    LOG_LEVEL: 'error', JANITOR_DRY_RUN: 'false', JANITOR_BACKOFF: '1s', ...process.env,
    REDIS_URL: redis.url, JANITOR_QUEUE_PREFIX: prefix, JANITOR_PROVIDERS: providers.join(','),
    ...simulatorEnvironment(sim.url, providers),
  };
  for (const p of providers) {
    const P = p.toUpperCase();
    env[`${P}_RATE_LIMIT`] ??= '200/s';
    env[`${P}_CONCURRENCY`] ??= '8';
  }
  out(`simulator on ${sim.url}: ${tasksPerProject} seeded tasks in each of ${providers.join(', ')} (2% injected 5xx)`);
  try {
    const config = loadConfig(env);
    out(`redis ${redis.url}, queue prefix ${prefix}, dry run ${config.dryRun}, retention ${env.JANITOR_RETENTION ?? '7d'}`);
    const logger = createLogger(config.logLevel);
    const shutdown = createShutdown(logger, { graceMs: config.shutdownGraceMs });
    const tty = process.stdout.isTTY;
    const report = await runCleanup({
      config, logger, providers: createProviders(config), shutdown,
      onProgress: (stats, pending) => (tty ? process.stdout.write(`\r${progressLine(stats, pending)}\u001b[K`) : out(progressLine(stats, pending))),
    }, 'run');
    await shutdown.close();
    if (tty) process.stdout.write('\n');
    out(renderSummary(report.stats, { dryRun: config.dryRun, run: { runId: report.runId, exitCode: report.exitCode } }));
    // Check the outcome against the seeder's own record of what it created.
    for (const pc of config.providers) {
      for (const target of pc.targets) {
        const expected = sim.expectedDeletions(pc.name, target, pc.states, pc.retentionMs);
        const deleted = sim.deleted.filter((d) => d.provider === pc.name && d.project === target).map((d) => d.id).sort();
        const exact = config.dryRun ? deleted.length === 0 : JSON.stringify(expected) === JSON.stringify(deleted);
        out(`check ${pc.name} ${target}: ${exact ? 'OK' : 'MISMATCH'} (${config.dryRun ? 'dry run, nothing deleted' : `deleted ${deleted.length} of ${expected.length} stale ${PROVIDER_FACTS[pc.name].cloud === 'alibaba' ? 'batches' : 'tasks'} in states ${pc.states.join('/')}`})`);
      }
    }
    return report.exitCode;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`demo: ${err.message}\n`);
      return 2;
    }
    throw err;
  } finally {
    await dropQueuePrefix(redis.url, prefix);
    await sim.close();
    redis.stop();
  }
}

demo().then((code) => process.exit(code), (err: unknown) => {
  process.stderr.write(`demo: ${(err as Error).message}\n`);
  process.exit(err instanceof DependencyError ? 3 : 1);
});
