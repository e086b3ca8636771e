import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/simulator/server.js';
import { captureLogs, expectedDeletions, runJanitor, simulatorEnv, useSimulators } from '../helpers/janitor.js';
import { DEFAULT_SIM_PROJECTS } from '../../src/simulator/server.js';

const DAY = 86_400_000;
const PROJECT = DEFAULT_SIM_PROJECTS.iotda[0] as string;
const TERMINAL = ['Success', 'Fail', 'PartialSuccess', 'Stopped'];

describe('run against the IoTDA simulator', () => {
  let sim: Simulator;
  const fixture = useSimulators('iotda');

  beforeAll(async () => { sim = await startSimulator({ tasksPerProject: 300, seed: 7 }); });
  afterAll(async () => { await sim.close(); });

  it('deletes exactly the stale terminal tasks, and a second run finds nothing left to enqueue', async () => {
    const expected = expectedDeletions(sim, 'iotda', PROJECT, TERMINAL, 7 * DAY);
    expect(expected.length).toBeGreaterThan(50);
    const p = fixture.prefix();
    const logs = captureLogs();
    const report = await runJanitor(simulatorEnv(sim, ['iotda'], p), { logs: logs.stream, logLevel: 'info' });
    const deleted = sim.deleted.filter((d) => d.provider === 'iotda').map((d) => d.id).sort();
    expect(deleted).toEqual(expected);
    expect(report.exitCode).toBe(0);
    const stats = report.stats[0];
    expect(stats?.listed).toBe(300);
    expect(stats?.deleted).toBe(expected.length);
    expect(stats?.skipped['unknown-state']).toBeGreaterThan(0);
    // One event per deletion, with provider, project, task id, state, age and request id.
    const events = logs.lines.filter((l) => l.msg === 'task deleted');
    expect(events).toHaveLength(expected.length);
    expect(events[0]).toMatchObject({ provider: 'iotda', target: PROJECT });
    expect(events[0]).toHaveProperty('taskId');
    expect(events[0]).toHaveProperty('state');
    expect(events[0]).toHaveProperty('ageMs');
    expect(typeof events[0]?.requestId).toBe('string');
    // Nothing secret reaches the logs.
    expect(JSON.stringify(logs.lines)).not.toContain('simulator-huawei-secret');

    const again = await runJanitor(simulatorEnv(sim, ['iotda'], p));
    expect(again.stats[0]?.candidates).toBe(0);
    expect(again.stats[0]?.enqueued).toBe(0);
  });
});
