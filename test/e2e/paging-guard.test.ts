// Paging that never ends: a cycling or repeated page token, or the page cap, stops that target with a
// reason and a non-zero exit while the other targets are listed as usual (issue 11, item 4).
import { describe, expect, it } from 'vitest';
import { iotdaTime } from '../../src/simulator/iotda.js';
import { DEFAULT_SIM_PROJECTS, type Simulator } from '../../src/simulator/server.js';
import { runCli } from '../helpers/cli.js';
import { simulatorEnv, useSimulators } from '../helpers/janitor.js';

const DAY = 86_400_000;
const IOTDA = DEFAULT_SIM_PROJECTS.iotda[0] as string;
const fixture = useSimulators('paging-guard');

/** `n` stale createDevices tasks: more than two IoTDA pages of 50. */
function putIotdaTasks(sim: Simulator, n: number): void {
  for (let i = 1; i <= n; i++) {
    sim.put('iotda', IOTDA, { task_id: i.toString(16).padStart(24, '0'), task_name: `t${i}`, task_type: 'createDevices', status: 'Success', create_time: iotdaTime(new Date(Date.now() - 30 * DAY)) });
  }
}

function dryRunEnv(sim: Simulator, extra: Record<string, string> = {}) {
  return simulatorEnv(sim, ['iotda', 'imm', 'mpc'], fixture.prefix(), { JANITOR_DRY_RUN: 'true', IOTDA_TASK_TYPES: 'createDevices', ...extra });
}

describe('paging that never ends', () => {
  it.each(['cycle', 'repeat'] as const)('stops an IoTDA listing whose marker comes back (%s) and lists the other targets', async (mode) => {
    const sim = await fixture.start({ tasksPerProject: 150, seededProviders: ['mpc'] });
    putIotdaTasks(sim, 120);
    sim.pagingFault('iotda', mode);
    const result = await runCli(['run'], dryRunEnv(sim));
    expect(result.stdout).toMatch(/iotda [0-9a-f]{32}: .*\n(?:.*\n)*?\s+LIST FAILED: .*paging stopped: ListBatchTasks \(task_type createDevices\) returned marker "[0-9a-f]{24}" again/);
    expect(result.stdout).toMatch(/mpc [0-9a-f]{32}: listed 150,/);
    expect(result.code).toBe(3);
    // Stopped at the first token seen twice: no more than three pages.
    expect(sim.counters.iotda.list).toBeLessThanOrEqual(3);
  });

  it('walks on past a full IoTDA page that comes without page.marker, from its smallest task_id (the marker\'s documented meaning)', async () => {
    const sim = await fixture.start({ seededProviders: [] });
    putIotdaTasks(sim, 120);
    sim.pagingFault('iotda', 'omit');
    const result = await runCli(['run'], dryRunEnv(sim));
    expect(result.stdout).toMatch(/iotda [0-9a-f]{32}: listed 120,/);
    expect(result.code).toBe(0);
    expect(sim.counters.iotda.list).toBe(3);
  });

  it('stops an IMM listing whose NextToken cycles', async () => {
    const sim = await fixture.start({ tasksPerProject: 250, seededProviders: ['imm', 'mpc'] });
    sim.pagingFault('imm', 'cycle');
    const result = await runCli(['run'], dryRunEnv(sim));
    expect(result.stdout).toContain('paging stopped: ListBatches returned NextToken');
    expect(result.stdout).toMatch(/mpc [0-9a-f]{32}: listed 250,/);
    expect(result.code).toBe(3);
    expect(sim.counters.imm.list).toBeLessThanOrEqual(3);
  });

  it('stops a listing at JANITOR_MAX_LIST_PAGES, saying records were left unlisted', async () => {
    const sim = await fixture.start({ tasksPerProject: 250, seededProviders: ['imm', 'mpc'] });
    putIotdaTasks(sim, 120);
    const result = await runCli(['run'], dryRunEnv(sim, { JANITOR_MAX_LIST_PAGES: '2' }));
    // IoTDA (50 a page) and MPC (100 a page) need three pages; IMM (100 a page) too.
    expect(result.stdout).toMatch(/iotda [0-9a-f]{32}: listed 100,/);
    expect(result.stdout).toMatch(/mpc [0-9a-f]{32}: listed 200,/);
    expect(result.stdout.match(/LIST FAILED: paging stopped at the 2-page cap \(JANITOR_MAX_LIST_PAGES\)/g)).toHaveLength(3);
    expect(result.code).toBe(3);
  });

  it('lists everything when the pages fit under the cap', async () => {
    const sim = await fixture.start({ tasksPerProject: 250, seededProviders: ['imm', 'mpc'] });
    putIotdaTasks(sim, 120);
    const result = await runCli(['run'], dryRunEnv(sim, { JANITOR_MAX_LIST_PAGES: '3' }));
    expect(result.stdout).not.toContain('LIST FAILED');
    expect(result.stdout).toMatch(/iotda [0-9a-f]{32}: listed 120,/);
    expect(result.code).toBe(0);
  });
});
