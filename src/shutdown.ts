// Ends a process within one grace budget: on SIGTERM/SIGINT, the run's deadline or its end, intake stops
// first (workers, the schedule, all at once), then resources close in reverse order; what is not closed by the end of
// JANITOR_SHUTDOWN_GRACE is abandoned. A second signal, or a shutdown that hangs anyway, forces the exit.
import type { Logger } from './logger.js';

export interface Shutdown {
  /** Registers a step that stops taking new work (a worker, the schedule); every one starts first, together. */
  onStop(name: string, stop: () => Promise<unknown>): void;
  /** Registers a resource's close; they run last-registered first once every stop step has ended (or the budget is spent). */
  onClose(name: string, close: () => Promise<unknown>): void;
  /** Starts the one grace budget; the first call wins (a signal, the run's deadline, or its end). */
  startGrace(): void;
  /** Milliseconds left of the grace budget: all of it before it starts, 0 once it is spent. */
  graceLeftMs(): number;
  /** Runs every step once within the budget; later calls return the same promise. */
  close(): Promise<void>;
  /** Resolves when the first signal arrived (for long-running commands). */
  readonly signalled: Promise<NodeJS.Signals>;
  /** What a forced exit prints first (the summary so far); returns the exit code (default 1). */
  onForcedExit(report: () => number): void;
}

/** How long past its grace a shutdown may still take (a Redis command in flight, the last log lines) before the watchdog exits. */
export const WATCHDOG_MARGIN_MS = 5_000;

interface Step { readonly name: string; readonly run: () => Promise<unknown> }

export function createShutdown(logger: Logger, options: {
  readonly graceMs: number;
  /** false in tests run in-process: no signal handlers, no watchdog, never process.exit. */
  readonly handleSignals?: boolean;
}): Shutdown {
  const stops: Step[] = [];
  const closes: Step[] = [];
  const processLevel = options.handleSignals !== false;
  let graceStartedAt: number | undefined;
  let closing: Promise<void> | undefined;
  let signalCount = 0;
  let forcedReport: () => number = () => 1;
  let onSignal: (signal: NodeJS.Signals) => void = () => undefined;
  const signalled = new Promise<NodeJS.Signals>((resolve) => { onSignal = resolve; });

  const graceLeftMs = () => (graceStartedAt === undefined ? options.graceMs : Math.max(0, graceStartedAt + options.graceMs - Date.now()));

  const forceExit = (reason: string) => {
    logger.error({ reason, graceMs: options.graceMs }, 'forced exit');
    let code = 1;
    try {
      code = forcedReport();
    } catch (err) {
      logger.error({ err }, 'could not report before the forced exit');
    }
    process.stdout.write('', () => process.exit(code));
  };

  const startGrace = () => {
    if (graceStartedAt !== undefined) return;
    graceStartedAt = Date.now();
    // Everything the shutdown waits for is bounded; this catches what is not (a stuck library call).
    if (processLevel) setTimeout(() => forceExit('the shutdown overran JANITOR_SHUTDOWN_GRACE'), options.graceMs + WATCHDOG_MARGIN_MS).unref();
  };

  /** Runs one step until it ends or the budget does (then it is abandoned, not awaited). */
  const runWithinBudget = async (step: Step) => {
    let timer: NodeJS.Timeout | undefined;
    const budget = new Promise<'abandoned'>((resolve) => { timer = setTimeout(() => resolve('abandoned'), graceLeftMs()); });
    try {
      const result = await Promise.race([step.run().then(() => 'closed' as const), budget]);
      if (result === 'closed') logger.debug({ resource: step.name }, 'resource closed');
      else logger.warn({ resource: step.name, graceMs: options.graceMs }, 'resource not closed within the shutdown grace; abandoned');
    } catch (err) {
      logger.warn({ resource: step.name, err: { message: (err as Error).message } }, 'resource close failed');
    } finally {
      clearTimeout(timer);
    }
  };

  const close = () => {
    closing ??= (async () => {
      startGrace();
      // Intake stops everywhere at once; resources then close last-registered first (a registration
      // must be removed before the connection it uses closes), all within the same budget.
      await Promise.all(stops.map(runWithinBudget));
      for (const step of closes.reverse()) await runWithinBudget(step);
    })();
    return closing;
  };

  if (processLevel) {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      // Not `once`: without a handler a second signal would kill the process with no summary.
      process.on(signal, () => {
        if (signalCount > 0) {
          forceExit(`second ${signal}`);
          return;
        }
        signalCount += 1;
        logger.info({ signal, graceMs: options.graceMs }, 'shutdown requested');
        startGrace();
        onSignal(signal);
      });
    }
  }
  return {
    onStop: (name, stop) => stops.push({ name, run: stop }),
    onClose: (name, fn) => closes.push({ name, run: fn }),
    startGrace, graceLeftMs, close, signalled,
    onForcedExit: (report) => { forcedReport = report; },
  };
}
