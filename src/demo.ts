// `npm run demo`: a real `run` against the seeded simulator and a real Redis (REDIS_URL, or a
// throwaway redis-server), with a live progress line, the summary, and a check against the seed.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig, ConfigError } from './config.js';
import { createLogger } from './logger.js';
import { PROVIDER_FACTS } from './providers/catalog.js';
import { createProviders } from './providers/registry.js';
import { assertRedisReachable, DependencyError, dropQueuePrefix } from './redis.js';
import { runCleanup } from './run.js';
import { createShutdown } from './shutdown.js';
import { SIMULATED_APIS } from './simulator/apis.js';
import { simulatorEnvironment } from './simulator/env.js';
import { startSimulator } from './simulator/server.js';
import { renderSummary, type TargetStats } from './summary.js';

const out = (line: string) => process.stdout.write(`${line}\n`);

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === 'object' && address ? address.port : 0;
}

/** Uses REDIS_URL (or the default local server) when it answers, else starts a throwaway redis-server. */
async function findRedis(): Promise<{ url: string; stop: () => void }> {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  try {
    await assertRedisReachable(url, 1_500);
    return { url, stop: () => undefined };
  } catch {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'janitor-demo-redis-'));
    const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
    const failed = new Promise<never>((_, reject) => child.once('error', (err) => reject(new DependencyError(`no Redis at ${url} and redis-server could not be started: ${err.message} (install redis-server or set REDIS_URL)`))));
    const local = `redis://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      try {
        await Promise.race([assertRedisReachable(local, 500), failed]);
        break;
      } catch (err) {
        if (err instanceof DependencyError && err.message.includes('could not be started')) throw err;
        if (i > 50) throw err;
        await sleep(100);
      }
    }
    out(`no Redis answered at ${url}; started a throwaway redis-server on port ${port}`);
    return { url: local, stop: () => { child.kill(); rmSync(dir, { recursive: true, force: true }); } };
  }
}

function progressLine(stats: readonly TargetStats[], pending: number): string {
  const parts = stats.map((s) => `${s.provider} ${s.deleted + s.gone}/${s.enqueued}`);
  return `deleting... ${parts.join('  ')}  pending ${pending}`;
}

async function demo(): Promise<number> {
  const tasksPerProject = Number(process.env.DEMO_TASKS ?? 1000);
  const sim = await startSimulator({ tasksPerProject, seed: 2026, latencyMs: 5, errorRate: 0.02 });
  const redis = await findRedis();
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
    const shutdown = createShutdown(logger, { stepTimeoutMs: config.shutdownGraceMs });
    const tty = process.stdout.isTTY;
    const report = await runCleanup({
      config, logger, providers: createProviders(config), shutdown,
      onProgress: (stats, pending) => (tty ? process.stdout.write(`\r${progressLine(stats, pending)}\u001b[K`) : out(progressLine(stats, pending))),
    }, 'run');
    await shutdown.close();
    if (tty) process.stdout.write('\n');
    out(renderSummary(report.stats, { dryRun: config.dryRun }));
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
