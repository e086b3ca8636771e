import { describe, expect, it } from 'vitest';
import { REDIS_COMMAND_TIMEOUT_MS, tuningFor } from '../src/redis.js';

describe('Redis connection tuning', () => {
  // Only the lazy template BullMQ duplicates into workers' and QueueEvents' blocking connections may wait unbounded.
  it.each(['shared', 'admin'] as const)('bounds every %s command: a timeout and a limited number of reconnect attempts', (purpose) => {
    const options = tuningFor(purpose);
    expect(options.commandTimeout).toBe(REDIS_COMMAND_TIMEOUT_MS);
    expect(typeof options.maxRetriesPerRequest).toBe('number');
  });

  it('lets the probe fail at once: no reconnects, no offline queue', () => {
    const options = tuningFor('probe', 1_000);
    expect(options).toMatchObject({ connectTimeout: 1_000, maxRetriesPerRequest: 0, enableOfflineQueue: false });
    expect(options.retryStrategy?.(1)).toBeNull();
  });

  it('gives the blocking template what BullMQ requires (maxRetriesPerRequest: null) and never connects it', () => {
    expect(tuningFor('worker')).toEqual({ maxRetriesPerRequest: null, lazyConnect: true });
  });
});
