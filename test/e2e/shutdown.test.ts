import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { iotdaTime } from '../../src/simulator/iotda.js';
import { DEFAULT_SIM_PROJECTS, type Simulator } from '../../src/simulator/server.js';
import { runCli, startCli } from '../helpers/cli.js';
import { simulatorEnv, useSimulators } from '../helpers/janitor.js';

const IOTDA = DEFAULT_SIM_PROJECTS.iotda[0] as string;
const MPC = DEFAULT_SIM_PROJECTS.mpc[0] as string;
const fixture = useSimulators('shutdown');

function seed(sim: Simulator, count: number): void {
  for (let n = 1; n <= count; n++) {
    sim.put('iotda', IOTDA, { task_id: n.toString(16).padStart(24, '0'), task_type: 'createDevices', status: 'Success', create_time: iotdaTime(new Date(Date.now() - 30 * 86_400_000)) });
    sim.put('mpc', MPC, { task_id: String(100_000 + n), status: 'SUCCEED', create_time: '20200101000000', end_time: '20200101000000' });
  }
}

describe('shutdown within one grace budget', () => {
  it('work: on SIGTERM every worker stops taking jobs at once, and the process ends within JANITOR_SHUTDOWN_GRACE', async () => {
    const sim = await fixture.start();
    seed(sim, 30);
    const env = simulatorEnv(sim, ['iotda', 'mpc'], fixture.prefix(), {
      IOTDA_TASK_TYPES: 'createDevices', IOTDA_CONCURRENCY: '2', MPC_CONCURRENCY: '2', JANITOR_SHUTDOWN_GRACE: '2s', LOG_LEVEL: 'info',
    });
    expect((await runCli(['produce'], env)).code).toBe(0);
    // Every call now takes 1.5 s: each worker has deletes in flight when the signal comes.
    sim.knobs.latencyMs = 1_500;
    const work = startCli(['work'], env);
    fixture.onCleanup(() => Promise.resolve(work.child.kill('SIGKILL')));
    for (let i = 0; i < 200 && sim.counters.iotda.deleteTimes.length + sim.counters.mpc.deleteTimes.length < 4; i++) await sleep(50);
    const signalledAt = Date.now();
    const reReadsAtSignal = sim.counters.iotda.get + sim.counters.mpc.get;
    work.child.kill('SIGTERM');
    const result = await work.done;
    const tookMs = Date.now() - signalledAt;
    expect(result.code).toBe(0);
    // One budget for the whole shutdown (2 s), not one per close step, plus a margin for exiting.
    expect(tookMs).toBeLessThan(2_000 + 2_500);
    // No job started after the signal: a job's first call is its re-read.
    expect(sim.counters.iotda.get + sim.counters.mpc.get).toBe(reReadsAtSignal);
    expect(result.stderr).toContain('"msg":"shutdown requested"');
  }, 60_000);
});

describe('the shutdown watchdog', () => {
  it('exits with the summary when something still hangs past JANITOR_SHUTDOWN_GRACE (a Pushgateway that never answers)', async () => {
    const sim = await fixture.start();
    seed(sim, 2);
    // Accepts connections and never answers: the push waits for its own 10 s timeout.
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    fixture.onCleanup(() => new Promise((resolve) => { silent.closeAllConnections(); silent.close(resolve); }));
    const port = (silent.address() as AddressInfo).port;
    const result = await runCli(['run'], simulatorEnv(sim, ['iotda'], fixture.prefix(), {
      IOTDA_TASK_TYPES: 'createDevices', JANITOR_SHUTDOWN_GRACE: '1s', JANITOR_PUSHGATEWAY_URL: `http://127.0.0.1:${port}`, LOG_LEVEL: 'info',
    }));
    // Forced: not a clean exit, though every candidate was deleted; the summary is printed all the same.
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/iotda .*: listed 2, candidates 2, deleted 2/);
    expect(result.stderr).toContain('"msg":"forced exit"');
    // The push would have waited 10 s; the watchdog ends it 1 s (grace) + 5 s (margin) after the run stopped.
    expect(result.ms).toBeLessThan(9_500);
  }, 60_000);
});
