import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { iotdaTime } from '../../src/simulator/iotda.js';
import { DEFAULT_SIM_PROJECTS, type Simulator } from '../../src/simulator/server.js';
import { freePort, MAIN, runCli } from '../helpers/cli.js';
import { runJanitor, simulatorEnv, useSimulators } from '../helpers/janitor.js';

const DAY = 86_400_000;
const PROJECT = DEFAULT_SIM_PROJECTS.iotda[0] as string;
const fixture = useSimulators('plan');

let serial = 0;
function put(sim: Simulator, created: string | number, over: { name?: string; type?: string; status?: string } = {}): string {
  serial += 1;
  const id = `${serial.toString(16).padStart(8, '0')}cccccccccccccccc`;
  sim.put('iotda', PROJECT, {
    task_id: id, task_name: over.name ?? `job-${serial}`, task_type: over.type ?? 'createDevices', status: over.status ?? 'Success',
    create_time: typeof created === 'number' ? iotdaTime(new Date(Date.now() - created * DAY)) : created,
  });
  return id;
}

/** A simulator with one task for every kind of decision, and the environment of a plan against it with Redis switched off. */
async function mixed(extra: Record<string, string> = {}) {
  const sim = await fixture.start({ projects: { iotda: [PROJECT] } });
  const ids = {
    stale: put(sim, 12),
    running: put(sim, 30, { status: 'Processing' }),
    recent: put(sim, 2),
    protected: put(sim, 40, { name: 'prod-nightly' }),
    unparseable: put(sim, '2024-13-45T99:00'),
    newest: put(sim, 9, { type: 'deleteDevices' }),
    olderOfType: put(sim, 20, { type: 'deleteDevices' }),
  };
  // Nothing listens on this port: a plan that touched Redis would fail.
  const env = simulatorEnv(sim, ['iotda'], fixture.prefix(), {
    REDIS_URL: `redis://127.0.0.1:${await freePort()}`, IOTDA_TASK_TYPES: 'createDevices,deleteDevices',
    IOTDA_EXCLUDE: '^prod-', IOTDA_KEEP_LATEST: '1', ...extra,
  });
  return { sim, ids, env };
}

describe('plan', () => {
  it('reports every task with its decision in words, with Redis switched off, and deletes nothing', async () => {
    const { sim, ids, env } = await mixed();
    const dir = mkdtempSync(join(tmpdir(), 'plan-'));
    const result = await runCli(['plan', '--output', join(dir, 'plan.txt')], env);
    expect(result.stderr).not.toMatch(/redis|ECONNREFUSED/i);
    expect(result.code).toBe(0);
    expect(sim.counters.iotda.delete).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`iotda +${PROJECT} +7 +2 +2 +5`)); // listed, candidates, delete, keep
    expect(result.stdout).toContain('keep: protected');
    const lines = readFileSync(join(dir, 'plan.txt'), 'utf8').trim().split('\n');
    const wordsOf = (id: string) => lines.find((l) => l.split('\t')[2] === id)?.split('\t')[3];
    expect(lines).toHaveLength(7);
    expect(wordsOf(ids.stale)).toMatch(/^delete: Success, created 12d(\d+s)? ago > 7d$/);
    expect(wordsOf(ids.olderOfType)).toMatch(/^delete: Success, created 20d/);
    expect(wordsOf(ids.running)).toBe('keep: state Processing');
    expect(wordsOf(ids.recent)).toMatch(/^keep: created 2d(\d+s)? ago \(retention 7d\)$/);
    expect(wordsOf(ids.protected)).toBe('keep: protected by IOTDA_EXCLUDE (/^prod-/): name "prod-nightly" matches');
    expect(wordsOf(ids.unparseable)).toBe('keep: unparseable create_time');
    expect(wordsOf(ids.newest)).toBe('keep: newest 1 kept (IOTDA_KEEP_LATEST, task type deleteDevices)');
  });

  it('--json to a reader that does not keep up holds the listing instead of buffering every row in memory', async () => {
    const sim = await fixture.start({ projects: { iotda: [PROJECT] } });
    for (let n = 0; n < 6_000; n++) put(sim, 12);
    const env = simulatorEnv(sim, ['iotda'], fixture.prefix(), { REDIS_URL: `redis://127.0.0.1:${await freePort()}`, IOTDA_TASK_TYPES: 'createDevices' });
    const child = spawn(process.execPath, [MAIN, 'plan', '--json'], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    // Read nothing for a while: the pipe fills (6,000 rows of about 300 bytes; a pipe holds 64 KiB).
    child.stdout.pause();
    await new Promise((r) => setTimeout(r, 3_000));
    const listedWhileBlocked = sim.counters.iotda.list;
    expect(listedWhileBlocked).toBeLessThan(40); // of 121 pages (50 rows each)
    let text = '';
    child.stdout.on('data', (c: Buffer) => { text += c.toString(); });
    child.stdout.resume();
    expect(await exited).toBe(0);
    const records = text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.filter((r) => r.kind === 'task')).toHaveLength(6_000);
    expect(records.at(-1)).toMatchObject({ kind: 'totals', targets: [{ listed: 6_000, candidates: 6_000 }] });
  }, 60_000);

  it('writes JSON lines with --json, a totals line last, and its deletions are exactly what a run deletes', async () => {
    const { sim, ids, env } = await mixed();
    const result = await runCli(['plan', '--json'], env);
    expect(result.code).toBe(0);
    const records = result.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const tasks = records.filter((r) => r.kind === 'task');
    expect(tasks).toHaveLength(7);
    expect(records.at(-1)).toMatchObject({ kind: 'totals', exitCode: 0, byReason: { delete: 2 }, targets: [{ listed: 7, candidates: 2, delete: 2 }] });
    const planned = tasks.filter((t) => t.decision === 'delete').map((t) => t.id).sort();
    expect(planned).toEqual([ids.stale, ids.olderOfType].sort());
    // The plan and the run share one judging path: a real run deletes exactly the planned tasks.
    const report = await runJanitor({ ...env, REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
    expect(report.exitCode).toBe(0);
    expect(sim.deleted.map((d) => d.id).sort()).toEqual(planned);
  });

  it('exits 5 as a run would when a cap refuses, and says why', async () => {
    const { sim, env } = await mixed({ IOTDA_MAX_DELETES: '1' });
    const result = await runCli(['plan'], env);
    expect(result.code).toBe(5);
    expect(result.stdout).toContain(`iotda ${PROJECT}: REFUSED: 2 deletion candidates in iotda exceed IOTDA_MAX_DELETES=1`);
    expect(sim.counters.iotda.delete).toBe(0);
  });
});

describe('explain', () => {
  it('prints every check a task passed with its value, and the one that decided', async () => {
    const { ids, env } = await mixed();
    const stale = await runCli(['explain', 'iotda', ids.stale], env);
    expect(stale.code).toBe(0);
    expect(stale.stdout).toMatch(/ id +passed +\w+/);
    expect(stale.stdout).toMatch(/ IOTDA_EXCLUDE +passed +\/\^prod-\/ matches none of id, name, type/);
    expect(stale.stdout).toMatch(/ state +passed +Success \(selected: Success, Fail, PartialSuccess, Stopped\)/);
    expect(stale.stdout).toMatch(/ age +passed +12d(\d+s)? > retention 7d/);
    expect(stale.stdout).toMatch(/ IOTDA_KEEP_LATEST +passed +1: not among the newest 1/);
    expect(stale.stdout).toMatch(/ clock +passed +Date header \d+s? ?\w* (ahead of|behind) the local clock|no Date header/);
    expect(stale.stdout).toMatch(/decision: delete: Success, created 12d/);
    const kept = await runCli(['explain', 'iotda', ids.protected], env);
    expect(kept.stdout).toMatch(/ IOTDA_EXCLUDE +KEPT +protected by IOTDA_EXCLUDE/);
    expect(kept.stdout).not.toContain(' state ');
  });

  it('exits 1 for a task that is not listed, and 2 for a provider not configured', async () => {
    const { env } = await mixed();
    expect((await runCli(['explain', 'iotda', 'nosuch'], env)).code).toBe(1);
    const usage = await runCli(['explain', 'vias', 'x'], env);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('provider "vias" is not in JANITOR_PROVIDERS');
  });
});
