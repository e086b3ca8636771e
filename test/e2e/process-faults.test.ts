// A process killed mid-work, through the built CLI: a `work` process SIGKILLed with deletes in flight.
// Nothing is deleted wrongly, nothing is lost (the next run deletes the rest), and its summary counts
// what the provider saw. (SIGTERM mid-run: test/e2e/true-summary.test.ts; a killed `run`: ownership.test.ts.)
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { iotdaTime } from '../../src/simulator/iotda.js';
import { DEFAULT_SIM_PROJECTS, type Simulator } from '../../src/simulator/server.js';
import { runCli, startCli } from '../helpers/cli.js';
import { recordFigures } from '../helpers/figures.js';
import { simulatorEnv, useSimulators } from '../helpers/janitor.js';

const DAY = 86_400_000;
const PROJECT = DEFAULT_SIM_PROJECTS.iotda[0] as string;
const fixture = useSimulators('process-faults');
const figures = { faultsInjected: 0, wronglyDeleted: 0, lost: 0 };
afterAll(() => recordFigures('process-faults', figures));

function seed(sim: Simulator, stale: number): { stale: string[]; running: string[] } {
  const old = iotdaTime(new Date(Date.now() - 30 * DAY));
  const put = (n: number, status: string) => {
    const id = n.toString(16).padStart(24, '0');
    sim.put('iotda', PROJECT, { task_id: id, task_type: 'createDevices', status, create_time: old });
    return id;
  };
  return { stale: Array.from({ length: stale }, (_, i) => put(i + 1, 'Success')), running: [1, 2, 3].map((i) => put(stale + i, 'Processing')) };
}

const deleted = (sim: Simulator) => sim.deleted.map((d) => d.id).sort();

async function until(condition: () => boolean, ms = 30_000): Promise<void> {
  for (const started = Date.now(); !condition(); await sleep(25)) if (Date.now() - started > ms) throw new Error('condition not met in time');
}

describe('a process killed mid-work', () => {
  it('a work process SIGKILLed with deletes in flight: the next run deletes the rest, nothing else, and exits 0', async () => {
    const sim = await fixture.start({ latencyMs: 80 });
    const seeded = seed(sim, 30);
    const env = simulatorEnv(sim, ['iotda'], fixture.prefix(), {
      IOTDA_TASK_TYPES: 'createDevices', IOTDA_CONCURRENCY: '3', IOTDA_RATE_LIMIT: '20/s', JANITOR_JOB_LOCK: '2s', JANITOR_MAX_RUNTIME: '60s',
    });
    expect((await runCli(['produce'], env)).code).toBe(0);
    const worker = startCli(['work'], env);
    await until(() => sim.deleted.length >= 5);
    worker.child.kill('SIGKILL');
    expect((await worker.done).code).toBeNull();
    figures.faultsInjected += 1;
    await sleep(300); // a delete already on the wire lands
    const before = sim.deleted.length;
    expect(before).toBeLessThan(seeded.stale.length);

    const next = await runCli(['run'], env);
    figures.wronglyDeleted += deleted(sim).filter((id) => !seeded.stale.includes(id)).length;
    figures.lost += seeded.stale.filter((id) => !deleted(sim).includes(id)).length;
    expect(deleted(sim)).toEqual(seeded.stale);
    expect(next.code).toBe(0);
    // What the run reports (its own deletions and those of the jobs the killed worker left) is what the provider saw since.
    const own = /deleted (\d+), already gone (\d+), failed 0/.exec(next.stdout);
    const other = /of those queued by another run .*: deleted (\d+), already gone (\d+)/.exec(next.stdout);
    expect(Number(own?.[1]) + Number(other?.[1] ?? 0)).toBe(seeded.stale.length - before);
  }, 90_000);
});
