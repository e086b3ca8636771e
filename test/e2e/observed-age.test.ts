import { setTimeout as sleep } from 'node:timers/promises';
import type { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { observationKeyFor } from '../../src/observations.js';
import type { ProviderName } from '../../src/providers/catalog.js';
import type { DeleteJobData, DeleteJobResult } from '../../src/queue.js';
import { huaweiError } from '../../src/simulator/api.js';
import { immTime } from '../../src/simulator/imm.js';
import { iotdaTime } from '../../src/simulator/iotda.js';
import { DEFAULT_SIM_PROJECTS, type Simulator } from '../../src/simulator/server.js';
import { freePort, runCli } from '../helpers/cli.js';
import { captureLogs, produceOnly, runJanitor, simulatorEnv, useSimulators } from '../helpers/janitor.js';
import { REDIS_URL } from '../helpers/redis.js';

const DAY = 86_400_000;
const MINUTE = 60_000;
const project = (p: ProviderName) => DEFAULT_SIM_PROJECTS[p][0] as string;
/** The janitor's clock `ms` from now: how a test lets days pass between runs. */
const later = (ms: number) => () => new Date(Date.now() + ms);
const ago = (ms: number) => new Date(Date.now() - ms);

const fixture = useSimulators('observed');
const redis = new Redis(REDIS_URL);
afterAll(() => redis.quit());

/** Tasks in the API's own shape, created `createdAgo` ago, running or finished. */
const RECORDS = {
  vias: (id: string, done: boolean, createdAgo = 8 * DAY) => ({
    id, batch_task_name: `batch-${id.slice(0, 4)}`, num_task: 2, created_at: ago(createdAgo).getTime(),
    batch_task_status_info: done ? { failed: 2, running: 0 } : { failed: 0, running: 2 },
  }),
  iotda: (id: string, done: boolean, createdAgo = 8 * DAY) => ({
    task_id: id, task_type: 'firmwareUpgrade', status: done ? 'Fail' : 'Processing', create_time: iotdaTime(ago(createdAgo)),
  }),
  imm: (id: string, done: boolean, createdAgo = 8 * DAY) => ({
    Id: id, State: done ? 'Failed' : 'Running', CreateTime: immTime(ago(createdAgo)), UpdateTime: immTime(ago(createdAgo)),
  }),
} as const;
type Restartable = keyof typeof RECORDS;
const ID: Record<Restartable, (c: string) => string> = { vias: (c) => c.repeat(32), iotda: (c) => c.repeat(24), imm: (c) => `batch-${c}` };
const FINISHED: Record<Restartable, Record<string, unknown>> = {
  vias: { batch_task_status_info: { failed: 2, running: 0 } }, iotda: { status: 'Fail' }, imm: { State: 'Failed' },
};

function envFor(sim: Simulator, provider: Restartable, ageFrom: 'observed' | 'documented', extra: Record<string, string> = {}) {
  const P = provider.toUpperCase();
  return simulatorEnv(sim, [provider], fixture.prefix(), {
    [`${P}_AGE_FROM`]: ageFrom, ...(provider === 'iotda' ? { IOTDA_TASK_TYPES: 'firmwareUpgrade' } : {}), ...extra,
  });
}

const sightingOf = (env: Record<string, string>, provider: ProviderName, id: string) =>
  redis.hget(observationKeyFor(env.JANITOR_QUEUE_PREFIX ?? '', provider, project(provider)), id);
const sightingsOf = (env: Record<string, string>, provider: ProviderName) =>
  redis.hgetall(observationKeyFor(env.JANITOR_QUEUE_PREFIX ?? '', provider, project(provider)));

describe.each(['vias', 'iotda'] as const)('%s: a batch created 8 days ago that finished a minute ago', (provider) => {
  async function finishedAMinuteAgo(ageFrom: 'observed' | 'documented') {
    const sim = await fixture.start();
    const id = ID[provider]('a');
    sim.put(provider, project(provider), RECORDS[provider](id, false));
    const env = envFor(sim, provider, ageFrom);
    // The janitor saw it running, then it finished; the next run comes a minute later.
    const first = await runJanitor(env, { now: later(-MINUTE) });
    expect(first.stats[0]?.skipped).toEqual({ 'state-not-selected': 1 });
    sim.update(provider, project(provider), id, FINISHED[provider]);
    return { sim, id, env, report: await runJanitor(env) };
  }

  it('is kept in observed mode, and deleted once the retention has passed since it was first seen terminal', async () => {
    const { sim, id, env, report } = await finishedAMinuteAgo('observed');
    expect(report.stats[0]).toMatchObject({ candidates: 0, skipped: { 'observed-recently': 1 } });
    expect(sim.deleted).toEqual([]);
    const firstSeen = Number((await sightingOf(env, provider, id))?.split(':')[0]);
    expect(Math.abs(firstSeen * 1000 - Date.now())).toBeLessThan(MINUTE);

    const beforeRetention = await runJanitor(env, { now: later(7 * DAY - MINUTE) });
    expect(beforeRetention.stats[0]).toMatchObject({ candidates: 0, skipped: { 'observed-recently': 1 } });
    expect(sim.deleted).toEqual([]);

    const afterRetention = await runJanitor(env, { now: later(7 * DAY + MINUTE) });
    expect(afterRetention.stats[0]).toMatchObject({ candidates: 1, deleted: 1 });
    expect(sim.deleted.map((d) => d.id)).toEqual([id]);
    expect(afterRetention.exitCode).toBe(0);
    // A deleted task leaves no record behind.
    expect(await sightingOf(env, provider, id)).toBeNull();
  });

  it('is deleted in documented mode, the default', async () => {
    const { sim, id, env, report } = await finishedAMinuteAgo('documented');
    expect(report.stats[0]).toMatchObject({ candidates: 1, deleted: 1 });
    expect(sim.deleted.map((d) => d.id)).toEqual([id]);
    expect(await sightingsOf(env, provider)).toEqual({});
  });
});

describe.each(['vias', 'iotda', 'imm'] as const)('%s: a finished task restarted by its API', (provider) => {
  it('loses its first sighting when seen running again, and is kept after it finishes anew', async () => {
    const sim = await fixture.start();
    const restarted = ID[provider]('b');
    const control = ID[provider]('c');
    // Finished long ago (documented time 30 days old): only the first sighting holds them back.
    sim.put(provider, project(provider), RECORDS[provider](restarted, true, 30 * DAY));
    sim.put(provider, project(provider), RECORDS[provider](control, true, 30 * DAY));
    const env = envFor(sim, provider, 'observed');
    const first = await runJanitor(env);
    expect(first.stats[0]).toMatchObject({ candidates: 0, skipped: { 'observed-recently': 2 } });
    expect(await sightingOf(env, provider, restarted)).not.toBeNull();

    sim.restart(provider, project(provider), restarted); // VIAS start, IoTDA RetryBatchTask, IMM ResumeBatch
    const second = await runJanitor(env, { now: later(8 * DAY) });
    expect(second.stats[0]).toMatchObject({ deleted: 1, skipped: { 'state-not-selected': 1 } });
    expect(sim.deleted.map((d) => d.id)).toEqual([control]);
    expect(await sightingOf(env, provider, restarted)).toBeNull();

    // It finishes again: its clock starts at this sighting, not at the first one 8 days before.
    sim.update(provider, project(provider), restarted, { ...FINISHED[provider], ...(provider === 'imm' ? { UpdateTime: immTime(ago(30 * DAY)) } : {}) });
    const third = await runJanitor(env, { now: later(8 * DAY + MINUTE) });
    expect(third.stats[0]).toMatchObject({ candidates: 0, skipped: { 'observed-recently': 1 } });
    expect(sim.deleted.map((d) => d.id)).toEqual([control]);
  });
});

describe('the re-read before a delete in observed mode', () => {
  it('keeps an IoTDA task retried after the listing and drops its first sighting', async () => {
    const sim = await fixture.start();
    const id = ID.iotda('d');
    sim.put('iotda', project('iotda'), RECORDS.iotda(id, true, 30 * DAY));
    const env = envFor(sim, 'iotda', 'observed');
    await runJanitor(env);
    expect(await sightingOf(env, 'iotda', id)).not.toBeNull();

    sim.onAnswered({ provider: 'iotda', op: 'list' }, () => sim.restart('iotda', project('iotda'), id));
    const report = await runJanitor(env, { now: later(8 * DAY) });
    expect(report.stats[0]).toMatchObject({ candidates: 1, deleted: 0, skipped: { 'changed-before-delete': 1 } });
    expect(sim.counters.iotda.delete).toBe(0);
    expect(await sightingOf(env, 'iotda', id)).toBeNull();
  });

  it('keeps a task whose first sighting a later listing dropped while its job waited', async () => {
    const sim = await fixture.start();
    const id = ID.iotda('e');
    sim.put('iotda', project('iotda'), RECORDS.iotda(id, true, 30 * DAY));
    const env = envFor(sim, 'iotda', 'observed');
    await runJanitor(env);
    const produced = await produceOnly(fixture, env, { now: later(8 * DAY) });
    expect(produced.report.stats[0]?.enqueued).toBe(1);
    // As if another run's listing saw it running meanwhile (and it has finished again since): no record is left.
    await redis.hdel(observationKeyFor(env.JANITOR_QUEUE_PREFIX ?? '', 'iotda', project('iotda')), id);
    produced.startWorkers();
    const queue = produced.queues.get('iotda') as Queue<DeleteJobData, DeleteJobResult>;
    const deadline = Date.now() + 20_000;
    while ((await queue.getJobs(['completed', 'failed'])).length < 1 && Date.now() < deadline) await sleep(100);
    const [job] = await queue.getJobs(['completed']);
    expect(job?.returnvalue?.results).toMatchObject([{ id, result: 'skipped', reason: 'changed-before-delete', detail: 'observed-recently: observed terminal just now (no record)' }]);
    expect(sim.counters.iotda.delete).toBe(0);
    expect(sim.counters.iotda.get).toBe(0);
  });
});

describe('records of tasks no longer listed', () => {
  it('are dropped after a complete listing, never after a partial one', async () => {
    const sim = await fixture.start();
    const ids = Array.from({ length: 60 }, (_, i) => i.toString(16).padStart(24, '0'));
    for (const id of ids) sim.put('iotda', project('iotda'), RECORDS.iotda(id, true));
    const env = envFor(sim, 'iotda', 'observed');
    await runJanitor(env);
    expect(Object.keys(await sightingsOf(env, 'iotda')).sort()).toEqual(ids);

    const vanished = ids[59] as string;
    const retried = ids[30] as string; // on the first page, whichever way the marker walks
    sim.remove('iotda', project('iotda'), vanished); // deleted by someone else
    sim.restart('iotda', project('iotda'), retried);
    // The second page (of 50 tasks each) is refused: a partial listing keeps every record.
    sim.onAnswered({ provider: 'iotda', op: 'list' }, () => sim.inject({ provider: 'iotda', op: 'list', times: 1, response: huaweiError(403, 'IOTDA.000002', 'The project does not exist or is not authorized.') }));
    const partial = await runJanitor(env, { now: later(MINUTE) });
    expect(partial.stats[0]?.listError).toBeDefined();
    expect(await sightingOf(env, 'iotda', vanished)).not.toBeNull();
    // A task seen running loses its record on that page, complete listing or not.
    expect(await sightingOf(env, 'iotda', retried)).toBeNull();

    const complete = await runJanitor(env, { now: later(2 * MINUTE) });
    expect(complete.stats[0]).toMatchObject({ listed: 59, skipped: { 'observed-recently': 58, 'state-not-selected': 1 } });
    expect(Object.keys(await sightingsOf(env, 'iotda')).sort()).toEqual(ids.slice(0, 59).filter((id) => id !== retried));
  });

  it('are not started while the provider\'s clock is beyond JANITOR_MAX_CLOCK_SKEW: a sighting dated on a wrong local clock would overstate ages later', async () => {
    const sim = await fixture.start();
    const id = ID.iotda('8');
    sim.put('iotda', project('iotda'), RECORDS.iotda(id, true, 30 * DAY));
    const env = envFor(sim, 'iotda', 'observed');
    // The provider's Date header 8 days ahead: this machine's clock is taken to be 8 days behind.
    sim.knobs.clockSkewMs = 8 * DAY;
    const skewed = await runJanitor(env);
    expect(skewed.stats[0]).toMatchObject({ candidates: 0, deleted: 0 });
    expect(await sightingOf(env, 'iotda', id)).toBeNull();
    // Records started earlier survive such a listing (no sweep on a disputed clock), and a task seen
    // running again loses its record as always (dropping needs no clock).
    const kept = ID.iotda('7');
    const rerun = ID.iotda('6');
    sim.put('iotda', project('iotda'), RECORDS.iotda(kept, true, 30 * DAY));
    sim.put('iotda', project('iotda'), RECORDS.iotda(rerun, true, 30 * DAY));
    sim.knobs.clockSkewMs = 0;
    await runJanitor(env);
    const keptSince = await sightingOf(env, 'iotda', kept);
    expect(keptSince).not.toBeNull();
    expect(await sightingOf(env, 'iotda', rerun)).not.toBeNull();
    sim.update('iotda', project('iotda'), rerun, { status: 'Processing' });
    await redis.hdel(observationKeyFor(env.JANITOR_QUEUE_PREFIX ?? '', 'iotda', project('iotda')), id);
    sim.knobs.clockSkewMs = 8 * DAY;
    await runJanitor(env);
    expect(await sightingOf(env, 'iotda', kept)).toBe(keptSince);
    expect(await sightingOf(env, 'iotda', rerun)).toBeNull();
    expect(await sightingOf(env, 'iotda', id)).toBeNull();

    // Clocks agree again: the task is first seen terminal now, and kept for the retention (as is the one seen earlier).
    sim.knobs.clockSkewMs = 0;
    const agreed = await runJanitor(env);
    expect(agreed.stats[0]).toMatchObject({ candidates: 0, skipped: { 'observed-recently': 2, 'state-not-selected': 1 } });
    expect(Math.abs(Number((await sightingOf(env, 'iotda', id))?.split(':')[0]) * 1000 - Date.now())).toBeLessThan(MINUTE);
    expect(sim.deleted).toEqual([]);
  });

  it('count as seen just now when unreadable, and restart from this sighting', async () => {
    const sim = await fixture.start();
    const id = ID.vias('9');
    sim.put('vias', project('vias'), RECORDS.vias(id, true, 30 * DAY));
    const env = envFor(sim, 'vias', 'observed');
    await redis.hset(observationKeyFor(env.JANITOR_QUEUE_PREFIX ?? '', 'vias', project('vias')), id, 'not-a-time');
    const report = await runJanitor(env, { now: later(8 * DAY) });
    expect(report.stats[0]).toMatchObject({ candidates: 0, skipped: { 'observed-recently': 1 } });
    expect(Number((await sightingOf(env, 'vias', id))?.split(':')[0]) * 1000).toBeGreaterThan(Date.now() + 7 * DAY);
  });

  it('are all dropped by a real run in documented mode, so records no run kept up to date are never trusted later', async () => {
    const sim = await fixture.start();
    sim.put('vias', project('vias'), RECORDS.vias(ID.vias('f'), true, 30 * DAY));
    const env = envFor(sim, 'vias', 'observed');
    await runJanitor(env);
    expect(Object.keys(await sightingsOf(env, 'vias'))).toHaveLength(1);
    await runJanitor({ ...env, VIAS_AGE_FROM: 'documented' });
    expect(await sightingsOf(env, 'vias')).toEqual({});
  });
});

describe('a dry run in observed mode', () => {
  it('without Redis keeps every terminal task (observed just now) and says so', async () => {
    const sim = await fixture.start();
    for (const c of ['1', '2', '3']) sim.put('vias', project('vias'), RECORDS.vias(ID.vias(c), true, 30 * DAY));
    const logs = captureLogs();
    const noRedis = { REDIS_URL: 'redis://127.0.0.1:1', JANITOR_DRY_RUN: 'true' };
    const observed = await runJanitor(envFor(sim, 'vias', 'observed', noRedis), { logs: logs.stream, logLevel: 'debug' });
    expect(observed.stats[0]).toMatchObject({ listed: 3, candidates: 0, skipped: { 'observed-recently': 3 } });
    expect(logs.lines.find((l) => l.msg === 'task kept')).toMatchObject({ reason: 'observed-recently', detail: 'observed terminal just now (no record)' });
    expect(logs.lines.some((l) => typeof l.msg === 'string' && l.msg.startsWith('dry run without Redis'))).toBe(true);
    expect(observed.exitCode).toBe(0);

    const documented = await runJanitor(envFor(sim, 'vias', 'documented', noRedis));
    expect(documented.stats[0]).toMatchObject({ candidates: 3 });
    expect(sim.counters.vias.delete).toBe(0);
  });

  it('with Redis reads what real runs recorded and writes nothing', async () => {
    const sim = await fixture.start();
    const seen = ID.vias('4');
    const unseen = ID.vias('5');
    sim.put('vias', project('vias'), RECORDS.vias(seen, true, 30 * DAY));
    const env = envFor(sim, 'vias', 'observed');
    await runJanitor(env);
    const recorded = await sightingsOf(env, 'vias');
    sim.put('vias', project('vias'), RECORDS.vias(unseen, true, 30 * DAY));

    const logs = captureLogs();
    const dry = await runJanitor({ ...env, JANITOR_DRY_RUN: 'true' }, { now: later(8 * DAY), logs: logs.stream, logLevel: 'info' });
    expect(dry.stats[0]).toMatchObject({ listed: 2, candidates: 1, skipped: { 'observed-recently': 1 } });
    expect(logs.lines.filter((l) => l.msg === 'task would be deleted').map((l) => l.taskId)).toEqual([seen]);
    expect(await sightingsOf(env, 'vias')).toEqual(recorded);
    expect(sim.counters.vias.delete).toBe(0);
  });
});

describe('plan in observed mode', () => {
  it('states the trade-off, keeps everything without Redis, and with Redis reads the sightings without writing any', async () => {
    const sim = await fixture.start({ projects: { vias: [project('vias')] } });
    const old = ID.vias('6');
    const fresh = ID.vias('7');
    sim.put('vias', project('vias'), RECORDS.vias(old, true, 30 * DAY));
    sim.put('vias', project('vias'), RECORDS.vias(fresh, true, 30 * DAY));
    const env = envFor(sim, 'vias', 'observed');

    const blind = await runCli(['plan', '--output', '/dev/null'], { ...env, REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
    expect(blind.code).toBe(0);
    expect(blind.stdout).toContain('VIAS_AGE_FROM=observed: age from the later of the API\'s time and when the janitor first saw the task terminal; Redis did not answer');
    expect(blind.stdout).toContain('Trade-off: a task is deleted only 7d after the janitor first saw it terminal');
    expect(blind.stdout).toMatch(new RegExp(`vias +${project('vias')} +2 +0 +0 +2`));
    expect(blind.stdout).toContain('keep: observed terminal just now (no record); the retention (7d) counts from the first sighting');

    // A real run records both; one record is then made 8 days old, as if that run had been 8 days ago.
    await runJanitor(env);
    const eightDaysAgo = Math.floor((Date.now() - 8 * DAY) / 1000);
    await redis.hset(observationKeyFor(env.JANITOR_QUEUE_PREFIX ?? '', 'vias', project('vias')), old, `${eightDaysAgo}:${eightDaysAgo}`);
    const recorded = await sightingsOf(env, 'vias');
    const seeing = await runCli(['plan', '--json'], { ...env, JANITOR_DRY_RUN: 'false' });
    expect(seeing.code).toBe(0);
    const records = seeing.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.find((r) => r.id === old)).toMatchObject({ decision: 'delete', words: expect.stringMatching(/^delete: failed, first seen terminal 8d(\d+s)? ago > 7d$/) });
    expect(records.find((r) => r.id === fresh)).toMatchObject({ decision: 'keep', reason: 'observed-recently' });
    expect(records.at(-1)).toMatchObject({ kind: 'totals', sightings: 'read', byReason: { delete: 1 } });
    expect(await sightingsOf(env, 'vias')).toEqual(recorded);
    expect(sim.counters.vias.delete).toBe(0);

    const text = await runCli(['plan'], env);
    expect(text.stdout).toContain('(nothing is deleted; reads first sightings from Redis when it answers, writes nothing)');
    expect(text.stdout).toContain('this plan read the sightings real runs recorded in Redis (and recorded none)');
  });
});
