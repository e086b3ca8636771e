#!/usr/bin/env node
// Benchmarks (issue 8): each comparison measured in this one run, next to its baseline and its goal,
// against the simulator in a child process and a real Redis. Writes bench/RESULTS.md.
// Usage: npm run bench [-- section...]   sections: overhead rate adaptive sequential reread scan listing-1m memory memory-run
// (a bare `npm run bench` runs them all: about half an hour; each section alone stays within a few minutes)
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { Queue } from 'bullmq';
import {
  bareIotdaDelete, bareIotdaRereadDelete, bareLoop, candidateIds, cpuMeter, deletesSince, dropPrefix, drained, iotdaEnv, janitorRun, janitorWork, mostInAnyWindow,
  plainBullmq, QUEUE_NAME, REDIS_URL, startSim, startWorkProcesses, steadyRate, stopProcesses, uniquePrefix,
} from './lib.mjs';
import { listingMillionSection, memorySection, runMemorySection, scanSection } from './scale.mjs';

const PROJECT = '1b2c3d4e5f60718293a4b5c6d7e8f90a';
/** Seeded tasks per benchmark (about half are candidates), scaled by BENCH_SCALE (default 1). */
const SIZE = (tasks) => Math.round(tasks * Number(process.env.BENCH_SCALE ?? 1));
const rows = [];
const record = (row) => {
  rows.push(row);
  console.log(`${row.measurement}: baseline ${row.baseline} | janitor ${row.result} | ${row.ratio ?? ''} | goal ${row.goal} ${row.met === undefined ? '' : row.met ? 'MET' : 'NOT MET'}`);
};
const f2 = (x) => x.toFixed(2);

/**
 * Deletes the candidates with the bare loops, with produce + work and with plain BullMQ, each on a fresh
 * simulator with the same seed. The like-for-like pair (the loop making the janitor's calls, and the
 * janitor) runs BENCH_ROUNDS times (default 5: one round swings by 0.1 on a shared machine), in alternating order so neither always runs first
 * (JIT warm-up, load drift); the ratio reported is the median of the rounds' ratios, with their range.
 * CPU per delete (this process, the simulator, Redis) is the load-independent view of the same work.
 */
async function overhead(latencyMs, goal) {
  const args = ['--tasks', String(SIZE(3000)), '--providers', 'iotda', '--latency', String(latencyMs), '--seed', '3'];
  let sim = await startSim(args);
  const ids = await candidateIds(sim.url, PROJECT);
  await sim.stop();
  const bareRun = async (call) => {
    sim = await startSim(args);
    const before = (await sim.stats()).counters.iotda;
    const cpu = await cpuMeter(sim);
    await bareLoop(ids, 32, call(sim.url, PROJECT));
    const used = await cpu.stop();
    const { times, deletes } = await deletesSince(sim, before);
    await sim.stop();
    return { rate: steadyRate(times), cpuUs: used.totalMs * 1000 / deletes };
  };
  // No rate limit, as the baseline has none: IOTDA_RATE_LIMIT=none (no slot per call). Beside it, the
  // same with both limits set far above what 32 tasks reach, so every call still takes its slot in Redis.
  const UNLIMITED = { IOTDA_RATE_LIMIT: 'none', IOTDA_READ_RATE_LIMIT: 'none' };
  const janitorRound = async (limits) => {
    sim = await startSim(args);
    const prefix = uniquePrefix('overhead');
    const env = iotdaEnv(sim.url, prefix, { IOTDA_CONCURRENCY: '32', ...limits });
    await janitorRun(env, 'produce');
    const before = (await sim.stats()).counters.iotda;
    const cpu = await cpuMeter(sim);
    await janitorWork(env);
    const used = await cpu.stop();
    const { times, deletes } = await deletesSince(sim, before);
    await sim.stop();
    await dropPrefix(prefix);
    return { rate: steadyRate(times), cpuUs: used.totalMs * 1000 / deletes };
  };
  const bare = await bareRun(bareIotdaDelete);
  const rounds = [];
  for (let round = 0; round < Number(process.env.BENCH_ROUNDS ?? 5); round++) {
    // The janitor re-reads every task right before deleting it (deletion safety): the same loop making
    // those two calls is the like-for-like baseline.
    const pair = {};
    const sides = ['loop', 'janitor', 'rated'];
    for (const side of round % 2 === 0 ? sides : sides.reverse()) {
      pair[side] = side === 'loop' ? await bareRun(bareIotdaRereadDelete) : await janitorRound(side === 'janitor' ? UNLIMITED : {});
    }
    rounds.push({ ...pair, ratio: pair.janitor.rate / pair.loop.rate, ratedRatio: pair.rated.rate / pair.loop.rate });
  }
  sim = await startSim(args);
  const before = (await sim.stats()).counters.iotda;
  await plainBullmq(sim.url, PROJECT, ids, { concurrency: 32, processes: 1 });
  const plain = steadyRate((await deletesSince(sim, before)).times);
  await sim.stop();

  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const ratio = median(rounds.map((r) => r.ratio));
  const rates = (side) => rounds.map((r) => r[side].rate.toFixed(0)).join(', ');
  const cpuUs = (side) => median(rounds.map((r) => r[side].cpuUs)).toFixed(0);
  record({
    measurement: `steady delete rate, concurrency 32, ${latencyMs} ms latency, ${ids.length} deletes, ${rounds.length} rounds`,
    baseline: `bare got loop re-read + delete ${rates('loop')}/s (CPU ${cpuUs('loop')} µs a delete); delete only ${bare.rate.toFixed(0)}/s; plain BullMQ (delete only) ${plain.toFixed(0)}/s (${f2(plain / bare.rate)})`,
    result: `IOTDA_RATE_LIMIT=none and IOTDA_READ_RATE_LIMIT=none: ${rates('janitor')}/s (CPU ${cpuUs('janitor')} µs a delete, Redis included); median ${f2(median(rounds.map((r) => r.janitor.rate)) / bare.rate)} of the delete-only loop. With both limits at 100000/s (a slot in Redis for every call): ${rates('rated')}/s (CPU ${cpuUs('rated')} µs), ratio ${f2(median(rounds.map((r) => r.ratedRatio)))} (rounds ${rounds.map((r) => f2(r.ratedRatio)).join(', ')})`,
    ratio: `${f2(ratio)} (rounds ${rounds.map((r) => f2(r.ratio)).join(', ')})`,
    goal: `≥ ${goal} of the loop making the same calls`, met: ratio >= goal,
  });
}

/** Two `work` processes sharing IOTDA_RATE_LIMIT, against two plain BullMQ workers with BullMQ's limiter. */
async function rateFidelity() {
  const R = 20;
  const args = ['--tasks', String(SIZE(400)), '--providers', 'iotda', '--latency', '50', '--seed', '5'];
  let sim = await startSim(args);
  const prefix = uniquePrefix('rate');
  const env = iotdaEnv(sim.url, prefix, { IOTDA_RATE_LIMIT: `${R}/s`, IOTDA_CONCURRENCY: '8' });
  const produced = await janitorRun(env, 'produce');
  let before = (await sim.stats()).counters.iotda;
  const children = startWorkProcesses(env, 2);
  const queue = new Queue(QUEUE_NAME, { connection: { url: REDIS_URL }, prefix });
  await drained(queue);
  await queue.close();
  await stopProcesses(children);
  const janitor = (await deletesSince(sim, before)).times;
  await sim.stop();
  await dropPrefix(prefix);

  sim = await startSim(args);
  const ids = await candidateIds(sim.url, PROJECT);
  before = (await sim.stats()).counters.iotda;
  await plainBullmq(sim.url, PROJECT, ids, { concurrency: 8, processes: 2, limitPerSecond: R });
  const plain = (await deletesSince(sim, before)).times;
  await sim.stop();

  const achieved = steadyRate(janitor) / R;
  const worst = mostInAnyWindow(janitor);
  record({
    measurement: `two work processes sharing IOTDA_RATE_LIMIT=${R}/s, 50 ms latency, ${produced.enqueued} deletes: achieved / R; most in any sliding second`,
    baseline: `plain BullMQ limiter: ${f2(steadyRate(plain) / R)}; max ${mostInAnyWindow(plain)}`,
    result: `${f2(achieved)}; max ${worst}`, ratio: f2(achieved), goal: `≥ 0.98, never > ${R}`, met: achieved >= 0.98 && worst <= R,
  });
}

/** A provider limit L hidden in the simulator, the janitor configured far above it. */
async function adaptive() {
  const L = 20;
  const args = ['--tasks', String(SIZE(600)), '--providers', 'iotda', '--latency', '20', '--seed', '7', '--rate-limit', String(L)];
  let sim = await startSim(args);
  const prefix = uniquePrefix('adaptive');
  // The hidden limit holds every API on its own (deletes and the re-reads), as the clouds meter them;
  // both budgets are configured far above it.
  const env = iotdaEnv(sim.url, prefix, { IOTDA_RATE_LIMIT: '100/s', IOTDA_READ_RATE_LIMIT: '100/s', IOTDA_CONCURRENCY: '8' });
  await janitorRun(env, 'produce');
  let before = (await sim.stats()).counters.iotda;
  const janitorBefore = before;
  const { status } = await janitorWork(env);
  const janitor = await deletesSince(sim, before);
  await sim.stop();
  await dropPrefix(prefix);

  // Beside it, no rate of the janitor's own (IOTDA_RATE_LIMIT=none): only the pauses after throttling.
  sim = await startSim(args);
  const unpacedPrefix = uniquePrefix('adaptive-none');
  const unpacedEnv = iotdaEnv(sim.url, unpacedPrefix, { IOTDA_RATE_LIMIT: 'none', IOTDA_READ_RATE_LIMIT: 'none', IOTDA_CONCURRENCY: '8' });
  await janitorRun(unpacedEnv, 'produce');
  before = (await sim.stats()).counters.iotda;
  await janitorWork(unpacedEnv);
  const unpaced = await deletesSince(sim, before);
  const unpacedReads = unpaced.after.get - before.get;
  await sim.stop();
  await dropPrefix(unpacedPrefix);

  sim = await startSim(args);
  const ids = await candidateIds(sim.url, PROJECT);
  await new Promise((r) => setTimeout(r, 1100)); // a fresh throttling window after the listing
  before = (await sim.stats()).counters.iotda;
  await plainBullmq(sim.url, PROJECT, ids, { concurrency: 8, processes: 1, limitPerSecond: 100 });
  const plain = await deletesSince(sim, before);
  await sim.stop();

  const share = janitor.throttled / (janitor.throttled + janitor.deletes);
  const achieved = steadyRate(janitor.times) / L;
  const effective = status.find((s) => s.kind === 'delete')?.effectivePerSecond ?? 0;
  const readShare = janitor.throttledReads / (janitor.throttledReads + janitor.deletes);
  // Every call the janitor made while deleting: deletes and re-reads, answered or throttled.
  const reads = janitor.after.get - janitorBefore.get;
  const allShare = (janitor.throttled + janitor.throttledReads) / (janitor.deletes + reads + janitor.throttled + janitor.throttledReads);
  record({
    measurement: `hidden provider limit L=${L}/s per API, IOTDA_RATE_LIMIT=100/s and IOTDA_READ_RATE_LIMIT=100/s, concurrency 8, ${janitor.deletes} deletes: throttled share of delete calls; achieved / L`,
    baseline: `plain BullMQ at 100/s: ${(100 * plain.throttled / (plain.throttled + plain.deletes)).toFixed(1)} % throttled, ${plain.deletes} of ${ids.length} deleted`,
    result: `${(100 * share).toFixed(1)} %; ${f2(achieved)} (effective delete rate at the end ${effective.toFixed(1)}/s; re-reads throttled ${(100 * readShare).toFixed(1)} %, all calls ${(100 * allShare).toFixed(1)} %). With IOTDA_RATE_LIMIT=none and IOTDA_READ_RATE_LIMIT=none: delete calls throttled ${(100 * unpaced.throttled / (unpaced.throttled + unpaced.deletes)).toFixed(1)} %, all calls ${(100 * (unpaced.throttled + unpaced.throttledReads) / (unpaced.deletes + unpacedReads + unpaced.throttled + unpaced.throttledReads)).toFixed(1)} %; ${f2(steadyRate(unpaced.times) / L)} of L`, ratio: f2(achieved),
    goal: '≤ 5 %; ≥ 0.85', met: share <= 0.05 && achieved >= 0.85,
  });
}

/** The loop a user would write first: one delete at a time, against the janitor's default-ish concurrency 8. */
async function sequential() {
  const args = ['--tasks', String(SIZE(300)), '--providers', 'iotda', '--latency', '50', '--seed', '11'];
  let sim = await startSim(args);
  const ids = await candidateIds(sim.url, PROJECT);
  const t0 = performance.now();
  await bareLoop(ids, 1, bareIotdaDelete(sim.url, PROJECT));
  const seqMs = performance.now() - t0;
  await sim.stop();

  sim = await startSim(args);
  const prefix = uniquePrefix('seq');
  const r = await janitorRun(iotdaEnv(sim.url, prefix, { IOTDA_CONCURRENCY: '8' }), 'run');
  await sim.stop();
  await dropPrefix(prefix);
  record({
    measurement: `${ids.length} deletes at 50 ms latency: whole run (list, enqueue, delete, settle) vs the sequential loop's deletes alone`,
    baseline: `sequential loop ${(seqMs / 1000).toFixed(1)} s`, result: `janitor run, concurrency 8: ${(r.ms / 1000).toFixed(1)} s`,
    ratio: `${f2(seqMs / r.ms)}x`, goal: 'faster than the loop (≈ concurrency ×, less listing)', met: seqMs / r.ms > 1,
  });
}

/**
 * What the fresh re-read before each delete costs: the janitor as shipped against the same janitor whose
 * provider answers every re-read with "cannot read back" (this bench's variant only; production has no
 * such switch), so each delete acts on its listing as the snapshot path allows. Same simulator seed.
 */
async function reread() {
  const args = ['--tasks', String(SIZE(3000)), '--providers', 'iotda', '--latency', '20', '--seed', '31'];
  const noReread = (provider) => ({ ...provider, getTask: () => Promise.resolve({ kind: 'no-read', reason: 'bench variant without the re-read' }) });
  const measured = {};
  // Re-reads draw on the read budget (unlimited here); P_CONCURRENCY bounds the jobs making them.
  const variants = [['shipped', undefined, {}], ['without', noReread, {}]];
  for (const [variant, wrap, extra] of variants) {
    const sim = await startSim(args);
    const prefix = uniquePrefix('reread');
    const env = iotdaEnv(sim.url, prefix, { IOTDA_CONCURRENCY: '32', ...extra });
    await janitorRun(env, 'produce');
    const before = (await sim.stats()).counters.iotda;
    const started = performance.now();
    await janitorWork(env, wrap);
    const ms = performance.now() - started;
    const seen = await deletesSince(sim, before);
    measured[variant] = { rate: steadyRate(seen.times), deletes: seen.deletes, reads: seen.after.get - before.get, ms };
    await sim.stop();
    await dropPrefix(prefix);
  }
  const { shipped, without } = measured;
  // Each of the 32 slots spends concurrency / rate seconds per delete; the difference is the re-read's share.
  const addedMs = (m) => ((32 / m.rate - 32 / without.rate) * 1000).toFixed(0);
  const describe = (m) => `${m.rate.toFixed(0)}/s, ${(m.reads / Math.max(m.deletes, 1)).toFixed(2)} reads per delete, drained in ${(m.ms / 1000).toFixed(1)} s`;
  record({
    measurement: `fresh re-read before each delete, IoTDA (ShowBatchTask), 20 ms latency, concurrency 32, ${shipped.deletes} deletes: delete rate; re-reads per delete; time added per delete`,
    baseline: `same janitor without the re-read (bench variant): ${describe(without)}`,
    result: `as shipped: ${describe(shipped)}, ${addedMs(shipped)} ms added per delete`,
    ratio: f2(shipped.rate / without.rate), goal: 'measured (its price: one read call per delete)',
  });
}

const SECTIONS = {
  overhead: async () => { await overhead(20, 0.95); await overhead(0, 0.9); },
  rate: rateFidelity, adaptive, sequential, reread,
  scan: () => scanSection(record), 'listing-1m': () => listingMillionSection(record),
  memory: () => memorySection(record), 'memory-run': () => runMemorySection(record),
};
const wanted = process.argv.slice(2).filter((a) => a !== '--');
const chosen = wanted.length > 0 ? wanted : Object.keys(SECTIONS);
for (const name of chosen) {
  if (!SECTIONS[name]) throw new Error(`unknown section ${name}; expected ${Object.keys(SECTIONS).join(', ')}`);
  console.log(`== ${name}`);
  await SECTIONS[name]();
}

const command = `npm run bench${wanted.length > 0 ? ` -- ${wanted.join(' ')}` : ''}`;
const table = rows.map((r) => `| ${r.measurement} | ${r.baseline} | ${r.result} | ${r.ratio ?? ''} | ${r.goal} | ${r.met === undefined ? '' : r.met ? 'met' : '**not met**'} |`).join('\n');
const text = `| measurement | baseline (same run) | task-janitor | ratio | goal | |
| --- | --- | --- | --- | --- | --- |
${table}`;
const out = process.env.BENCH_OUT ?? new URL('./RESULTS.md', import.meta.url).pathname;
writeFileSync(out, `# Benchmark results

Produced by \`${command}\` (bench/run.mjs) on ${new Date().toISOString().slice(0, 16)} UTC, Node ${process.version},
${cpus().length} cores (load average ${loadavg()[0].toFixed(1)} at the end), ${Math.round(totalmem() / 2 ** 30)} GiB, Redis at ${REDIS_URL.replace(/\/\/.*@/, '//***@')},
the simulator in a child process. Every ratio compares two figures measured in this same run.

${text}
`);
console.log(`wrote ${out}`);
process.exit(0);
