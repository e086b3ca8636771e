// Closes resources in reverse order of creation, once, on SIGTERM/SIGINT or at the end of a run.
import type { Logger } from './logger.js';

export interface Shutdown {
  /** Registers a close step; steps run last-registered first. */
  onClose(name: string, close: () => Promise<unknown>): void;
  /** Runs every close step once; later calls return the same promise. */
  close(): Promise<void>;
  /** Resolves when a signal arrived (for long-running commands). */
  readonly signalled: Promise<NodeJS.Signals>;
}

export function createShutdown(logger: Logger, options: { readonly stepTimeoutMs: number; readonly handleSignals?: boolean }): Shutdown {
  const steps: { name: string; close: () => Promise<unknown> }[] = [];
  let closing: Promise<void> | undefined;
  let onSignal: (signal: NodeJS.Signals) => void = () => undefined;
  const signalled = new Promise<NodeJS.Signals>((resolve) => { onSignal = resolve; });

  const close = () => {
    closing ??= (async () => {
      for (const step of steps.reverse()) {
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([
            step.close(),
            new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`did not close within ${options.stepTimeoutMs}ms`)), options.stepTimeoutMs); }),
          ]);
          logger.debug({ resource: step.name }, 'resource closed');
        } catch (err) {
          logger.warn({ resource: step.name, err }, 'resource close failed');
        } finally {
          clearTimeout(timer);
        }
      }
    })();
    return closing;
  };

  if (options.handleSignals !== false) {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => {
        logger.info({ signal }, 'shutdown requested');
        onSignal(signal);
      });
    }
  }
  return { onClose: (name, fn) => steps.push({ name, close: fn }), close, signalled };
}
