import { describe, expect, it } from 'vitest';
import { iotdaTime } from '../../src/simulator/iotda.js';
import { DEFAULT_SIM_PROJECTS, type Simulator } from '../../src/simulator/server.js';
import { renderSummary } from '../../src/summary.js';
import { captureLogs, runJanitor, simulatorEnv, useSimulators } from '../helpers/janitor.js';

const PROJECT = DEFAULT_SIM_PROJECTS.iotda[0] as string;
const OLD = iotdaTime(new Date(Date.now() - 30 * 86_400_000));
const fixture = useSimulators('drift');

function put(sim: Simulator, n: number, createTime: string | undefined, status = 'Success'): void {
  sim.put('iotda', PROJECT, { task_id: n.toString(16).padStart(24, '0'), task_type: 'createDevices', status, ...(createTime === undefined ? {} : { create_time: createTime }) });
}

describe('format drift', () => {
  it('warns, marks the target and exits 4 when most listed records cannot be judged, and still deletes the judged ones', async () => {
    const sim = await fixture.start();
    put(sim, 1, OLD);
    put(sim, 2, OLD);
    put(sim, 3, '2026/11/27 10:00:00'); // a format the API does not document
    put(sim, 4, undefined);
    put(sim, 5, OLD, 'Finished'); // a state the API does not document
    put(sim, 6, '27 Nov 2026');
    const logs = captureLogs();
    const report = await runJanitor(simulatorEnv(sim, ['iotda'], fixture.prefix(), { IOTDA_TASK_TYPES: 'createDevices' }), { logs: logs.stream, logLevel: 'info' });
    expect(report.exitCode).toBe(4);
    expect(report.stats[0]).toMatchObject({ listed: 6, deleted: 2, formatDrift: 4 });
    expect(sim.deleted).toHaveLength(2);
    expect(renderSummary(report.stats, { dryRun: false })).toContain('FORMAT DRIFT: 4 of 6 listed records could not be judged');
    expect(logs.lines.some((l) => l.level === 50 && String(l.msg).startsWith('format drift'))).toBe(true);
  });

  it('exits 0 when a minority of records cannot be judged', async () => {
    const sim = await fixture.start();
    for (let n = 1; n <= 4; n++) put(sim, n, OLD);
    put(sim, 5, 'garbage');
    const report = await runJanitor(simulatorEnv(sim, ['iotda'], fixture.prefix(), { IOTDA_TASK_TYPES: 'createDevices' }));
    expect(report.exitCode).toBe(0);
    expect(report.stats[0]?.formatDrift).toBeUndefined();
  });
});
