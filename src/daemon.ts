// The daemon's schedule: produce on JANITOR_SCHEDULE, skipping a firing while the last produce still runs.
import cron from 'node-cron';
import type { RedisClient } from './redis.js';
import { runCleanup, type Queues, type RunDeps } from './run.js';

/** Schedules produce runs (dry-run reports when `opened` is absent); the task is stopped by the shutdown sequence. */
export function scheduleProduce(deps: RunDeps, opened?: { readonly redis: RedisClient; readonly queues: Queues }): void {
  const { config, logger } = deps;
  let running = false;
  if (!opened && !config.dryRun) throw new Error('the daemon needs open queues unless it is a dry run');
  const task = cron.schedule(config.schedule ?? '', async () => {
    if (running) {
      logger.warn({ schedule: config.schedule }, 'schedule fired while the previous produce is still running; skipped');
      return;
    }
    running = true;
    try {
      const report = await runCleanup(deps, 'produce', opened);
      logger.info({ exitCode: report.exitCode }, 'scheduled produce finished');
    } catch (err) {
      logger.error({ err }, 'scheduled produce failed');
    } finally {
      running = false;
    }
  }, { timezone: 'UTC' });
  deps.shutdown.onStop('schedule', async () => { await task.stop(); });
  logger.info({ schedule: config.schedule }, 'schedule started (UTC)');
}
