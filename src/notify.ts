// JANITOR_NOTIFY_WEBHOOK: after a run that deleted or failed something, POST its summary as JSON
// with a short `text` a chat webhook shows. Bounded retries; a failing webhook never fails the run.
import got from 'got';
import type { Logger } from './logger.js';
import { runTotals, type TargetStats } from './summary.js';

export interface RunNotification {
  /** One line for chat webhooks (Slack, Mattermost, Teams' `text`). */
  readonly text: string;
  readonly service: 'task-janitor';
  readonly command: string;
  readonly runId: string;
  readonly dryRun: boolean;
  readonly exitCode: number;
  readonly totals: { readonly listed: number; readonly candidates: number; readonly deleted: number; readonly gone: number; readonly failed: number; readonly unsettled: number };
  readonly targets: readonly TargetStats[];
}

/** The webhook body of one run. */
export function notificationFor(run: {
  readonly command: string; readonly runId: string; readonly dryRun: boolean; readonly exitCode: number; readonly stats: readonly TargetStats[];
  /** Why the run could not run at all (it listed nothing). */
  readonly failure?: string;
}): RunNotification {
  const { listed, candidates, deleted, gone, failed, unsettled } = runTotals(run.stats);
  const totals = { listed, candidates, deleted, gone, failed, unsettled };
  const troubles = run.stats.flatMap((s) => {
    const where = `${s.provider} ${s.target}`;
    const lines = Object.entries(s.failed).map(([reason, n]) => `${where}: ${n} failed (${reason.slice(0, 120)})`);
    if (s.listError) lines.push(`${where}: listing failed (${s.listError.slice(0, 120)})`);
    if (s.redisError) lines.push(`${where}: enqueueing failed (${s.redisError.slice(0, 160)})`);
    if (s.formatDrift !== undefined) lines.push(`${where}: FORMAT DRIFT, ${s.formatDrift} of ${s.listed} listed records could not be judged`);
    if (s.refused !== undefined) lines.push(`${where}: REFUSED, ${s.heldBack} candidate(s) not deleted (${s.refused.slice(0, 120)})`);
    const skewed = s.skipped['clock-skew'] ?? 0;
    if (skewed > 0) lines.push(`${where}: ${skewed} kept at the re-read: the clock is off (clock-skew)`);
    if (s.interrupted) lines.push(`${where}: listing interrupted (signal or JANITOR_MAX_RUNTIME)`);
    if (s.notReached) lines.push(`${where}: not reached (signal or JANITOR_MAX_RUNTIME)`);
    const { failed, pending } = s.otherRuns;
    if (failed > 0 || pending > 0) lines.push(`${where}: of the tasks another run had queued, ${failed} failed, ${pending} still pending`);
    return lines;
  });
  const who = `task-janitor ${run.command}${run.runId ? ` ${run.runId}` : ''}${run.dryRun ? ' (dry run)' : ''}`;
  const head = run.failure !== undefined
    ? `${who}: could not run; exit ${run.exitCode}`
    : `${who}: deleted ${totals.deleted}, already gone ${totals.gone}, failed ${totals.failed}${totals.unsettled > 0 ? `, still pending ${totals.unsettled}` : ''}; exit ${run.exitCode}`;
  if (run.failure !== undefined) troubles.unshift(run.failure.slice(0, 300));
  const text = [head, ...troubles.slice(0, 5), ...(troubles.length > 5 ? [`… and ${troubles.length - 5} more`] : [])].join('\n');
  return { text, service: 'task-janitor', command: run.command, runId: run.runId, dryRun: run.dryRun, exitCode: run.exitCode, totals, targets: run.stats };
}

/** Whether a run is worth a message: it deleted something, or something went wrong. */
export function worthNotifying(notification: RunNotification): boolean {
  return notification.totals.deleted > 0 || notification.exitCode !== 0;
}

/**
 * POSTs the notification: at most 3 retries (connection errors, 408, 429, 5xx; Retry-After honoured
 * up to 10 s), 5 s per attempt. Failures are logged, never thrown.
 */
export async function sendNotification(url: string, notification: RunNotification, logger: Logger): Promise<boolean> {
  try {
    const response = await got.post(url, {
      json: notification,
      timeout: { request: 5_000 },
      retry: { limit: 3, methods: ['POST'], statusCodes: [408, 429, 500, 502, 503, 504], backoffLimit: 4_000, maxRetryAfter: 10_000 },
      followRedirect: false,
    });
    logger.info({ status: response.statusCode, runId: notification.runId }, 'notification sent');
    return true;
  } catch (err) {
    // The URL may carry a token (chat webhooks do): log only its origin.
    logger.warn({ webhook: new URL(url).origin, err: { message: (err as Error).message } }, 'notification failed; the run result stands');
    return false;
  }
}
