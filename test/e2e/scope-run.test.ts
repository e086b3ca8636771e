import { Job } from 'bullmq';
import { describe, expect, it } from 'vitest';
import type { DeleteJobData } from '../../src/queue.js';
import { iotdaTime } from '../../src/simulator/iotda.js';
import type { Simulator } from '../../src/simulator/server.js';
import { renderSummary } from '../../src/summary.js';
import { runJanitor, simulatorEnv, startWorkersWithQueue, useSimulators } from '../helpers/janitor.js';

const DAY = 86_400_000;
const NORTH = '0a1b2c3d4e5f60718293a4b5c6d7e8f9';
const SOUTHEAST = 'f9e8d7c6b5a4938271605f4e3d2c1b0a';
const fixture = useSimulators('scope');

let serial = 0;
function putIotda(sim: Simulator, project: string, ageDays: number, status = 'Success'): string {
  serial += 1;
  const id = `${serial.toString(16).padStart(8, '0')}aaaaaaaaaaaaaaaa`;
  sim.put('iotda', project, { task_id: id, task_type: 'createDevices', status, create_time: iotdaTime(new Date(Date.now() - ageDays * DAY)) });
  return id;
}

/** Two simulators stand for two regions (or two IoTDA instances): each endpoint only knows its own records. */
async function twoEndpoints(projects: [string, string], regions: [string, string] = ['cn-north-4', 'cn-north-4']): Promise<[Simulator, Simulator]> {
  return [
    await fixture.start({ projects: { iotda: [projects[0]] }, iotdaRegion: regions[0] }),
    await fixture.start({ projects: { iotda: [projects[1]] }, iotdaRegion: regions[1] }),
  ];
}

function env(sims: readonly Simulator[], targets: string): Record<string, string> {
  const e = simulatorEnv(sims[0] as Simulator, ['iotda'], fixture.prefix(), { IOTDA_TARGETS: targets, IOTDA_TASK_TYPES: 'createDevices' });
  for (const name of ['IOTDA_REGION', 'IOTDA_PROJECT_ID', 'IOTDA_ENDPOINT']) delete e[name];
  return e;
}

describe('several regions and IoTDA instances in one deployment', () => {
  it('lists and deletes each region:project at its own endpoint and reports each separately', async () => {
    const [north, southeast] = await twoEndpoints([NORTH, SOUTHEAST], ['cn-north-4', 'ap-southeast-1']);
    const staleNorth = [putIotda(north, NORTH, 30), putIotda(north, NORTH, 9)];
    putIotda(north, NORTH, 1);
    const staleSoutheast = [putIotda(southeast, SOUTHEAST, 40)];
    putIotda(southeast, SOUTHEAST, 40, 'Processing');
    const report = await runJanitor(env([north, southeast], `cn-north-4:${NORTH};endpoint=${north.url}, ap-southeast-1:${SOUTHEAST};endpoint=${southeast.url}`));
    expect(report.exitCode).toBe(0);
    expect(north.deleted.map((d) => d.id).sort()).toEqual(staleNorth.sort());
    expect(southeast.deleted.map((d) => d.id)).toEqual(staleSoutheast);
    // Each endpoint took the V11 signature for its own region at once: no scheme fallback was needed.
    expect(north.counters.iotda.authFailures + southeast.counters.iotda.authFailures).toBe(0);
    expect(report.stats.map((s) => [s.target, s.scope?.region, s.scope?.project, s.listed, s.deleted])).toEqual([
      [`cn-north-4:${NORTH}`, 'cn-north-4', NORTH, 3, 2],
      [`ap-southeast-1:${SOUTHEAST}`, 'ap-southeast-1', SOUTHEAST, 2, 1],
    ]);
    const summary = renderSummary(report.stats, { dryRun: false });
    expect(summary).toContain(`region cn-north-4, project ${NORTH}`);
    expect(summary).toContain(`region ap-southeast-1, project ${SOUTHEAST}`);
  });

  it('sends each IoTDA instance its own Instance-Id, for the same project at two endpoints', async () => {
    const [a, b] = await twoEndpoints([NORTH, NORTH]);
    const onA = putIotda(a, NORTH, 30);
    const onB = putIotda(b, NORTH, 30);
    const report = await runJanitor(env([a, b], `cn-north-4:${NORTH};instance=inst-a;endpoint=${a.url}, cn-north-4:${NORTH};instance=inst-b;endpoint=${b.url}`));
    expect(report.exitCode).toBe(0);
    expect(a.deleted.map((d) => d.id)).toEqual([onA]);
    expect(b.deleted.map((d) => d.id)).toEqual([onB]);
    expect(new Set(a.requests.map((r) => r.instanceId))).toEqual(new Set(['inst-a']));
    expect(new Set(b.requests.map((r) => r.instanceId))).toEqual(new Set(['inst-b']));
    expect(report.stats.map((s) => s.scope?.instanceId)).toEqual(['inst-a', 'inst-b']);
  });

  it('refuses a job whose target is the bare project or another instance when only region:project/instance targets are configured', async () => {
    const sim = await fixture.start({ projects: { iotda: [NORTH] } });
    const id = putIotda(sim, NORTH, 30);
    const { queue, events } = await startWorkersWithQueue(fixture, sim, 'iotda', 'scope', {
      IOTDA_TARGETS: `cn-north-4:${NORTH};instance=inst-a;endpoint=${sim.url}`, IOTDA_PROJECT_ID: '', IOTDA_REGION: '', IOTDA_ATTEMPTS: '1',
    });
    const task = { id, states: ['Success'], agedFrom: { field: 'create_time', at: new Date(Date.now() - 30 * DAY).toISOString() } };
    const forged = await Promise.all([NORTH, `cn-north-4:${NORTH}/inst-b`, `cn-north-4:${NORTH}`].map((target, i) =>
      queue.add('delete', { provider: 'iotda', target, runId: 'forged', tasks: [task] } satisfies DeleteJobData, { jobId: `forged-${i}`, attempts: 1 })));
    await Promise.all(forged.map((job) => job.waitUntilFinished(events).catch(() => undefined)));
    for (const job of forged) expect((await Job.fromId(queue, job.id ?? ''))?.failedReason).toContain('out of scope');
    expect(sim.counters.iotda.delete).toBe(0);
  });
});
