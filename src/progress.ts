// Shows that a long run is moving: on a TTY a live per-provider line (done/total, rate, ETA),
// otherwise a `progress` log event every JANITOR_PROGRESS_INTERVAL (readable with `kubectl logs`).
import type { Logger } from './logger.js';
import type { ProviderName } from './providers/catalog.js';
import { keptAtRereadOf, type TargetStats } from './summary.js';
import { formatDuration } from './units.js';

/** One provider's progress through the jobs this run enqueued. */
export interface ProviderProgress {
  readonly provider: ProviderName;
  /** Tasks settled: deleted, already gone, kept by the re-check, or failed for good. */
  readonly done: number;
  readonly total: number;
  readonly ratePerSecond: number;
  /** Undefined until a rate is known. */
  readonly etaSeconds: number | undefined;
}

/** Per-provider progress from the run's counters; the rate is measured since `since`. */
export function progressOf(stats: readonly TargetStats[], elapsedMs: number): ProviderProgress[] {
  const byProvider = new Map<ProviderName, { done: number; total: number }>();
  for (const s of stats) {
    const entry = byProvider.get(s.provider) ?? { done: 0, total: 0 };
    const failed = Object.values(s.failed).reduce((a, b) => a + b, 0);
    entry.done += s.deleted + s.gone + keptAtRereadOf(s) + failed;
    entry.total += s.enqueued;
    byProvider.set(s.provider, entry);
  }
  return [...byProvider].map(([provider, { done, total }]) => {
    const ratePerSecond = elapsedMs > 0 ? (done * 1000) / elapsedMs : 0;
    const etaSeconds = ratePerSecond > 0 ? Math.ceil((total - done) / ratePerSecond) : undefined;
    return { provider, done, total, ratePerSecond: Math.round(ratePerSecond * 10) / 10, etaSeconds };
  });
}

/** `imm 120/479 35.2/s ETA 10s  vias 0/12 0/s ETA ?` */
export function renderProgressLine(progress: readonly ProviderProgress[]): string {
  return progress.map((p) => `${p.provider} ${p.done}/${p.total} ${p.ratePerSecond}/s ETA ${
    p.done >= p.total ? 'done' : p.etaSeconds === undefined ? '?' : formatDuration(p.etaSeconds * 1000)
  }`).join('  ');
}

export interface ProgressReporter {
  /** The run's progress callback: called about once a second while jobs settle. */
  readonly update: (stats: readonly TargetStats[], pendingTasks: number) => void;
  /** Ends the live line (a newline on a TTY). */
  readonly finish: () => void;
}

export function createProgressReporter(options: {
  readonly logger: Logger;
  readonly intervalMs: number;
  /** The terminal's stream when it is one; undefined means log events instead. */
  readonly tty: NodeJS.WritableStream | undefined;
  readonly now?: () => number;
}): ProgressReporter {
  const now = options.now ?? Date.now;
  let startedAt: number | undefined;
  let lastLogAt: number | undefined;
  let drawn = false;
  return {
    update(stats, pending) {
      const at = now();
      startedAt ??= at;
      const progress = progressOf(stats, at - startedAt);
      if (options.tty) {
        options.tty.write(`\r${renderProgressLine(progress)}  pending tasks ${pending}\u001b[K`);
        drawn = true;
      } else if (lastLogAt === undefined || at - lastLogAt >= options.intervalMs) {
        // The first call only sets the clock: a log event says something once a rate exists.
        if (lastLogAt !== undefined) options.logger.info({ progress, pendingTasks: pending }, 'progress');
        lastLogAt = at;
      }
    },
    finish() {
      if (drawn) options.tty?.write('\n');
      drawn = false;
    },
  };
}
