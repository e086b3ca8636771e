// Scale benchmarks: listing and enqueueing 100,000 tasks, listing at 150 ms per page with and without
// listing concurrency (a small population projected, and a real million), peak RSS of the real CLI
// (child processes) over a million tasks and Redis bytes per queued task.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { claimKeyFor } from '../dist/queue.js';
import { dropPrefix, iotdaEnv, janitorRun, MAIN, REDIS_URL, startSim, uniquePrefix } from './lib.mjs';

const MB = 1_048_576;

/** Runs `task-janitor <command>` in a child process and returns its peak RSS (VmHWM) and wall time. */
function cli(command, env) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [MAIN, command], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (c) => { stdout += c.toString(); });
    let peak = 0;
    const timer = setInterval(() => {
      try {
        peak = Math.max(peak, Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0) * 1024);
      } catch { /* exited */ }
    }, 25);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearInterval(timer);
      const sum = (key) => [...stdout.matchAll(new RegExp(`${key} (\\d+)`, 'g'))].reduce((n, m) => n + Number(m[1]), 0);
      resolve({ code, peakRss: peak, ms: performance.now() - started, enqueued: sum('enqueued'), deleted: sum('deleted') });
    });
  });
}

function simRss(sim) {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${sim.pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
}

async function usedMemory() {
  const redis = new Redis(REDIS_URL);
  const info = await redis.info('memory');
  redis.disconnect();
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
}

const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

export async function scanSection(record) {
  // 1. produce over 100,000 IoTDA tasks: list, judge, claim, enqueue; beside it the listing and judging alone (a dry run).
  {
    const sim = await startSim(['--tasks', '100000', '--providers', 'iotda', '--seed', '13']);
    const dry = await janitorRun({ ...iotdaEnv(sim.url, uniquePrefix('scan-dry')), JANITOR_DRY_RUN: 'true' }, 'produce');
    const prefix = uniquePrefix('scan');
    const r = await janitorRun(iotdaEnv(sim.url, prefix), 'produce');
    await sim.stop();
    await dropPrefix(prefix);
    record({
      measurement: `produce over ${r.listed.toLocaleString('en')} IoTDA tasks (list, judge, claim, enqueue ${r.enqueued.toLocaleString('en')}), IOTDA_LIST_CONCURRENCY=4 (default), no latency`,
      baseline: `listing and judging alone (dry run): ${seconds(dry.ms)}`,
      result: seconds(r.ms), ratio: `${Math.round(r.listed / (r.ms / 1000))} tasks/s`, goal: '≤ 10 s', met: r.ms <= 10_000,
    });
  }
  // 2. listing at 150 ms per page, one page at a time versus P_LIST_CONCURRENCY, projected from a small population.
  {
    const tasks = 6_500;
    const sim = await startSim(['--tasks', String(tasks), '--providers', 'iotda', '--latency', '150', '--seed', '17']);
    const times = {};
    for (const concurrency of [1, 4, 13]) {
      const r = await janitorRun({ ...iotdaEnv(sim.url, uniquePrefix('list')), JANITOR_DRY_RUN: 'true', IOTDA_LIST_CONCURRENCY: String(concurrency) }, 'run');
      times[concurrency] = r.ms;
    }
    await sim.stop();
    const project = (ms) => ((ms / tasks) * 1_000_000) / 60_000;
    const at = (c) => `${seconds(times[c])} (1M: ${project(times[c]).toFixed(1)} min)`;
    record({
      measurement: `listing ${tasks} IoTDA tasks (13 task types, 50 per page) at 150 ms per page, read rate unlimited; projected linearly to 1,000,000`,
      baseline: `one page at a time: ${at(1)}`,
      result: `IOTDA_LIST_CONCURRENCY=4 (default): ${at(4)}; =13 (one per task type): ${at(13)}`,
      ratio: `${(times[1] / times[13]).toFixed(1)}x`, goal: '1M in ≤ 10 min', met: project(times[13]) <= 10,
    });
  }
}

/** Listing a real million IoTDA tasks at 150 ms per page, every task type side by side (about 4 minutes). */
export async function listingMillionSection(record) {
  const tasks = Number(process.env.BENCH_SCALE_TASKS ?? 1_000_000);
  const concurrency = 13;
  const sim = await startSim(['--tasks', String(tasks), '--providers', 'iotda', '--latency', '150', '--seed', '23']);
  const r = await janitorRun({ ...iotdaEnv(sim.url, uniquePrefix('list1m')), JANITOR_DRY_RUN: 'true', IOTDA_LIST_CONCURRENCY: String(concurrency) }, 'run');
  const pages = (await sim.stats()).counters.iotda.list;
  await sim.stop();
  const serialMin = (pages * 0.15) / 60;
  record({
    measurement: `listing ${r.listed.toLocaleString('en')} IoTDA tasks at 150 ms per page (${pages.toLocaleString('en')} pages), IOTDA_LIST_CONCURRENCY=${concurrency}, read rate unlimited`,
    baseline: `one page at a time: ≥ ${serialMin.toFixed(0)} min (pages × 150 ms, not run)`,
    result: `${(r.ms / 60_000).toFixed(1)} min`, ratio: `${((serialMin * 60_000) / r.ms).toFixed(1)}x`, goal: '≤ 10 min', met: r.ms <= 600_000,
  });
}

/** A unique queue prefix as long as the default `janitor` (keys carry it, so its length is part of the bytes per task). */
const defaultLengthPrefix = () => `j${Math.random().toString(36).slice(2, 8).padEnd(6, '0')}`;

/** Peak RSS of a dry run and of `produce` over a million tasks, and Redis bytes per queued task. */
export async function memorySection(record) {
  const tasks = Number(process.env.BENCH_SCALE_TASKS ?? 1_000_000);
  const sim = await startSim(['--tasks', String(tasks), '--providers', 'iotda', '--seed', '19']);
  const simAfterSeed = simRss(sim);
  // Dry run: lists and judges every task, touches no Redis.
  const dry = await cli('run', { ...iotdaEnv(sim.url, uniquePrefix('dry')), JANITOR_DRY_RUN: 'true', LOG_LEVEL: 'warn' });
  record({
    measurement: `peak RSS of a dry run over ${tasks.toLocaleString('en')} IoTDA tasks (simulator: ${(simAfterSeed / MB).toFixed(0)} MB seeded, ${(simRss(sim) / MB).toFixed(0)} MB after serving)`,
    baseline: '173 MB in issue 8', result: `${(dry.peakRss / MB).toFixed(0)} MB in ${(dry.ms / 1000).toFixed(0)} s`, goal: '≤ 200 MB', met: dry.peakRss <= 200 * MB,
  });
  // produce: lists, claims and enqueues every candidate; Redis growth per queued task.
  const prefix = defaultLengthPrefix();
  const before = await usedMemory();
  const produce = await cli('produce', { ...iotdaEnv(sim.url, prefix), LOG_LEVEL: 'warn' });
  const grown = (await usedMemory()) - before;
  const parts = await sampleKeys(prefix);
  record({
    measurement: `peak RSS of produce over ${tasks.toLocaleString('en')} IoTDA tasks (${produce.enqueued.toLocaleString('en')} tasks queued in ${parts.jobs.toLocaleString('en')} jobs)`,
    baseline: '481 MB in issue 8', result: `${(produce.peakRss / MB).toFixed(0)} MB in ${(produce.ms / 1000).toFixed(0)} s`, goal: '≤ 256 MB', met: produce.peakRss <= 256 * MB,
  });
  const perTask = grown / Math.max(produce.enqueued, 1);
  record({
    measurement: 'Redis bytes per queued task, queue prefix as long as the default (7 characters): used_memory growth / tasks queued (MEMORY USAGE of a sample: job hash, claim)',
    baseline: 'about 1,500 in issue 8 (1,244-byte job hash + 232-byte claim)',
    result: `${Math.round(perTask)} bytes (job hash ${parts.jobHash} B per ${parts.tasksPerJob.toFixed(1)} tasks, claim ${parts.claim} B)`,
    goal: '≤ 600', met: perTask <= 600,
  });
  await dropPrefix(prefix);
  await sim.stop();
}

/**
 * Peak RSS of `run` over a million tasks: it tracks every job it enqueued until the deadline ends it
 * (deleting half a million tasks would take far longer than a bench should), so the peak covers the
 * whole listing, every job tracked, and deletes running beside it.
 */
export async function runMemorySection(record) {
  const tasks = Number(process.env.BENCH_SCALE_TASKS ?? 1_000_000);
  const runtime = process.env.BENCH_RUN_RUNTIME ?? '4m';
  // BENCH_HEAP_MB caps the V8 heap (the container ships --max-old-space-size=160): a run that still
  // finishes under a small cap shows what it really retains, whatever the GC lets RSS grow to without one.
  const heapMb = process.env.BENCH_HEAP_MB;
  const heap = heapMb ? { NODE_OPTIONS: `--max-old-space-size=${heapMb}` } : {};
  const sim = await startSim(['--tasks', String(tasks), '--providers', 'iotda', '--seed', '29']);
  const prefix = uniquePrefix('memrun');
  const run = await cli('run', { ...iotdaEnv(sim.url, prefix, { IOTDA_CONCURRENCY: '16' }), LOG_LEVEL: 'warn', JANITOR_MAX_RUNTIME: runtime, JANITOR_SHUTDOWN_GRACE: '10s', ...heap });
  const deletes = (await sim.stats()).counters.iotda.delete;
  await dropPrefix(prefix);
  await sim.stop();
  record({
    measurement: `peak RSS of run over ${tasks.toLocaleString('en')} IoTDA tasks, IOTDA_CONCURRENCY=16, JANITOR_MAX_RUNTIME=${runtime}${heapMb ? `, heap capped at ${heapMb} MB` : ', no heap cap'} (${run.enqueued.toLocaleString('en')} tasks enqueued and tracked, ${deletes.toLocaleString('en')} deleted before the deadline)`,
    baseline: '617 MB in issue 8', result: `${(run.peakRss / MB).toFixed(0)} MB in ${(run.ms / 1000).toFixed(0)} s (exit ${run.code})`, goal: '≤ 256 MB', met: run.peakRss <= 256 * MB,
  });
}

/** MEMORY USAGE of a sample of job hashes and claims under `prefix`, and the tasks a job carries. */
async function sampleKeys(prefix) {
  const redis = new Redis(REDIS_URL);
  const queue = `${prefix}:delete-iotda`;
  const jobs = await redis.llen(`${queue}:wait`);
  const ids = await redis.lrange(`${queue}:wait`, 0, 99);
  let jobHash = 0;
  let tasksInJobs = 0;
  let claim = 0;
  for (const id of ids) {
    jobHash += Number(await redis.call('MEMORY', 'USAGE', `${queue}:${id}`));
    const data = JSON.parse((await redis.hget(`${queue}:${id}`, 'data')) ?? '{}');
    const taskIds = (data.tasks ?? []).map((t) => t.id);
    tasksInJobs += taskIds.length;
    claim += Number(await redis.call('MEMORY', 'USAGE', claimKeyFor(prefix, 'iotda', data.target, taskIds[0])) ?? 0);
  }
  redis.disconnect();
  const n = Math.max(ids.length, 1);
  return { jobs, jobHash: Math.round(jobHash / n), claim: Math.round(claim / n), tasksPerJob: tasksInJobs / n };
}
