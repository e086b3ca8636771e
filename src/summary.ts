// Per provider and target counters for one run, their text rendering, and the exit code they imply.
import type { KeepReason } from './policy.js';
import type { ProviderName } from './providers/catalog.js';
import { describeScope, type TargetScope } from './scope.js';
import type { SkipReason } from './queue.js';
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
  /** Candidates whose earlier job is still pending: not enqueued twice. */
  alreadyQueued: number;
  skipped: Partial<Record<KeepReason | SkipReason, number>>;
  deleted: number;
  gone: number;
  failed: Record<string, number>;
  /** Settled jobs' extra attempts (attempts beyond the first). */
  retries: number;
  /** Jobs still pending when the run stopped waiting (deadline or signal). */
  unsettled: number;
  listError?: string;
  /** Listing stopped early by a signal or the run deadline. */
  interrupted?: boolean;
  startedAt: number;
  listedAt?: number;
  finishedAt?: number;
}

export function newTargetStats(provider: ProviderName, target: string, now: number, scope?: TargetScope): TargetStats {
  return {
    provider, target, ...(scope ? { scope: { region: scope.region, project: scope.project, ...(scope.instanceId ? { instanceId: scope.instanceId } : {}) } } : {}), listed: 0, candidates: 0, enqueued: 0, alreadyQueued: 0, skipped: {},
    deleted: 0, gone: 0, failed: {}, retries: 0, unsettled: 0, startedAt: now,
  };
}

export function countInto<K extends string>(record: Partial<Record<K, number>>, key: K, by = 1): void {
  record[key] = (record[key] ?? 0) + by;
}

const total = (record: Partial<Record<string, number>>) => Object.values(record).reduce<number>((a, b) => a + (b ?? 0), 0);

/** Exit codes: 0 all good, 1 some deletions failed, did not settle or listing was cut short, 3 a list API failed. */
export function exitCodeFor(stats: readonly TargetStats[]): 0 | 1 | 3 {
  if (stats.some((s) => s.listError !== undefined)) return 3;
  if (stats.some((s) => total(s.failed) > 0 || s.unsettled > 0 || s.interrupted === true)) return 1;
  return 0;
}

/** Plain-text summary for humans, one block per provider target. */
export function renderSummary(stats: readonly TargetStats[], options: { readonly dryRun: boolean }): string {
  const lines = [options.dryRun ? 'task-janitor summary (DRY RUN: nothing was deleted)' : 'task-janitor summary'];
  for (const s of stats) {
    const duration = formatDuration((s.finishedAt ?? s.listedAt ?? s.startedAt) - s.startedAt);
    lines.push(`${s.provider} ${s.target}: listed ${s.listed}, candidates ${s.candidates}, ${
      options.dryRun ? `would delete ${s.candidates}` : `deleted ${s.deleted}, already gone ${s.gone}, failed ${total(s.failed)}, retries ${s.retries}`
    }, duration ${duration}`);
    if (s.scope) lines.push(`  ${describeScope(s.scope)}`);
    if (!options.dryRun && (s.enqueued > 0 || s.alreadyQueued > 0)) lines.push(`  enqueued ${s.enqueued}, already queued by an earlier run ${s.alreadyQueued}${s.unsettled > 0 ? `, still pending at exit ${s.unsettled}` : ''}`);
    const skipped = Object.entries(s.skipped).map(([reason, n]) => `${reason} ${n}`);
    if (skipped.length > 0) lines.push(`  skipped: ${skipped.join(', ')}`);
    for (const [reason, n] of Object.entries(s.failed)) lines.push(`  failed ${n}: ${reason}`);
    if (s.listError) lines.push(`  LIST FAILED: ${s.listError}`);
    if (s.interrupted) lines.push('  LISTING INTERRUPTED (signal or JANITOR_MAX_RUNTIME): the rest is left for the next run');
  }
  return lines.join('\n');
}
