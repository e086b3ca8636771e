// Scale benchmarks: listing and enqueueing 100,000 tasks, listing at 150 ms per page with and without
// listing concurrency, and peak RSS of the real CLI (child processes) and Redis bytes per queued task.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { dropPrefix, iotdaEnv, janitorRun, MAIN, REDIS_URL, startSim, uniquePrefix } from './lib.mjs';

const MB = 1_048_576;

/** Runs `task-janitor <command>` in a child process and returns its peak RSS (VmHWM) and wall time. */
function cli(command, env) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [MAIN, command], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
    let peak = 0;
    const timer = setInterval(() => {
      try {
        peak = Math.max(peak, Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0) * 1024);
      } catch { /* exited */ }
    }, 25);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearInterval(timer);
      resolve({ code, peakRss: peak, ms: performance.now() - started });
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

export async function scanSection(record) {
  // 1. produce over 100,000 IoTDA tasks: list, judge, claim, enqueue.
  {
    const sim = await startSim(['--tasks', '100000', '--providers', 'iotda', '--seed', '13']);
    const prefix = uniquePrefix('scan');
    const r = await janitorRun(iotdaEnv(sim.url, prefix), 'produce');
    await sim.stop();
    await dropPrefix(prefix);
    record({
      measurement: `produce over ${r.listed} IoTDA tasks (list, judge, claim, enqueue ${r.enqueued})`, baseline: '11.1 s before this work (issue 8)',
      result: `${(r.ms / 1000).toFixed(1)} s`, ratio: `${Math.round(r.listed / (r.ms / 1000))} tasks/s`, goal: '≤ 10 s', met: r.ms <= 10_000,
    });
  }
  // 2. listing at 150 ms per page, one page at a time versus IOTDA_LIST_CONCURRENCY.
  {
    const tasks = 6_500;
    const sim = await startSim(['--tasks', String(tasks), '--providers', 'iotda', '--latency', '150', '--seed', '17']);
    const times = {};
    for (const concurrency of [1, 8]) {
      const r = await janitorRun({ ...iotdaEnv(sim.url, uniquePrefix('list')), JANITOR_DRY_RUN: 'true', IOTDA_LIST_CONCURRENCY: String(concurrency) }, 'run');
      times[concurrency] = r.ms;
    }
    await sim.stop();
    const project = (ms) => ((ms / tasks) * 1_000_000) / 60_000;
    record({
      measurement: `listing ${tasks} IoTDA tasks (13 task types) at 150 ms per page; projected to 1,000,000`,
      baseline: `one page at a time: ${(times[1] / 1000).toFixed(1)} s (1M: ${project(times[1]).toFixed(0)} min)`,
      result: `IOTDA_LIST_CONCURRENCY=8: ${(times[8] / 1000).toFixed(1)} s (1M: ${project(times[8]).toFixed(1)} min)`,
      ratio: `${(times[1] / times[8]).toFixed(1)}x`, goal: '1M in ≤ 10 min', met: project(times[8]) <= 10,
    });
  }
}

export async function memorySection(record) {
  const tasks = Number(process.env.BENCH_SCALE_TASKS ?? 1_000_000);
  const sim = await startSim(['--tasks', String(tasks), '--providers', 'iotda', '--seed', '19']);
  const simAfterSeed = simRss(sim);
  // Dry run: lists and judges every task, touches no Redis.
  const dry = await cli('run', { ...iotdaEnv(sim.url, uniquePrefix('dry')), JANITOR_DRY_RUN: 'true', LOG_LEVEL: 'warn' });
  record({
    measurement: `peak RSS of a dry run over ${tasks.toLocaleString('en')} IoTDA tasks (simulator: ${(simAfterSeed / MB).toFixed(0)} MB seeded, ${(simRss(sim) / MB).toFixed(0)} MB after serving)`,
    baseline: '173 MB before this work', result: `${(dry.peakRss / MB).toFixed(0)} MB in ${(dry.ms / 1000).toFixed(0)} s`, goal: '≤ 200 MB', met: dry.peakRss <= 200 * MB,
  });
  // produce: lists, claims and enqueues every candidate; Redis growth per queued task.
  const prefix = uniquePrefix('mem');
  const before = await usedMemory();
  const produce = await cli('produce', { ...iotdaEnv(sim.url, prefix), LOG_LEVEL: 'warn' });
  const grown = (await usedMemory()) - before;
  const redis = new Redis(REDIS_URL);
  const queued = await redis.llen(`${prefix}:delete-iotda:wait`);
  redis.disconnect();
  record({
    measurement: `peak RSS of produce over ${tasks.toLocaleString('en')} IoTDA tasks (${queued.toLocaleString('en')} queued)`,
    baseline: '481 MB before this work', result: `${(produce.peakRss / MB).toFixed(0)} MB in ${(produce.ms / 1000).toFixed(0)} s`, goal: '≤ 256 MB', met: produce.peakRss <= 256 * MB,
  });
  record({
    measurement: 'Redis bytes per queued task (job hash, claim, queue entries; used_memory growth / queued)',
    baseline: 'about 1,500 before this work', result: `${Math.round(grown / Math.max(queued, 1))} bytes`, goal: '≤ 600', met: grown / Math.max(queued, 1) <= 600,
  });
  await dropPrefix(prefix);
  await sim.stop();
}
