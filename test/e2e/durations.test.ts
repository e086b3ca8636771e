import { describe, expect, it } from 'vitest';
import { iotdaTime } from '../../src/simulator/iotda.js';
import { DEFAULT_SIM_PROJECTS } from '../../src/simulator/server.js';
import { runCli } from '../helpers/cli.js';
import { simulatorEnv, useSimulators } from '../helpers/janitor.js';

const PROJECT = DEFAULT_SIM_PROJECTS.iotda[0] as string;
const fixture = useSimulators('durations');

describe('durations that a timer could not hold', () => {
  // Node's setTimeout fires at once past 2^31-1 ms (about 24.8 days): such a value must be refused, not obeyed wrongly.
  it.each([
    ['JANITOR_MAX_RUNTIME', '30d', 'expected from 1s to 24d'],
    ['JANITOR_SHUTDOWN_GRACE', '30d', 'expected from 1s to 1h'],
    ['JANITOR_HTTP_TIMEOUT', '4w', 'expected from 1s to 10m'],
    ['JANITOR_BACKOFF', '999999999w', 'expected from 1s to 1h'],
    ['JANITOR_PROGRESS_INTERVAL', '30d', 'expected from 1s to 24h'],
    ['JANITOR_KEEP_FINISHED', '999999999w', 'expected from 1s to 365d'],
    ['JANITOR_RETENTION', '999999999w', 'expected from 1s to 3650d'],
    ['IOTDA_RETENTION', '999999999w', 'expected from 1s to 3650d'],
  ])('exits 2 naming %s=%s and what is allowed, before touching any provider', async (name, value, allowed) => {
    const sim = await fixture.start();
    const result = await runCli(['run'], simulatorEnv(sim, ['iotda'], fixture.prefix(), { [name]: value }));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${name}: got "${value}"; ${allowed}`);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(sim.counters.iotda.list).toBe(0);
  });

  it('exits 2 when JANITOR_ACTIVE_DEADLINE_SECONDS would derive a runtime no timer can hold', async () => {
    const sim = await fixture.start();
    const result = await runCli(['run'], simulatorEnv(sim, ['iotda'], fixture.prefix(), { JANITOR_ACTIVE_DEADLINE_SECONDS: String(30 * 86_400), JANITOR_MAX_RUNTIME: '' }));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('JANITOR_ACTIVE_DEADLINE_SECONDS: got "2592000"; expected a whole number from 1 to 2073600');
  });

  it('runs to completion with the largest accepted runtime and grace (nothing fires early)', async () => {
    const sim = await fixture.start();
    const id = '1'.padStart(24, '0');
    sim.put('iotda', PROJECT, { task_id: id, task_type: 'createDevices', status: 'Success', create_time: iotdaTime(new Date(Date.now() - 30 * 86_400_000)) });
    const result = await runCli(['run'], simulatorEnv(sim, ['iotda'], fixture.prefix(), {
      IOTDA_TASK_TYPES: 'createDevices', JANITOR_MAX_RUNTIME: '24d', JANITOR_SHUTDOWN_GRACE: '1h', JANITOR_HTTP_TIMEOUT: '10m',
    }));
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/deleted 1, already gone 0, failed 0/);
    expect(sim.deleted.map((d) => d.id)).toEqual([id]);
  });
});
