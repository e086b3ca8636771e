// Wires the operator's view for one command: metrics (served or pushed), audit trail, progress and
// the end-of-run notification, so main.ts only calls three functions.
import type { RedisClient } from './redis.js';
import { Pushgateway } from 'prom-client';
import { ConfigError, type Config } from './config.js';
import { AuditFileError, createAuditTrail } from './audit.js';
import type { CallLimiter } from './limiter.js';
import type { Logger } from './logger.js';
import { createMetrics, type Metrics } from './metrics.js';
import { startMetricsServer } from './metrics-server.js';
import { notificationFor, sendNotification, worthNotifying } from './notify.js';
import { combineObservers, type RunObserver } from './observer.js';
import { createProgressReporter, type ProgressReporter } from './progress.js';
import type { ProviderCallObserver } from './providers/call-context.js';
import type { RunReport } from './run.js';
import type { Shutdown } from './shutdown.js';

/** The Pushgateway job label of every push; `instance` comes from JANITOR_PUSHGATEWAY_INSTANCE. */
export const PUSH_JOB = 'task-janitor';

export interface Observability {
  readonly metrics: Metrics;
  readonly observer: RunObserver;
  readonly providerCalls: ProviderCallObserver;
  readonly progress: ProgressReporter;
  /**
   * Serves /metrics, /healthz and /readyz (work, daemon); closes with the shutdown. Without a Redis
   * (a dry-run daemon needs none) /readyz answers ready.
   */
  serve(redis?: RedisClient): Promise<number>;
  /** After `run`: push the metrics and send the notification. Never throws. */
  afterRun(report: RunReport, command: string): Promise<void>;
  /** After a `run` or `produce` that could not run at all (Redis unreachable…): the same, with why. Never throws. */
  afterFailedRun(command: 'run' | 'produce', exitCode: number, reason: string): Promise<void>;
}

export function startObservability(deps: {
  readonly config: Config;
  readonly logger: Logger;
  readonly shutdown: Shutdown;
  readonly longRunning: boolean;
  /** The package version, for janitor_build_info. */
  readonly version: string;
  /** The call limiter, whose effective delete rate the metrics report. */
  readonly limiter?: CallLimiter;
  /** The terminal for a live progress line; undefined logs progress events instead. */
  readonly tty?: NodeJS.WritableStream;
}): Observability {
  const { config, logger, shutdown } = deps;
  const operator = config.operator;
  let audit;
  try {
    audit = createAuditTrail({ logger, file: operator.auditFile });
  } catch (err) {
    if (err instanceof AuditFileError) throw new ConfigError([err.message]);
    throw err;
  }
  const trail = audit;
  shutdown.onClose('audit file', () => Promise.resolve(trail.close()));
  const metrics = createMetrics(config, { version: deps.version, processMetrics: deps.longRunning, ...(deps.limiter ? { limiter: deps.limiter } : {}) });
  return {
    metrics,
    observer: combineObservers(metrics.observer, audit.observer),
    providerCalls: metrics.providerCalls,
    progress: createProgressReporter({ logger, intervalMs: operator.progressIntervalMs, tty: deps.tty }),
    async serve(redis) {
      try {
        const server = await startMetricsServer({ port: operator.metricsPort, registry: metrics.registry, ready: () => (redis ? redis.ping() : Promise.resolve()), logger });
        shutdown.onClose('metrics server', server.close);
        return server.port;
      } catch (err) {
        throw new ConfigError([`JANITOR_METRICS_PORT: cannot listen on port ${operator.metricsPort} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); expected a free port, or 0 for any`]);
      }
    },
    async afterRun(report, command) {
      if (operator.pushgatewayUrl) await pushMetrics(operator.pushgatewayUrl, operator.pushgatewayInstance, metrics, logger);
      const notification = notificationFor({ command, runId: report.runId, dryRun: config.dryRun, exitCode: report.exitCode, stats: report.stats });
      if (operator.notifyWebhook && worthNotifying(notification)) await sendNotification(operator.notifyWebhook, notification, logger);
    },
    async afterFailedRun(command, exitCode, reason) {
      // The exit code reaches the Pushgateway as for any run (no success time); it ran for no time.
      metrics.observer.runFinished?.({ runId: '', mode: command, stats: [], exitCode, durationMs: 0 });
      if (operator.pushgatewayUrl) await pushMetrics(operator.pushgatewayUrl, operator.pushgatewayInstance, metrics, logger);
      if (operator.notifyWebhook) await sendNotification(operator.notifyWebhook, notificationFor({ command, runId: '', dryRun: config.dryRun, exitCode, stats: [], failure: reason }), logger);
    },
  };
}

/**
 * Pushes with POST (pushAdd): a run's families replace the group's, and a family it does not carry
 * (the last success time, after a failed run) keeps the value an earlier run pushed.
 */
async function pushMetrics(url: string, instance: string, metrics: Metrics, logger: Logger): Promise<void> {
  try {
    await new Pushgateway(url, { timeout: 10_000 }, metrics.registry).pushAdd({ jobName: PUSH_JOB, groupings: { instance } });
    logger.info({ pushgateway: new URL(url).origin, job: PUSH_JOB, instance }, 'metrics pushed');
  } catch (err) {
    logger.warn({ pushgateway: new URL(url).origin, err: { message: (err as Error).message } }, 'metrics push failed; the run result stands');
  }
}
