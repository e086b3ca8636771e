// Two deployments with different scopes on one Redis and one queue prefix (issue: two regions left on
// the default prefix failed each other's jobs as "out of scope"): the second refuses to start.
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { queueNameFor } from '../../src/queue.js';
import { registryKey } from '../../src/scope-guard.js';
import { iotdaTime } from '../../src/simulator/iotda.js';
import type { Simulator } from '../../src/simulator/server.js';
import { runCli, startCli } from '../helpers/cli.js';
import { simulatorEnv, useSimulators } from '../helpers/janitor.js';
import { REDIS_URL } from '../helpers/redis.js';

const DAY = 86_400_000;
const NORTH = '0a1b2c3d4e5f60718293a4b5c6d7e8f9';
const SOUTH = 'f9e8d7c6b5a4938271605f4e3d2c1b0a';
const fixture = useSimulators('deployments');

function putStale(sim: Simulator, project: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => {
    const id = `${project.slice(0, 8)}${i.toString(16).padStart(16, '0')}`;
    sim.put('iotda', project, { task_id: id, task_type: 'createDevices', status: 'Success', create_time: iotdaTime(new Date(Date.now() - 30 * DAY)) });
    return id;
  });
}

/** One deployment per project, both on the same prefix. */
async function twoDeployments() {
  const sim = await fixture.start({ projects: { iotda: [NORTH, SOUTH] } });
  const prefix = fixture.prefix();
  const deployment = (project: string) => simulatorEnv(sim, ['iotda'], prefix, { IOTDA_PROJECT_ID: project, IOTDA_TASK_TYPES: 'createDevices' });
  return { sim, prefix, north: deployment(NORTH), south: deployment(SOUTH) };
}

const deletedIn = (sim: Simulator, project: string) => sim.deleted.filter((d) => d.project === project).map((d) => d.id).sort();

describe('one queue prefix, one scope', () => {
  it('refuses to start over pending jobs another deployment queued, deletes nothing, and starts once they settled', async () => {
    const { sim, prefix, north, south } = await twoDeployments();
    const northStale = putStale(sim, NORTH, 6);
    const southStale = putStale(sim, SOUTH, 4);
    expect((await runCli(['produce'], north)).code).toBe(0);

    const refused = await runCli(['run'], south);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`queue delete-iotda (prefix "${prefix}") holds 1 pending delete job(s) for targets outside this deployment's iotda scope (${NORTH})`);
    expect(refused.stderr).toContain('give each deployment its own JANITOR_QUEUE_PREFIX');
    expect(refused.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(sim.deleted).toEqual([]);
    const queue = new Queue(queueNameFor('iotda'), { connection: { url: REDIS_URL }, prefix });
    fixture.onCleanup(() => queue.close());
    // The six stale tasks ride in one job (ten a job at the default P_CONCURRENCY).
    expect(await queue.getJobCounts('waiting', 'failed')).toEqual({ waiting: 1, failed: 0 });

    expect((await runCli(['run'], north)).code).toBe(0);
    expect(deletedIn(sim, NORTH)).toEqual(northStale.sort());
    expect((await runCli(['run'], south)).code).toBe(0);
    expect(deletedIn(sim, SOUTH)).toEqual(southStale.sort());
  }, 90_000);

  it('refuses to start beside a live process of another scope, starts beside one of the same scope, and once the other stopped', async () => {
    const { sim, prefix, north, south } = await twoDeployments();
    putStale(sim, NORTH, 3);
    const southStale = putStale(sim, SOUTH, 3);
    const redis = new Redis(REDIS_URL);
    fixture.onCleanup(() => Promise.resolve(redis.disconnect()));

    const work = startCli(['work'], north);
    fixture.onCleanup(() => Promise.resolve(work.child.kill('SIGKILL')));
    for (let i = 0; i < 150 && (await redis.hlen(registryKey(prefix))) === 0; i++) await sleep(100);
    expect(await redis.hlen(registryKey(prefix))).toBe(1);

    const refused = await runCli(['run'], south);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`queue prefix "${prefix}" is in use by another process with a different iotda scope (targets ${NORTH} there; ${SOUTH} here`);
    expect(sim.deleted).toEqual([]);
    // The refused process left no registration behind.
    expect(await redis.hlen(registryKey(prefix))).toBe(1);

    // Same scope: a run beside the deployment's own workers is the scale-out case.
    expect((await runCli(['run'], north)).code).toBe(0);
    expect(deletedIn(sim, NORTH)).toHaveLength(3);

    work.child.kill('SIGTERM');
    expect((await work.done).code).toBe(0);
    expect(await redis.hlen(registryKey(prefix))).toBe(0);
    expect((await runCli(['run'], south)).code).toBe(0);
    expect(deletedIn(sim, SOUTH)).toEqual(southStale.sort());
  }, 90_000);
});
