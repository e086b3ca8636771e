import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ProviderConfig } from '../src/config.js';
import { deleteJobSlots, DeletePermits, queueShareOf, tasksPerJob } from '../src/delete-permits.js';

/** A pool with `jobs` active jobs. */
function poolWith(total: number, slots: number, jobs: number): DeletePermits {
  const pool = new DeletePermits(total, slots);
  for (let i = 0; i < jobs; i++) pool.jobStarted();
  return pool;
}

describe('delete permits', () => {
  it('never hand out more than P permits, however the active jobs spread over processes', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 100 }), fc.constantFrom(1, 10), fc.array(fc.nat({ max: 100 }), { minLength: 1, maxLength: 6 }), (total, perCall, weights) => {
      const slots = deleteJobSlots(total, perCall);
      expect(slots).toBeGreaterThanOrEqual(1);
      expect(slots).toBeLessThanOrEqual(total);
      // Any spread of at most J active jobs over the pools.
      let left = slots;
      const jobs = weights.map((w) => { const n = Math.min(left, w % (slots + 1)); left -= n; return n; });
      const sum = jobs.reduce((n, a) => n + poolWith(total, slots, a).capacity, 0);
      expect(sum).toBeLessThanOrEqual(total);
      // One process holding every active job uses all of P.
      expect(poolWith(total, slots, slots).capacity).toBe(total);
    }));
  });

  it('one call per job where a job is one call (Workspace), two permits per job otherwise', () => {
    expect(deleteJobSlots(4, 10)).toBe(4);
    expect(deleteJobSlots(32, 10)).toBe(32);
    expect(deleteJobSlots(32, 1)).toBe(16);
    expect(deleteJobSlots(5, 1)).toBe(3);
    expect(deleteJobSlots(4, 1)).toBe(2);
    expect(deleteJobSlots(3, 1)).toBe(2);
    expect(deleteJobSlots(1, 1)).toBe(1);
  });

  it('gives a job ten tasks (five per permit), and Workspace one batch call a job', () => {
    expect(tasksPerJob(1)).toBe(10);
    expect(tasksPerJob(10)).toBe(10);
  });

  it('follows the queue\'s P and J: a smaller capacity grants nothing until the tasks in flight are within it', async () => {
    const pool = poolWith(32, 16, 4); // P = 32: two permits a job
    for (let i = 0; i < 8; i++) await pool.acquire();
    expect(pool.capacity).toBe(8);
    pool.follow(10, 10); // one permit a job, as the queue's P and J now say
    expect(pool.capacity).toBe(4);
    let granted = false;
    const next = pool.acquire().then(() => { granted = true; });
    for (let i = 0; i < 4; i++) pool.release();
    await Promise.resolve();
    expect(granted).toBe(false); // 4 in flight on a capacity of 4
    pool.release();
    await next;
    expect(pool.tasksInFlight).toBe(4);
    pool.follow(32, 16);
    expect(pool.capacity).toBe(8);
  });

  it('reads the queue\'s P as stored, and ignores what this version would not accept', () => {
    const iotda = { name: 'iotda' } as ProviderConfig;
    expect(queueShareOf('10', iotda)).toEqual({ total: 10, jobSlots: 5 });
    expect(queueShareOf('32', iotda)).toEqual({ total: 32, jobSlots: 16 });
    expect(queueShareOf('10', { name: 'workspace' } as ProviderConfig)).toEqual({ total: 10, jobSlots: 10 });
    for (const stored of [null, '', '0', '101', '4.5', '-3', 'ten', '1e2']) expect(queueShareOf(stored, iotda)).toBeUndefined();
  });

  it('grants in order and never beyond the capacity', async () => {
    const pool = poolWith(4, 2, 1); // capacity 2
    const order: number[] = [];
    const grants = [1, 2, 3, 4].map((n) => pool.acquire().then(() => order.push(n)));
    await Promise.resolve();
    await Promise.resolve();
    expect(order).toEqual([1, 2]);
    expect(pool.tasksInFlight).toBe(2);
    pool.jobStarted(); // capacity 4
    await Promise.all(grants);
    expect(order).toEqual([1, 2, 3, 4]);
    expect(pool.tasksInFlight).toBe(4);
  });

  it('a finished job lets go of its slot only once its share is no longer in use', async () => {
    const pool = poolWith(4, 2, 2); // capacity 4
    for (let i = 0; i < 4; i++) await pool.acquire(); // the other job's tasks use all four
    let left = false;
    const leaving = pool.jobFinished().then(() => { left = true; });
    expect(pool.capacity).toBe(2);
    pool.release();
    await Promise.resolve();
    expect(left).toBe(false); // 3 in flight on a capacity of 2
    let extra = false;
    void pool.acquire().then(() => { extra = true; });
    pool.release();
    await leaving;
    expect(pool.tasksInFlight).toBe(2);
    expect(extra).toBe(false); // the waiting task gets a permit only below the new capacity
    pool.release();
    await Promise.resolve();
    expect(extra).toBe(true);
  });
});
