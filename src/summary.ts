// Per provider and target counters for one run, their text rendering, and the exit code they imply.
import type { KeepReason } from './policy.js';
import type { ProviderName } from './providers/catalog.js';
import { describeScope, type TargetScope } from './scope.js';
import { isSkipReason, type SkipReason } from './queue.js';
import { formatDuration } from './units.js';

/** What happened to one provider target (project) in one run. */
export interface TargetStats {
  readonly provider: ProviderName;
  readonly target: string;
  /** Region, project and IoTDA instance of the target, reported separately. */
  readonly scope?: Pick<TargetScope, 'region' | 'project' | 'instanceId'>;
  listed: number;
  candidates: number;
  enqueued: number;
  /** Candidates held by another run's pending job: not enqueued twice, but waited for. */
  alreadyQueued: number;
  /** Outcomes of the candidates held by other runs' jobs (counted there as deletions, not here). */
  otherRuns: { deleted: number; gone: number; skipped: number; failed: number; pending: number };
  skipped: Partial<Record<KeepReason | SkipReason, number>>;
  deleted: number;
  gone: number;
  failed: Record<string, number>;
  /** Settled jobs' extra attempts (attempts beyond the first). */
  retries: number;
  /** This run's tasks whose job was still pending when the run ended (deadline or signal). */
  unsettled: number;
  listError?: string;
  /** What the listing left out without failing (an IoTDA task type the endpoint refuses): reported, exit code unchanged. */
  listWarnings: string[];
  /** Redis failed while this target was listed or enqueued (OOM, auth, unreachable…), named by describeRedisError. */
  redisError?: string;
  /** Listing stopped early by a signal or the run deadline. */
  interrupted?: boolean;
  /** The run ended (deadline or signal) before it listed this target at all. */
  notReached?: boolean;
  /** Why a safety valve refused to delete anything of this target (a cap in refuse mode, clock skew). */
  refused?: string;
  /** Candidates a valve held back (a cap, a refusal): counted in `candidates`, never enqueued. */
  heldBack: number;
  /** Set when a truncating cap (JANITOR_MAX_DELETES_MODE=truncate) held candidates back: which cap. */
  capped?: string;
  /** Set when most listed records could not be judged (the API's format may have changed): how many. */
  formatDrift?: number;
  startedAt: number;
  listedAt?: number;
  finishedAt?: number;
}

export function newTargetStats(provider: ProviderName, target: string, now: number, scope?: TargetScope): TargetStats {
  return {
    provider, target, ...(scope ? { scope: { region: scope.region, project: scope.project, ...(scope.instanceId ? { instanceId: scope.instanceId } : {}) } } : {}), listed: 0, candidates: 0, enqueued: 0, alreadyQueued: 0, skipped: {},
    otherRuns: { deleted: 0, gone: 0, skipped: 0, failed: 0, pending: 0 },
    deleted: 0, gone: 0, failed: {}, retries: 0, unsettled: 0, heldBack: 0, listWarnings: [], startedAt: now,
  };
}

export function countInto<K extends string>(record: Partial<Record<K, number>>, key: K, by = 1): void {
  record[key] = (record[key] ?? 0) + by;
}

const total = (record: Partial<Record<string, number>>) => Object.values(record).reduce<number>((a, b) => a + (b ?? 0), 0);

/** Records the policy cannot judge: a target mostly made of them has a format the adapter no longer reads. */
const UNDECIDABLE = ['invalid-timestamp', 'missing-timestamp', 'unknown-state'] as const;
/** Below this many listed records a majority of undecidable ones is noise, not drift. */
export const FORMAT_DRIFT_MIN_LISTED = 5;

/** How many records were undecidable when they are more than half of at least FORMAT_DRIFT_MIN_LISTED; else undefined. */
export function formatDriftOf(stats: Pick<TargetStats, 'listed' | 'skipped'>): number | undefined {
  const undecidable = UNDECIDABLE.reduce((n, reason) => n + (stats.skipped[reason] ?? 0), 0);
  return stats.listed >= FORMAT_DRIFT_MIN_LISTED && undecidable * 2 > stats.listed ? undecidable : undefined;
}

/** Exit code of a run. */
export type ExitCode = 0 | 1 | 3 | 4 | 5;

/**
 * 3 a list API or Redis failed; 4 format drift (most records of a target could not be judged); 5 a safety
 * valve refused to delete (more candidates than a cap in refuse mode, or the provider's clock is off, when
 * listing or at a worker's re-read); 1 some
 * candidate is not gone (a delete failed, is still pending, or a target was cut short or not reached);
 * 0 every candidate this run saw is gone.
 */
export function exitCodeFor(stats: readonly TargetStats[]): ExitCode {
  if (stats.some((s) => s.listError !== undefined || s.redisError !== undefined)) return 3;
  if (stats.some((s) => s.formatDrift !== undefined)) return 4;
  // The producer's clock valve, or the worker's on its re-read (a pod whose clock is off): a safety valve refused.
  if (stats.some((s) => s.refused !== undefined || (s.skipped['clock-skew'] ?? 0) > 0)) return 5;
  if (stats.some((s) => total(s.failed) > 0 || s.unsettled > 0 || s.interrupted === true || s.notReached === true
    || s.otherRuns.failed > 0 || s.otherRuns.pending > 0)) return 1;
  return 0;
}

/** Plain-text summary for humans, one block per provider target. */
export function renderSummary(stats: readonly TargetStats[], options: {
  readonly dryRun: boolean;
  /** `produce`: it enqueued, its workers run elsewhere, so there is nothing deleted to show. */
  readonly produced?: boolean;
  readonly run?: { readonly runId: string; readonly exitCode: number };
}): string {
  const of = options.run ? ` of run ${options.run.runId}` : '';
  const lines = [options.dryRun ? `task-janitor summary${of} (DRY RUN: nothing was deleted)` : `task-janitor summary${of}`];
  for (const s of stats) {
    if (s.notReached) {
      lines.push(`${s.provider} ${s.target}: NOT REACHED (signal or JANITOR_MAX_RUNTIME ended the run before its listing): left for the next run`);
      continue;
    }
    const listing = formatDuration((s.listedAt ?? s.finishedAt ?? s.startedAt) - s.startedAt);
    const keeps = (recheck: boolean) => Object.entries(s.skipped).filter(([reason]) => isSkipReason(reason) === recheck).map(([reason, n]) => `${reason} ${n}`);
    const keptAtReread = keptAtRereadOf(s);
    const outcome = options.dryRun ? `would delete ${s.candidates - s.heldBack}`
      : options.produced ? `enqueued ${s.enqueued}, already queued by another run ${s.alreadyQueued}`
        : `deleted ${s.deleted}, already gone ${s.gone}, ${keptAtReread > 0 ? `kept at re-read ${keptAtReread}, ` : ''}failed ${total(s.failed)}, retries ${s.retries}`;
    lines.push(`${s.provider} ${s.target}: listed ${s.listed}, candidates ${s.candidates}, ${outcome}, listing took ${listing}`);
    if (s.scope) lines.push(`  ${describeScope(s.scope)}`);
    const deleting = !options.dryRun && options.produced !== true;
    if (deleting && (s.enqueued > 0 || s.alreadyQueued > 0)) lines.push(`  enqueued ${s.enqueued}, already queued by another run ${s.alreadyQueued}${s.unsettled > 0 ? `, still pending at exit ${s.unsettled}` : ''}`);
    if (deleting && s.alreadyQueued > 0) {
      const o = s.otherRuns;
      lines.push(`  of those queued by another run (its deletions, not counted above): deleted ${o.deleted}, already gone ${o.gone}, kept ${o.skipped}, failed ${o.failed}${o.pending > 0 ? `, still pending at exit ${o.pending}` : ''}`);
    }
    if (keeps(false).length > 0) lines.push(`  kept when listed: ${keeps(false).join(', ')}`);
    if (keeps(true).length > 0) lines.push(`  kept at the re-read before delete: ${keeps(true).join(', ')}`);
    for (const [reason, n] of Object.entries(s.failed)) lines.push(`  failed ${n}: ${reason}`);
    for (const warning of s.listWarnings) lines.push(`  WARNING: ${warning}`);
    if (s.listError) lines.push(`  LIST FAILED: ${s.listError}`);
    if (s.redisError) lines.push(`  REDIS FAILED (the rest is left for the next run): ${s.redisError}`);
    if (s.formatDrift !== undefined) lines.push(`  FORMAT DRIFT: ${s.formatDrift} of ${s.listed} listed records could not be judged (invalid or missing timestamp, unknown state); has the API changed?`);
    if (s.refused !== undefined) lines.push(`  REFUSED (${s.heldBack} candidate(s) not deleted): ${s.refused}`);
    if (s.capped !== undefined) lines.push(`  capped: ${s.heldBack} candidate(s) over ${s.capped} left for a later run (JANITOR_MAX_DELETES_MODE=truncate deletes the oldest first)`);
    if (s.interrupted) lines.push('  LISTING INTERRUPTED (signal or JANITOR_MAX_RUNTIME): the rest is left for the next run');
  }
  if (options.run) lines.push(totalLine(stats, options.run, options.dryRun, options.produced === true));
  return lines.join('\n');
}

const EXIT_MEANINGS: Record<number, string> = {
  0: 'every candidate gone or kept at re-read', 1: 'some candidate is not gone', 2: 'bad configuration', 3: 'a dependency failed', 4: 'format drift', 5: 'a safety valve refused',
};

/** Candidates of a target kept by the re-read just before their delete. */
export function keptAtRereadOf(s: TargetStats): number {
  return Object.entries(s.skipped).reduce((n, [reason, k]) => n + (isSkipReason(reason) ? k ?? 0 : 0), 0);
}

/** Sums over every target of a run: the summary's last line and the notification's totals. */
export function runTotals(stats: readonly TargetStats[]) {
  const add = (pick: (s: TargetStats) => number) => stats.reduce((n, s) => n + pick(s), 0);
  return {
    listed: add((s) => s.listed), candidates: add((s) => s.candidates), wouldDelete: add((s) => s.candidates - s.heldBack),
    enqueued: add((s) => s.enqueued), alreadyQueued: add((s) => s.alreadyQueued),
    deleted: add((s) => s.deleted), gone: add((s) => s.gone), failed: add((s) => total(s.failed)), unsettled: add((s) => s.unsettled),
    otherRunsPending: add((s) => s.otherRuns.pending),
  };
}

/** The run's last line: its id, totals over every target, how long it took and its exit code. */
function totalLine(stats: readonly TargetStats[], run: { readonly runId: string; readonly exitCode: number }, dryRun: boolean, produced: boolean): string {
  const t = runTotals(stats);
  const pending = t.unsettled + t.otherRunsPending;
  const started = Math.min(...stats.map((s) => s.startedAt));
  const finished = Math.max(...stats.map((s) => s.finishedAt ?? s.listedAt ?? s.startedAt));
  const counts = dryRun ? `would delete ${t.wouldDelete}`
    : produced ? `enqueued ${t.enqueued}, already queued by another run ${t.alreadyQueued}`
    : `deleted ${t.deleted}, already gone ${t.gone}, failed ${t.failed}${pending > 0 ? `, still pending ${pending}` : ''}`;
  const took = stats.length > 0 ? `; took ${formatDuration(finished - started)}` : '';
  // Not `<target>: listed …`: scripts that add up the targets' lines must not count this one.
  return `total of run ${run.runId} — listed ${t.listed}, candidates ${t.candidates}, ${counts}${took}; exit ${run.exitCode} (${EXIT_MEANINGS[run.exitCode] ?? 'unknown'})`;
}
