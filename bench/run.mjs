// Benchmarks: listing/policy throughput, memory of streaming, delete throughput versus concurrency,
// and rate-limit adherence, all against the simulator (in a child process) and a real Redis.
// Results are ratios measured within one run; they are written to bench/RESULTS.md.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { Redis } from 'ioredis';
import { loadConfig } from '../dist/config.js';
import { createLogger } from '../dist/logger.js';
import { createProviders } from '../dist/providers/registry.js';
import { runCleanup } from '../dist/run.js';
import { createShutdown } from '../dist/shutdown.js';
import { simulatorEnvironment } from '../dist/simulator/env.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const MAIN = new URL('../dist/main.js', import.meta.url).pathname;

async function startSim(args) {
  const child = spawn(process.execPath, [MAIN, 'simulate', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((resolve, reject) => {
    let text = '';
    child.stdout.on('data', (c) => {
      text += c.toString();
      const m = /listening on (http:\/\/\S+)/.exec(text);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`simulator exited ${code}`)));
  });
  const stats = async () => (await fetch(`${url}/_sim/stats`)).json();
  return { url, stats, stop: () => new Promise((r) => { child.once('exit', r); child.kill('SIGTERM'); }) };
}

async function dropPrefix(prefix) {
  const redis = new Redis(REDIS_URL);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    if (keys.length) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  redis.disconnect();
}

async function janitor(simUrl, extra) {
  const prefix = `bench-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
  const providers = (extra.JANITOR_PROVIDERS ?? 'iotda').split(',');
  const env = {
    REDIS_URL, JANITOR_QUEUE_PREFIX: prefix, JANITOR_PROVIDERS: 'iotda', JANITOR_DRY_RUN: 'false', LOG_LEVEL: 'silent', JANITOR_MAX_RUNTIME: '10m',
    ...simulatorEnvironment(simUrl, providers),
    ...Object.fromEntries(providers.map((p) => [`${p.toUpperCase()}_RATE_LIMIT`, '100000/s'])),
    ...extra,
  };
  const config = loadConfig(env);
  const logger = createLogger('silent');
  const shutdown = createShutdown(logger, { stepTimeoutMs: 30_000, handleSignals: false });
  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  let peak = heapBefore;
  const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().heapUsed); }, 5);
  const started = performance.now();
  const report = await runCleanup({ config, logger, providers: createProviders(config), shutdown }, 'run');
  const ms = performance.now() - started;
  clearInterval(sampler);
  await shutdown.close();
  await dropPrefix(prefix);
  /** @param {"listed" | "candidates" | "deleted"} key */
  const sum = (key) => report.stats.reduce((n, s) => n + s[key], 0);
  return { ms, listed: sum('listed'), candidates: sum('candidates'), deleted: sum('deleted'), peakHeapMb: (peak - heapBefore) / 1_048_576 };
}

/** @type {[string, string, string, { peakHeapMb: number }?][]} */
const rows = [];
const record = (name, value, note = '') => { rows.push([name, value, note]); console.log(`${name}: ${value} ${note}`); };

// 1. Listing + policy, dry run: throughput and the memory of streaming 4x more tasks.
for (const tasks of [5_000, 20_000]) {
  const sim = await startSim(['--tasks', String(tasks)]);
  const r = await janitor(sim.url, { JANITOR_DRY_RUN: 'true' });
  await sim.stop();
  record(`dry run over ${tasks} IoTDA tasks`, `${Math.round(r.listed / (r.ms / 1000))} tasks/s listed and judged`, `(${r.candidates} candidates, ${(r.ms / 1000).toFixed(1)} s, peak heap growth ${r.peakHeapMb.toFixed(1)} MB)`);
  rows.at(-1).push(r);
}
const [small, large] = rows.slice(0, 2).map((row) => row[3] ?? { peakHeapMb: 0 });
record('heap growth ratio, 20k vs 5k tasks (4x the tasks)', (large.peakHeapMb / Math.max(small.peakHeapMb, 0.1)).toFixed(2), '(streaming pages: well below 4 means memory does not grow with the list)');

// 2. Delete throughput versus per-provider concurrency, 20 ms simulated API latency.
const throughput = {};
for (const concurrency of [1, 8]) {
  const sim = await startSim(['--tasks', '1500', '--latency', '20', '--seed', '3']);
  const r = await janitor(sim.url, { IOTDA_CONCURRENCY: String(concurrency) });
  await sim.stop();
  throughput[concurrency] = r.deleted / (r.ms / 1000);
  record(`full run, concurrency ${concurrency}`, `${throughput[concurrency].toFixed(1)} deletes/s`, `(${r.deleted} deleted of ${r.listed} listed in ${(r.ms / 1000).toFixed(1)} s)`);
}
record('speed-up of concurrency 8 over 1', (throughput[8] / throughput[1]).toFixed(2), '(bounded by listing time and the 20 ms latency)');

// 3. Rate-limit adherence: achieved delete rate over the configured limit.
{
  const sim = await startSim(['--tasks', '800', '--seed', '5']);
  const limit = 40;
  const r = await janitor(sim.url, { IOTDA_RATE_LIMIT: `${limit}/s`, IOTDA_CONCURRENCY: '16' });
  const times = (await sim.stats()).counters.iotda.deleteTimes;
  await sim.stop();
  // Steady rate: deletes after the first one over the time they took; worst second: the most
  // deletes the provider saw in any sliding 1 s window (BullMQ's limiter uses fixed windows).
  const steady = (times.length - 1) / ((times.at(-1) - times[0]) / 1000);
  let worst = 0;
  for (let i = 0, j = 0; i < times.length; i++) { while (times[i] - times[j] >= 1000) j++; worst = Math.max(worst, i - j + 1); }
  record(`rate limit ${limit}/s, ${r.deleted} deletes: steady rate`, `${steady.toFixed(1)} deletes/s`, `(steady/limit ratio ${(steady / limit).toFixed(2)}; should stay <= 1)`);
  record(`rate limit ${limit}/s: most deletes in any sliding 1 s`, `${worst}`, `(ratio to limit ${(worst / limit).toFixed(2)}; the limit is split into small windows so no sliding second overshoots)`);
}

// 4. All five providers at once, each with its own queue, limiter and concurrency cap.
{
  const sim = await startSim(['--tasks', '1000', '--latency', '10', '--seed', '9']);
  const r = await janitor(sim.url, { JANITOR_PROVIDERS: 'imm,vias,iotda,mpc,workspace', ...Object.fromEntries(['IMM', 'VIAS', 'IOTDA', 'MPC', 'WORKSPACE'].map((p) => [`${p}_CONCURRENCY`, '8'])) });
  await sim.stop();
  record('full run, all five providers, 1000 tasks each, 10 ms latency, concurrency 8 each', `${(r.deleted / (r.ms / 1000)).toFixed(1)} deletes/s`, `(${r.deleted} deleted of ${r.listed} listed in ${(r.ms / 1000).toFixed(1)} s; Workspace deletes up to 10 ids per call)`);
}

const command = 'npm run bench';
const table = rows.map(([name, value, note]) => `| ${name} | ${value} | ${note} |`).join('\n');
writeFileSync(new URL('./RESULTS.md', import.meta.url), `# Benchmark results

Produced by \`${command}\` (bench/run.mjs) on ${new Date().toISOString().slice(0, 10)}, Node ${process.version},
${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Redis at ${REDIS_URL.replace(/\/\/.*@/, '//***@')}, simulator in a child process.
Absolute numbers vary on a shared 2-core machine; compare the ratios, which are measured within one run.

| measurement | result | notes |
| --- | --- | --- |
${table}
`);
console.log('wrote bench/RESULTS.md');
process.exit(0);
