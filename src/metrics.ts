// Prometheus metrics (prom-client) for every command: what was listed, kept and deleted, provider
// calls and throttling, queue depth, effective rate, delete permits in use, run duration and the last successful run.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Config } from './config.js';
import type { DeletePermits } from './delete-permits.js';
import { perSecond } from './budget.js';
import { allowedPerSecond, type CallLimiter } from './limiter.js';
import type { RunObserver } from './observer.js';
import { watchTaskOutcomes, type TaskOutcome } from './outcomes.js';
import type { ProviderCallObserver } from './providers/call-context.js';
import { isSkipReason } from './queue.js';
import type { TargetStats } from './summary.js';

/** Queue states exported as depth gauges: the backlog and what is stuck. */
export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;

export interface Metrics {
  readonly registry: Registry;
  readonly observer: RunObserver;
  readonly providerCalls: ProviderCallObserver;
}

export function createMetrics(config: Config, options: {
  readonly version: string;
  readonly processMetrics: boolean;
  /** Where the effective delete rate is read at scrape time (shared in Redis across processes). */
  readonly limiter?: Pick<CallLimiter, 'readStatus'>;
}): Metrics {
  const registry = new Registry();
  const registers = [registry];
  if (options.processMetrics) collectDefaultMetrics({ register: registry });

  const listed = new Counter({ name: 'janitor_tasks_listed_total', help: 'Tasks listed, per provider and project.', labelNames: ['provider', 'project'], registers });
  const kept = new Counter({ name: 'janitor_tasks_kept_total', help: 'Listed tasks kept (not deletion candidates), by reason.', labelNames: ['provider', 'project', 'reason'], registers });
  const deletions = new Counter({
    name: 'janitor_deletions_total', help: 'Tasks settled by this process, each counted once when its attempt ends, by outcome: deleted, gone (already gone), failed (for good), skipped_on_recheck.',
    labelNames: ['provider', 'project', 'outcome'], registers,
  });
  const calls = new Counter({ name: 'janitor_provider_calls_total', help: 'Provider HTTP calls, by operation (list, get, delete) and HTTP status (or network-error).', labelNames: ['provider', 'operation', 'status'], registers });
  const throttled = new Counter({ name: 'janitor_provider_throttled_total', help: 'Provider answers that asked us to slow down (throttling), by operation.', labelNames: ['provider', 'operation'], registers });
  const limiter = options.limiter;
  const effectiveRate = new Gauge({
    name: 'janitor_effective_rate_per_second',
    help: 'Delete calls per second the limiter allows now: the configured rate, lowered after throttling, 0 while the provider is paused; +Inf when not paced (P_RATE_LIMIT=none).',
    labelNames: ['provider'], registers,
    async collect() {
      if (!limiter) return;
      // Like the queue depth: a scrape answers with the last values rather than hang on Redis.
      const budgets = await withTimeout(limiter.readStatus(), QUEUE_READ_TIMEOUT_MS).catch(() => []);
      for (const b of budgets) if (b.kind === 'delete') this.set({ provider: b.provider }, allowedPerSecond(b));
    },
  });
  const buildInfo = new Gauge({ name: 'janitor_build_info', help: 'Always 1; labels carry the task-janitor and Node.js versions.', labelNames: ['version', 'node_version'], registers });
  buildInfo.set({ version: options.version, node_version: process.version }, 1);
  for (const pc of config.providers) {
    effectiveRate.set({ provider: pc.name }, perSecond(pc.rateLimit, pc.rateLimit.max));
    // Zero series from the start, so rate() and alerts see the first increase.
    for (const target of pc.targets) for (const outcome of ['deleted', 'gone', 'failed', 'skipped_on_recheck']) deletions.inc({ provider: pc.name, project: target, outcome }, 0);
  }

  // Registered only when first set: a process that never finished a run exports no stale zero,
  // and a pushed failed run leaves the Pushgateway's earlier success time in place.
  const runDuration = lazyGauge(registry, 'janitor_run_duration_seconds', 'Wall time of the last run or produce.');
  const runFailed = lazyGauge(registry, 'janitor_run_failed_deletions', 'Tasks whose deletion failed for good in the last run.');
  const runExitCode = lazyGauge(registry, 'janitor_run_exit_code', 'Exit code of the last run or produce (0 all good).');
  const lastSuccess = lazyGauge(registry, 'janitor_last_success_timestamp_seconds', 'Unix time the last run or produce finished with exit code 0.');

  // This process's delete permits per provider: whether P_CONCURRENCY is what holds the deletes back.
  const permitsOf = new Map<string, DeletePermits>();
  new Gauge({
    name: 'janitor_delete_tasks_in_flight', help: 'Tasks this process is deleting now (re-read, then delete call), each on one of its delete permits.', labelNames: ['provider'], registers,
    collect() { for (const [provider, permits] of permitsOf) this.set({ provider }, permits.tasksInFlight); },
  });
  new Gauge({
    name: 'janitor_delete_permits', help: "Delete permits this process holds now: its active jobs' share of P_CONCURRENCY.", labelNames: ['provider'], registers,
    collect() { for (const [provider, permits] of permitsOf) this.set({ provider }, permits.capacity); },
  });

  let queueDepthRegistered = false;
  const observer: RunObserver = {
    workerStarted(worker, providerConfig, permits) {
      permitsOf.set(providerConfig.name, permits);
      watchTaskOutcomes(worker, providerConfig, (o: TaskOutcome) => {
        deletions.inc({ provider: o.provider.name, project: o.target, outcome: o.result === 'skipped' ? 'skipped_on_recheck' : o.result });
      });
    },
    queuesOpened(queues) {
      if (queueDepthRegistered) return;
      queueDepthRegistered = true;
      new Gauge({
        name: 'janitor_queue_jobs', help: 'Delete jobs in the provider queue, by state (read from Redis at scrape time).', labelNames: ['provider', 'state'], registers,
        async collect() {
          // A scrape must answer while Redis is down: keep the last values rather than hang.
          await withTimeout(Promise.all([...queues].map(async ([provider, queue]) => {
            const counts = await queue.getJobCounts(...QUEUE_STATES);
            for (const state of QUEUE_STATES) this.set({ provider, state }, counts[state] ?? 0);
          })), QUEUE_READ_TIMEOUT_MS).catch(() => undefined);
        },
      });
    },
    targetListed(stats: TargetStats) {
      const labels = { provider: stats.provider, project: stats.target };
      listed.inc(labels, stats.listed);
      // Keeps at a worker's re-read are janitor_deletions_total{outcome="skipped_on_recheck"}, counted as they settle.
      for (const [reason, n] of Object.entries(stats.skipped)) if (!isSkipReason(reason)) kept.inc({ ...labels, reason }, n ?? 0);
    },
    runFinished(run) {
      runDuration().set(run.durationMs / 1000);
      if (run.mode === 'run') runFailed().set(run.stats.reduce((n, s) => n + Object.values(s.failed).reduce((a, b) => a + b, 0), 0));
      runExitCode().set(run.exitCode);
      if (run.exitCode === 0) lastSuccess().set(Date.now() / 1000);
    },
  };

  return {
    registry,
    observer,
    providerCalls: {
      called: (provider, operation, status) => calls.inc({ provider, operation, status: String(status) }),
      throttled: (provider, operation) => throttled.inc({ provider, operation }),
    },
  };
}

const QUEUE_READ_TIMEOUT_MS = 2_000;

/** Resolves or rejects with `work`, or rejects after `ms`; the timer never holds the process open. */
export async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${ms}ms`)), ms); timer.unref(); });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function lazyGauge(registry: Registry, name: string, help: string): () => Gauge {
  let gauge: Gauge | undefined;
  return () => {
    if (!gauge) {
      gauge = new Gauge({ name, help, registers: [] });
      registry.registerMetric(gauge);
    }
    return gauge;
  };
}
