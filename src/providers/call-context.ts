// Tags each provider HTTP call with its provider and operation, so the one HTTP client can report
// calls by kind and status (and throttling) without every adapter doing its own counting.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { ProviderName } from './catalog.js';
import { ProviderError, type Provider, type ServerClockReading, type TaskRead, type TaskRef } from './provider.js';

export type ProviderOperation = 'list' | 'get' | 'delete';

/** Told about every provider HTTP response (or network failure) and every throttled answer. */
export interface ProviderCallObserver {
  called(provider: ProviderName, operation: ProviderOperation, status: number | 'network-error'): void;
  throttled(provider: ProviderName, operation: ProviderOperation): void;
}

interface CallContext {
  readonly provider: ProviderName;
  readonly operation: ProviderOperation;
  readonly observer: ProviderCallObserver | undefined;
  readonly clock: ServerClock;
}

/** A provider's HTTP Date header against the local clock: the largest skew on its list calls, and the latest on a re-read. */
export class ServerClock implements ServerClockReading {
  private worst: number | undefined;
  private latestRead: number | undefined;

  record(skewMs: number): void {
    if (this.worst === undefined || Math.abs(skewMs) > Math.abs(this.worst)) this.worst = skewMs;
  }

  recordRead(skewMs: number): void {
    this.latestRead = skewMs;
  }

  skewMs(): number | undefined {
    return this.worst;
  }

  readSkewMs(): number | undefined {
    return this.latestRead;
  }
}

const current = new AsyncLocalStorage<CallContext>();

/** Whether the call in progress belongs to a listing (unknown outside an observed provider: assume it does). */
export function inListing(): boolean {
  const operation = current.getStore()?.operation;
  return operation === undefined || operation === 'list';
}

/** Reports one HTTP response or network failure of the call in progress, if it is observed. */
export function reportCall(status: number | 'network-error'): void {
  const context = current.getStore();
  context?.observer?.called(context.provider, context.operation, status);
}

/**
 * Records a response's `Date` header against the local clock: on list calls (the producer's check)
 * and on re-reads (the worker's check, which may run on another machine). The header has whole
 * seconds, so a skew under a second is noise.
 */
export function reportServerDate(date: string | undefined, receivedAt = Date.now()): void {
  const context = current.getStore();
  if (!context || context.operation === 'delete' || date === undefined) return;
  const at = Date.parse(date);
  if (!Number.isFinite(at)) return;
  if (context.operation === 'list') context.clock.record(at - receivedAt);
  else context.clock.recordRead(at - receivedAt);
}

/** Reports a throttled answer that the adapter absorbs itself (a retried list page). */
export function reportThrottled(err: unknown): void {
  const context = current.getStore();
  if (context && err instanceof ProviderError && err.kind === 'throttled') context.observer?.throttled(context.provider, context.operation);
}

/** The same provider, with every call it makes reported to `observer` (when given) and its list answers' clock to `serverClock`. */
export function observeProvider(provider: Provider, observer: ProviderCallObserver | undefined, clock = new ServerClock()): Provider {
  const within = <T>(operation: ProviderOperation, call: () => Promise<T>): Promise<T> =>
    current.run({ provider: provider.name, operation, observer, clock }, call);
  const throttledDelete = () => observer?.throttled(provider.name, 'delete');
  return {
    name: provider.name,
    serverClock: clock,
    listTasks(target, signal, onWarning) {
      return {
        [Symbol.asyncIterator]() {
          const pages = provider.listTasks(target, signal, onWarning)[Symbol.asyncIterator]();
          return {
            next: () => within('list', () => pages.next()),
            return: () => within('list', async () => (await pages.return?.()) ?? { done: true as const, value: undefined }),
          };
        },
      };
    },
    deleteTasks: (target, taskIds) => within('delete', async () => {
      try {
        const result = await provider.deleteTasks(target, taskIds);
        if (result.failures.some((f) => f.error.kind === 'throttled')) throttledDelete();
        return result;
      } catch (err) {
        if (err instanceof ProviderError && err.kind === 'throttled') throttledDelete();
        throw err;
      }
    }),
    getTask: (target, task) => reading(() => provider.getTask(target, task)),
    ...(provider.getTasks !== undefined ? {
      getTasks: (target: string, tasks: readonly TaskRef[]) => reading(async () => (await provider.getTasks?.(target, tasks)) ?? new Map<string, TaskRead>()),
    } : {}),
  };
  function reading<T>(read: () => Promise<T>): Promise<T> {
    return within('get', async () => {
      try {
        return await read();
      } catch (err) {
        if (err instanceof ProviderError && err.kind === 'throttled') observer?.throttled(provider.name, 'get');
        throw err;
      }
    });
  }
}
