// Property test of the one judging path (policy, P_KEEP_LATEST, caps) as a run composes it: random
// populations and configurations through runCleanup in dry-run mode over in-memory listings, compared
// with an oracle written from the rules (test/helpers/oracle.ts). The end-to-end twin is test/e2e/property-run.test.ts.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import type { DecisionEvent } from '../src/judging.js';
import { createLogger } from '../src/logger.js';
import { canonicalSpelling, type ProviderName } from '../src/providers/catalog.js';
import type { CloudTask, Provider } from '../src/providers/provider.js';
import { runCleanup } from '../src/run.js';
import { createShutdown } from '../src/shutdown.js';
import { simulatorEnvironment } from '../src/simulator/env.js';
import { recordFigures } from './helpers/figures.js';
import { DELETABLE_STATES, DOCUMENTED_STATES, disagreements, oracleDeletions, type OracleCap, type OracleConfig, type OracleTask } from './helpers/oracle.js';

const NOW = Date.parse('2026-03-01T12:00:00.000Z');
const PROVIDERS = ['imm', 'vias', 'iotda', 'mpc', 'workspace'] as const;
const TARGETS: Record<ProviderName, readonly string[]> = {
  imm: ['media-a', 'media-b'],
  vias: ['0a1b2c3d4e5f60718293a4b5c6d7e8f9', '0a1b2c3d4e5f60718293a4b5c6d7e8fa'],
  iotda: ['1b2c3d4e5f60718293a4b5c6d7e8f90a', '1b2c3d4e5f60718293a4b5c6d7e8f90b'],
  mpc: ['2c3d4e5f60718293a4b5c6d7e8f90a1b'],
  workspace: ['3d4e5f60718293a4b5c6d7e8f90a1b2c', '3d4e5f60718293a4b5c6d7e8f90a1b2d'],
};
const TYPES: Partial<Record<ProviderName, readonly string[]>> = {
  iotda: ['firmwareUpgrade', 'createDevices', 'softwareUpgrade'],
  workspace: ['createDesktops', 'changeAccessVpc', 'rebuildDesktops'],
};
const NAMES = ['keep-me', 'prod-7', 'audit-x', 'nightly', ''];
const PATTERNS = ['^keep', 'prod', 'Upgrade$', '^t1', '(audit|nightly)', 'x{2}', 'Desktops'];
const RETENTIONS_S = [60, 3_600, 5_400, 86_400, 604_800];
const DAY = 86_400_000;

/** Letter-case variants, padding and values no API documents, besides the documented spellings. */
function stateArb(provider: ProviderName): fc.Arbitrary<string> {
  const documented = DOCUMENTED_STATES[provider] as readonly string[];
  return fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(...DELETABLE_STATES[provider]) },
    { weight: 4, arbitrary: fc.constantFrom(...documented) },
    { weight: 2, arbitrary: fc.constantFrom(...documented).map((s) => s.toLowerCase()) },
    { weight: 1, arbitrary: fc.constantFrom(...documented).map((s) => s.toUpperCase()) },
    { weight: 1, arbitrary: fc.constantFrom(...documented).map((s) => ` ${s}`) },
    { weight: 1, arbitrary: fc.constantFrom('Paused', 'CANCELLED', 'done', '', 'Succeded', 'null') },
  );
}

/** Ages around the retention boundary, zero, in the future, far past; or no time, or one that does not parse. */
function timeArb(retentionMs: number): fc.Arbitrary<OracleTask['time'] & { nan?: boolean }> {
  const at = (ageMs: number) => ({ kind: 'ok' as const, at: NOW - ageMs });
  return fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(-1_000, -1, 0, 1, 1_000, 3_600_000, 30 * DAY).map((d) => at(retentionMs + d)) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: 40 * DAY }).map(at) },
    { weight: 1, arbitrary: fc.constantFrom(0, -1, -DAY).map(at) },
    { weight: 1, arbitrary: fc.constantFrom({ kind: 'missing' as const }, { kind: 'invalid' as const }, { kind: 'ok' as const, at: Number.NaN, nan: true }) },
  );
}

interface GeneratedTask extends OracleTask { readonly nan?: boolean }

function tasksArb(provider: ProviderName, retentionMs: number): fc.Arbitrary<GeneratedTask[]> {
  const types = TYPES[provider];
  const one = fc.record({
    target: fc.constantFrom(...TARGETS[provider]),
    idStyle: fc.constantFrom('plain', 'plain', 'plain', 'keep', 'empty', 'blank'),
    name: provider === 'iotda' || provider === 'vias' ? fc.option(fc.constantFrom(...NAMES), { nil: undefined }) : fc.constant(undefined),
    type: types ? fc.constantFrom(...types) : fc.constant(undefined),
    // VIAS reports every sub-task state with a non-zero count.
    rawStates: provider === 'vias' ? fc.array(stateArb(provider), { minLength: 0, maxLength: 3 }) : stateArb(provider).map((s) => [s]),
    time: timeArb(retentionMs),
  });
  return fc.array(one, { maxLength: 40, size: 'medium' }).map((list) => list.map((t, i) => {
    const id = t.idStyle === 'empty' ? '' : t.idStyle === 'blank' ? '  ' : `${t.idStyle === 'keep' ? 'keep-' : 't'}${i}`;
    return {
      key: `${provider}/${t.target}/${i}`, provider, target: t.target, id, rawStates: t.rawStates, time: t.time,
      ...(t.name !== undefined ? { name: t.name } : {}), ...(t.type !== undefined ? { type: t.type } : {}),
      ...(provider === 'workspace' && t.type === 'changeAccessVpc' ? { undeletable: true } : {}),
      ...('nan' in t.time ? { nan: true } : {}),
    };
  }));
}

const capArb: fc.Arbitrary<{ text: string; cap: OracleCap } | undefined> = fc.oneof(
  { weight: 3, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 25 }).map((n) => ({ text: String(n), cap: { kind: 'count' as const, count: n } })) },
  {
    weight: 1,
    arbitrary: fc.oneof(fc.integer({ min: 1, max: 100 }).map((p) => p * 100), fc.constantFrom(1, 50, 1435, 3333, 5750, 2999, 1001)).map((hundredths) => ({
      text: `${Math.floor(hundredths / 100)}${hundredths % 100 === 0 ? '' : `.${String(hundredths % 100).padStart(2, '0')}`}%`, cap: { kind: 'share' as const, hundredths },
    })),
  },
);

/** P_EXCLUDE / P_INCLUDE: unset most of the time. */
const patternArb = fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom(...PATTERNS) });

interface ProviderCase {
  readonly provider: ProviderName;
  readonly retentionS: number;
  readonly states: readonly string[];
  readonly exclude?: string;
  readonly include?: string;
  readonly keepLatest: number;
  readonly cap?: { text: string; cap: OracleCap };
  readonly tasks: readonly GeneratedTask[];
}

function providerCaseArb(provider: ProviderName): fc.Arbitrary<ProviderCase> {
  return fc.constantFrom(...RETENTIONS_S).chain((retentionS) => fc.record({
    provider: fc.constant(provider),
    retentionS: fc.constant(retentionS),
    // P_STATES in any letter case; config canonicalises it.
    states: fc.subarray([...DELETABLE_STATES[provider]], { minLength: 1 }).chain((s) => fc.constantFrom(s, s.map((x) => x.toLowerCase()))),
    exclude: patternArb,
    include: patternArb,
    keepLatest: fc.oneof({ weight: 2, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 4 }) }),
    cap: capArb,
    tasks: tasksArb(provider, retentionS * 1000),
  }, { requiredKeys: ['provider', 'retentionS', 'states', 'keepLatest', 'tasks'] }));
}

const caseArb = fc.record({
  providers: fc.subarray([...PROVIDERS], { minLength: 1, maxLength: 3 }).chain((names) => fc.tuple(...names.map(providerCaseArb))),
  runCap: capArb,
  mode: fc.constantFrom('refuse' as const, 'truncate' as const),
  pageSize: fc.integer({ min: 1, max: 12 }),
});
type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

function envOf(c: Case): Record<string, string> {
  const names = c.providers.map((p) => p.provider);
  const env: Record<string, string> = {
    ...simulatorEnvironment('http://127.0.0.1:9', names), JANITOR_PROVIDERS: names.join(','), JANITOR_DRY_RUN: 'true',
    JANITOR_ALLOW_SHORT_RETENTION: 'true', JANITOR_MAX_DELETES_MODE: c.mode, LOG_LEVEL: 'silent',
  };
  if (c.runCap) env.JANITOR_MAX_DELETES = c.runCap.text;
  for (const p of c.providers) {
    const P = p.provider.toUpperCase();
    env[p.provider === 'imm' ? 'IMM_PROJECTS' : `${P}_PROJECT_ID`] = TARGETS[p.provider].join(',');
    env[`${P}_RETENTION`] = `${p.retentionS}s`;
    env[`${P}_STATES`] = p.states.join(',');
    env[`${P}_KEEP_LATEST`] = String(p.keepLatest);
    if (p.exclude !== undefined) env[`${P}_EXCLUDE`] = p.exclude;
    if (p.include !== undefined) env[`${P}_INCLUDE`] = p.include;
    if (p.cap) env[`${P}_MAX_DELETES`] = p.cap.text;
  }
  return env;
}

function oracleConfigOf(c: Case): OracleConfig {
  const rules: OracleConfig['rules'] = Object.fromEntries(c.providers.map((p) => [p.provider, {
    retentionMs: p.retentionS * 1000, states: p.states, keepLatest: p.keepLatest,
    ...(p.exclude !== undefined ? { exclude: new RegExp(p.exclude) } : {}), ...(p.include !== undefined ? { include: new RegExp(p.include) } : {}),
    ...(p.cap ? { cap: p.cap.cap } : {}),
  }]));
  return { rules, mode: c.mode, ...(c.runCap ? { runCap: c.runCap.cap } : {}) };
}

/** The CloudTask an adapter makes of the record: states in the catalog's spelling when only the letter case differs. */
function cloudTaskOf(t: GeneratedTask, provider: ProviderName): CloudTask {
  const field = 'create_time';
  return {
    id: t.id, states: t.rawStates.map((s) => canonicalSpelling(provider, s)),
    agedFrom: t.time.kind === 'ok' ? { kind: 'ok', field, at: new Date(t.time.at) } : t.time.kind === 'missing' ? { kind: 'missing', field } : { kind: 'invalid', field, raw: '2024-13-45' },
    ...(t.name !== undefined ? { name: t.name } : {}), ...(t.type !== undefined ? { type: t.type, label: t.type } : {}),
    ...(t.undeletable ? { undeletableBecause: `BatchDeleteSubJobs refuses job_type ${t.type ?? ''}` } : {}),
  };
}

/** A provider whose listing is the generated tasks, `pageSize` a page; it is never asked to delete (dry run). */
function inMemoryProvider(name: ProviderName, tasks: readonly CloudTask[], targets: Map<CloudTask, string>, pageSize: number): Provider {
  return {
    name,
    async *listTasks(target) {
      const mine = tasks.filter((t) => targets.get(t) === target);
      for (let i = 0; i < mine.length; i += pageSize) yield await Promise.resolve(mine.slice(i, i + pageSize));
    },
    deleteTasks: () => Promise.reject(new Error('a dry run never deletes')),
    getTask: () => Promise.reject(new Error('a dry run never re-reads')),
  };
}

const figures = { cases: 0, tasks: 0, deletedByOracle: 0, wronglyDeleted: 0, lost: 0 };
afterAll(() => recordFigures('judging-property', figures));

describe('the judging path against an independent oracle', () => {
  it('deletes exactly the oracle\'s set for random populations and configurations', async () => {
    const logger = createLogger('silent');
    await fc.assert(fc.asyncProperty(caseArb, async (c) => {
      const config = loadConfig(envOf(c));
      const keyOf = new Map<CloudTask, GeneratedTask>();
      const targets = new Map<CloudTask, string>();
      const providers = new Map<ProviderName, Provider>(c.providers.map((p) => {
        const tasks = p.tasks.map((t) => {
          const task = cloudTaskOf(t, p.provider);
          keyOf.set(task, t);
          targets.set(task, t.target);
          return task;
        });
        return [p.provider, inMemoryProvider(p.provider, tasks, targets, c.pageSize)];
      }));
      const deleted: { key: string; at: number }[] = [];
      const onDecision = (event: DecisionEvent) => {
        if (!event.verdict.candidate || event.valve?.pass !== true) return;
        const t = keyOf.get(event.task) as GeneratedTask;
        deleted.push({ key: t.key, at: t.time.kind === 'ok' ? t.time.at : Number.NaN });
      };
      const shutdown = createShutdown(logger, { graceMs: 1_000, handleSignals: false });
      const report = await runCleanup({ config, logger, providers, shutdown, now: () => new Date(NOW), onDecision }, 'produce');
      await shutdown.close();

      const population = c.providers.flatMap((p) => p.tasks);
      const answer = oracleDeletions(population, oracleConfigOf(c), NOW);
      figures.cases += 1;
      figures.tasks += population.length;
      figures.deletedByOracle += answer.times.length;
      const problems = disagreements(deleted, answer);
      figures.wronglyDeleted += deleted.filter((d) => !answer.possible.has(d.key)).length;
      figures.lost += [...answer.sure].filter((k) => !deleted.some((d) => d.key === k)).length;
      expect(problems).toEqual([]);
      // Exit 5 when a cap refused; format drift (most of a target unjudgeable: exit 4) outranks it.
      expect(report.exitCode).toBeOneOf(answer.refused ? [4, 5] : [0, 4]);
      expect(report.stats.some((s) => s.refused !== undefined)).toBe(answer.refused);
    }), { numRuns: 3_000 });
    expect(figures.cases).toBeGreaterThanOrEqual(3_000);
  }, 180_000);
});
