// The property test's end-to-end twin: random IoTDA and Workspace populations and configurations, each
// case a real run (runCleanup with its workers, real Redis under a fresh prefix, the simulator), and the
// simulator's deleted set compared with the oracle's (test/helpers/oracle.ts). Fewer cases than the
// in-process property test (test/judging-property.test.ts): each one lists, enqueues and deletes for real.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { ProviderName } from '../../src/providers/catalog.js';
import { dropQueuePrefix } from '../../src/redis.js';
import { iotdaTime } from '../../src/simulator/iotda.js';
import { startSimulator } from '../../src/simulator/server.js';
import { workspaceTime } from '../../src/simulator/workspace.js';
import { recordFigures } from '../helpers/figures.js';
import { runJanitor, simulatorEnv } from '../helpers/janitor.js';
import { disagreements, oracleDeletions, type OracleConfig, type OracleTask } from '../helpers/oracle.js';
import { REDIS_URL, uniquePrefix } from '../helpers/redis.js';

const DAY = 86_400_000;
const IOTDA_PROJECT = '1b2c3d4e5f60718293a4b5c6d7e8f90a';
const WORKSPACE_PROJECT = '3d4e5f60718293a4b5c6d7e8f90a1b2c';
const IOTDA_TYPES = ['firmwareUpgrade', 'createDevices', 'softwareUpgrade'];
const WORKSPACE_TYPES = ['createDesktops', 'changeAccessVpc', 'rebuildDesktops'];
const STATES: Record<'iotda' | 'workspace', readonly string[]> = {
  // Documented spellings (these APIs write one case), values no API documents, and padding.
  iotda: ['Success', 'Success', 'Success', 'Fail', 'Fail', 'PartialSuccess', 'Stopped', 'Processing', 'Waitting', 'Initializing', 'Stopping', 'Paused', ' Success', ''],
  workspace: ['SUCCESS', 'SUCCESS', 'SUCCESS', 'FAILED', 'FAILED', 'RUNNING', 'WAITING', 'CANCELLED', 'SUCCESS '],
};
const SELECTABLE = { iotda: ['Success', 'Fail', 'PartialSuccess', 'Stopped'], workspace: ['SUCCESS', 'FAILED'] };
const RETENTIONS_S = [3_600, 86_400];
const PATTERNS = ['^keep', 'prod', 'Upgrade$', 'Desktops', '7'];

type Provider = 'iotda' | 'workspace';
interface Generated extends OracleTask { readonly record: Record<string, unknown> }

function timeArb(retentionMs: number, now: number) {
  // IoTDA writes whole seconds, so every age is too; the boundary itself is in the pool.
  return fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(-1_000, 0, 1_000, 3_600_000, 30 * DAY).map((d) => ({ kind: 'ok' as const, at: now - retentionMs - d })) },
    { weight: 1, arbitrary: fc.constantFrom(0, -1_000, -DAY).map((age) => ({ kind: 'ok' as const, at: now - age })) },
    { weight: 1, arbitrary: fc.constantFrom({ kind: 'missing' as const }, { kind: 'invalid' as const }) },
  );
}

function recordOf(provider: Provider, i: number, t: { status: string; name: string | undefined; type: string; time: OracleTask['time'] }): Record<string, unknown> {
  if (provider === 'iotda') {
    const created = t.time.kind === 'ok' ? iotdaTime(new Date(t.time.at)) : t.time.kind === 'invalid' ? '2024-13-45T99:00' : undefined;
    return {
      task_id: (i + 1).toString(16).padStart(24, '0'), task_type: t.type, status: t.status, status_desc: '',
      ...(t.name !== undefined ? { task_name: t.name } : {}), ...(created !== undefined ? { create_time: created } : {}),
    };
  }
  const at = t.time.kind === 'ok' ? workspaceTime(new Date(t.time.at)) : undefined;
  return {
    id: `ff8080${i.toString(16).padStart(26, '0')}`, job_id: `${i.toString(16).padStart(32, 'a')}`, job_type: t.type, status: t.status,
    ...(at !== undefined ? { begin_time: at, end_time: at } : {}), ...(t.time.kind === 'invalid' ? { begin_time: workspaceTime(new Date(0)), end_time: '2024-13-45T99:00:00Z' } : {}),
  };
}

function populationArb(provider: Provider, retentionMs: number, now: number): fc.Arbitrary<Generated[]> {
  const project = provider === 'iotda' ? IOTDA_PROJECT : WORKSPACE_PROJECT;
  return fc.array(fc.record({
    status: fc.constantFrom(...STATES[provider]),
    name: provider === 'iotda' ? fc.option(fc.constantFrom('keep-me', 'prod-1', 'nightly'), { nil: undefined }) : fc.constant(undefined),
    type: fc.constantFrom(...(provider === 'iotda' ? IOTDA_TYPES : WORKSPACE_TYPES)),
    time: timeArb(retentionMs, now),
  }), { minLength: 4, maxLength: 30, size: 'max' }).map((list) => list.map((t, i) => {
    const record = recordOf(provider, i, t);
    const id = String(provider === 'iotda' ? record.task_id : record.id);
    return {
      key: `${provider}/${project}/${id}`, provider, target: project, id, rawStates: t.status === '' ? [] : [t.status], time: t.time, type: t.type, record,
      ...(t.name !== undefined ? { name: t.name } : {}), ...(t.type === 'changeAccessVpc' ? { undeletable: true } : {}),
    };
  }));
}

const capArb = fc.oneof(
  { weight: 4, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 8 }).map((n) => ({ text: String(n), cap: { kind: 'count' as const, count: n } })) },
  { weight: 1, arbitrary: fc.constantFrom(10, 25, 50).map((p) => ({ text: `${p}%`, cap: { kind: 'share' as const, hundredths: p * 100 } })) },
);

function providerArb(provider: Provider, now: number) {
  return fc.constantFrom(...RETENTIONS_S).chain((retentionS) => fc.record({
    provider: fc.constant(provider),
    retentionS: fc.constant(retentionS),
    states: fc.subarray(SELECTABLE[provider], { minLength: 1 }),
    exclude: fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom(...PATTERNS) }),
    include: fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom(...PATTERNS) }),
    keepLatest: fc.oneof({ weight: 2, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }) }),
    cap: capArb,
    tasks: populationArb(provider, retentionS * 1000, now),
  }));
}

const figures = { runs: 0, tasks: 0, deletedBySimulator: 0, wronglyDeleted: 0, lost: 0 };
afterAll(() => recordFigures('property-run', figures));

describe('real runs against an independent oracle', () => {
  it('delete exactly the oracle\'s set, seen by the simulator, for random populations and configurations', async () => {
    // Whole seconds: the janitor's clock is fixed for the run, so tasks exactly at the retention age stay exactly there.
    const now = Math.floor(Date.now() / 1000) * 1000;
    const caseArb = fc.record({
      providers: fc.constantFrom<Provider[]>(['iotda'], ['workspace'], ['iotda', 'workspace']).chain((names) => fc.tuple(...names.map((n) => providerArb(n, now)))),
      runCap: capArb,
      mode: fc.constantFrom('refuse' as const, 'truncate' as const),
      // One task at a time, or a job's tasks side by side on the delete permits.
      concurrency: fc.constantFrom(1, 3, 16),
    });
    await fc.assert(fc.asyncProperty(caseArb, async (c) => {
      const sim = await startSimulator({ projects: { iotda: [IOTDA_PROJECT], workspace: [WORKSPACE_PROJECT] } });
      const prefix = uniquePrefix('property');
      try {
        for (const p of c.providers) for (const t of p.tasks) sim.put(p.provider, t.target, t.record);
        const names = c.providers.map((p) => p.provider) as ProviderName[];
        const env = simulatorEnv(sim, names, prefix, {
          JANITOR_ALLOW_SHORT_RETENTION: 'true', JANITOR_MAX_DELETES_MODE: c.mode, IOTDA_TASK_TYPES: IOTDA_TYPES.join(','),
          ...(c.runCap ? { JANITOR_MAX_DELETES: c.runCap.text } : {}),
        });
        for (const p of c.providers) {
          const P = p.provider.toUpperCase();
          Object.assign(env, { [`${P}_RETENTION`]: `${p.retentionS}s`, [`${P}_STATES`]: p.states.join(','), [`${P}_KEEP_LATEST`]: String(p.keepLatest), [`${P}_CONCURRENCY`]: String(c.concurrency) });
          if (p.exclude !== undefined) env[`${P}_EXCLUDE`] = p.exclude;
          if (p.include !== undefined) env[`${P}_INCLUDE`] = p.include;
          if (p.cap) env[`${P}_MAX_DELETES`] = p.cap.text;
        }
        const report = await runJanitor(env, { now: () => new Date(now) });

        const population = c.providers.flatMap((p) => p.tasks);
        const oracle: OracleConfig = {
          mode: c.mode, ...(c.runCap ? { runCap: c.runCap.cap } : {}),
          rules: Object.fromEntries(c.providers.map((p) => [p.provider, {
            retentionMs: p.retentionS * 1000, states: p.states, keepLatest: p.keepLatest, ...(p.cap ? { cap: p.cap.cap } : {}),
            ...(p.exclude !== undefined ? { exclude: new RegExp(p.exclude) } : {}), ...(p.include !== undefined ? { include: new RegExp(p.include) } : {}),
          }])),
        };
        const answer = oracleDeletions(population, oracle, now);
        const byKey = new Map(population.map((t) => [t.key, t]));
        const deleted = sim.deleted.map((d) => {
          const key = `${d.provider}/${d.project}/${d.id}`;
          const t = byKey.get(key);
          return { key, at: t?.time.kind === 'ok' ? t.time.at : Number.NaN };
        });
        figures.runs += 1;
        figures.tasks += population.length;
        figures.deletedBySimulator += deleted.length;
        figures.wronglyDeleted += deleted.filter((d) => !answer.possible.has(d.key)).length;
        figures.lost += [...answer.sure].filter((k) => !deleted.some((d) => d.key === k)).length;
        expect(disagreements(deleted, answer)).toEqual([]);
        expect(report.exitCode).toBeOneOf(answer.refused ? [4, 5] : [0, 4]);
        // The summary says what the simulator saw.
        expect(report.stats.reduce((n, s) => n + s.deleted, 0)).toBe(deleted.length);
      } finally {
        await sim.close();
        await dropQueuePrefix(REDIS_URL, prefix);
      }
    }), { numRuns: 40 });
    expect(figures.runs).toBeGreaterThanOrEqual(40);
  }, 240_000);
});
