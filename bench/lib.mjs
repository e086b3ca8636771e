// Bench building blocks: the simulator in a child process, janitor configurations, the baselines a
// user would write (a bare got loop, a sequential loop, a plain BullMQ worker) and measurements.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { loadConfig } from '../dist/config.js';
import { limiterFor } from '../dist/limiter.js';
import { createLogger } from '../dist/logger.js';
import { callHuawei, classifyHuaweiFailure } from '../dist/providers/huawei-api.js';
import { createHttpClient } from '../dist/providers/http.js';
import { createProviders } from '../dist/providers/registry.js';
import { queueNameFor } from '../dist/queue.js';
import { connectRedis, openQueues, runCleanup, startWorkers } from '../dist/run.js';
import { createShutdown } from '../dist/shutdown.js';
import { simulatorEnvironment } from '../dist/simulator/env.js';
import { SIMULATOR_CREDENTIALS } from '../dist/simulator/server.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const MAIN = new URL('../dist/main.js', import.meta.url).pathname;
const PLAIN_WORKER = new URL('./plain-worker.mjs', import.meta.url).pathname;

/** Starts `task-janitor simulate` in a child process, so its CPU is not the janitor's. */
export async function startSim(args) {
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
  return { url, pid: child.pid, stats, stop: () => new Promise((r) => { child.once('exit', r); child.kill('SIGTERM'); }) };
}

export function uniquePrefix(label) {
  return `bench-${label}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

export async function dropPrefix(prefix) {
  const redis = new Redis(REDIS_URL);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    if (keys.length) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  redis.disconnect();
}

/** IoTDA against the simulator, deleting for real, no limits unless `extra` sets them. */
export function iotdaEnv(simUrl, prefix, extra = {}) {
  return {
    REDIS_URL, JANITOR_QUEUE_PREFIX: prefix, JANITOR_PROVIDERS: 'iotda', JANITOR_DRY_RUN: 'false', LOG_LEVEL: 'silent', JANITOR_MAX_RUNTIME: '30m', JANITOR_METRICS_PORT: '0',
    ...simulatorEnvironment(simUrl, ['iotda']), IOTDA_RATE_LIMIT: '100000/s', IOTDA_READ_RATE_LIMIT: '100000/s', ...extra,
  };
}

/** One janitor command in this process, as main wires it (limiter, providers, shutdown). */
export async function janitorRun(env, mode) {
  const config = loadConfig(env);
  const logger = createLogger('silent');
  const shutdown = createShutdown(logger, { graceMs: 30_000, handleSignals: false });
  const limiter = limiterFor(config);
  shutdown.onClose('limiter', () => limiter.close());
  const started = performance.now();
  const report = await runCleanup({ config, logger, providers: createProviders(config, undefined, undefined, limiter), shutdown }, mode);
  const ms = performance.now() - started;
  await shutdown.close();
  const sum = (key) => report.stats.reduce((n, s) => n + s[key], 0);
  return { ms, listed: sum('listed'), candidates: sum('candidates'), enqueued: sum('enqueued'), deleted: sum('deleted') };
}

/** Waits until a queue has nothing waiting, delayed or active. */
export async function drained(queue, timeoutMs = 600_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const counts = await queue.getJobCounts('wait', 'active', 'delayed', 'prioritized', 'waiting-children');
    if (Object.values(counts).every((n) => n === 0)) return;
    if (Date.now() > until) throw new Error(`queue not drained: ${JSON.stringify(counts)}`);
    await sleep(100);
  }
}

/** Runs the janitor's workers in this process over what `produce` enqueued, until the queue drains; `wrap` may replace a provider (bench variants). */
export async function janitorWork(env, wrap = (provider) => provider) {
  const config = loadConfig(env);
  const logger = createLogger('silent');
  const shutdown = createShutdown(logger, { graceMs: 30_000, handleSignals: false });
  const limiter = limiterFor(config);
  shutdown.onClose('limiter', () => limiter.close());
  const queues = await openQueues(config, await connectRedis(config, shutdown, logger), shutdown, logger);
  const providers = new Map([...createProviders(config, undefined, undefined, limiter)].map(([name, provider]) => [name, wrap(provider)]));
  startWorkers({ config, logger, providers, shutdown }, queues);
  await drained(queues.get('iotda'));
  const status = limiter.status();
  await shutdown.close();
  return { status };
}

/** Child `task-janitor work` processes sharing the queue prefix, as pods of a Deployment. */
export function startWorkProcesses(env, count) {
  return Array.from({ length: count }, () => spawn(process.execPath, [MAIN, 'work'], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] }));
}

export function stopProcesses(children) {
  return Promise.all(children.map((c) => new Promise((r) => { if (c.exitCode !== null) r(); else { c.once('exit', r); c.kill('SIGTERM'); } })));
}

/** A signed IoTDA call a user would send with the SDK against the simulator: sign, send, check the status. */
function bareIotdaCall(simUrl, project, method, okStatuses) {
  const http = createHttpClient({ timeoutMs: 30_000 });
  const auth = { kind: 'aksk', accessKey: () => SIMULATOR_CREDENTIALS.huawei.accessKey, secretKey: () => SIMULATOR_CREDENTIALS.huawei.secretKey, securityToken: () => undefined };
  // Signed as the janitor signs for this endpoint (the SDK's V11 derived scheme for a non-standard host), so both send the same requests.
  const api = { http, endpoint: simUrl, auth, now: () => new Date(), derived: { regionId: simulatorEnvironment(simUrl, ['iotda']).IOTDA_REGION, serviceName: 'iotdm' } };
  return async (id) => {
    const r = await callHuawei(api, project, { operation: method === 'GET' ? 'get' : 'delete', method, path: `/v5/iot/${project}/batchtasks/${id}` });
    if (!okStatuses.includes(r.status)) throw classifyHuaweiFailure(r);
  };
}

/** The bare delete loop's call: DeleteBatchTask. */
export function bareIotdaDelete(simUrl, project) {
  return bareIotdaCall(simUrl, project, 'DELETE', [204, 404]);
}

/** The same bare loop making the janitor's calls: a re-read of the task (ShowBatchTask), then its delete. */
export function bareIotdaRereadDelete(simUrl, project) {
  const reread = bareIotdaCall(simUrl, project, 'GET', [200, 404]);
  const deleteOne = bareIotdaDelete(simUrl, project);
  return async (id) => {
    await reread(id);
    await deleteOne(id);
  };
}

/** The candidate ids, listed and judged by a dry run of the janitor itself (untimed setup). */
export async function candidateIds(simUrl, project) {
  const config = loadConfig({ ...iotdaEnv(simUrl, uniquePrefix('ids')), JANITOR_DRY_RUN: 'true' });
  const provider = createProviders(config).get('iotda');
  const { judgeTask, policyRuleFor } = await import('../dist/policy.js');
  const rule = policyRuleFor(config.providers[0]);
  const ids = [];
  for await (const page of provider.listTasks(config.providers[0].targets[0] ?? project)) {
    for (const task of page) if (judgeTask(task, rule, new Date()).candidate) ids.push(task.id);
  }
  return ids;
}

/** `concurrency` loops taking the next id: the bare baseline (concurrency 1: the sequential loop). */
export async function bareLoop(ids, concurrency, deleteOne) {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < ids.length) await deleteOne(ids[next++]);
  }));
}

/** Plain BullMQ worker processes (bench/plain-worker.mjs) over jobs of one id each: the baseline limiter. */
export async function plainBullmq(simUrl, project, ids, options) {
  const prefix = uniquePrefix('plain');
  const queue = new Queue('plain', { connection: { url: REDIS_URL }, prefix });
  await queue.addBulk(ids.map((id) => ({ name: 'delete', data: { id }, opts: { removeOnComplete: true } })));
  const env = { BENCH_SIM_URL: simUrl, BENCH_PROJECT: project, BENCH_PREFIX: prefix, BENCH_CONCURRENCY: String(options.concurrency), BENCH_LIMIT: String(options.limitPerSecond ?? 0) };
  const children = Array.from({ length: options.processes }, () => spawn(process.execPath, [PLAIN_WORKER], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] }));
  await drained(queue);
  await stopProcesses(children);
  await queue.close();
  await dropPrefix(prefix);
}

/** CPU time (ms) used by a process, from /proc (user + system; Linux clock ticks of 10 ms). */
function processCpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function redisCpuMs() {
  const redis = new Redis(REDIS_URL);
  const info = await redis.info('cpu');
  redis.disconnect();
  const field = (name) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? Number.NaN);
  return (field('used_cpu_sys') + field('used_cpu_user')) * 1000;
}

/** CPU spent from now until stop() by this process, the simulator and Redis together (ms). */
export async function cpuMeter(sim) {
  const start = { self: process.cpuUsage(), sim: processCpuMs(sim.pid), redis: await redisCpuMs() };
  return {
    async stop() {
      const self = process.cpuUsage(start.self);
      const selfMs = (self.user + self.system) / 1000, simMs = processCpuMs(sim.pid) - start.sim, redisMs = await redisCpuMs() - start.redis;
      return { selfMs, simMs, redisMs, totalMs: selfMs + simMs + redisMs };
    },
  };
}

/** Steady rate over a list of call instants: calls after the first over the time they took. */
export function steadyRate(times) {
  return times.length < 2 ? 0 : ((times.length - 1) * 1000) / (times.at(-1) - times[0]);
}

/** The most instants in any sliding window of `windowMs`. */
export function mostInAnyWindow(times, windowMs = 1000) {
  let most = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i] - times[j] >= windowMs) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

/** Deletes the simulator saw since `before` (a stats snapshot). */
export async function deletesSince(sim, before) {
  const after = (await sim.stats()).counters.iotda;
  return { times: after.deleteTimes.slice(before.deleteTimes.length), throttled: after.throttledDeletes - before.throttledDeletes, throttledReads: (after.throttled - after.throttledDeletes) - (before.throttled - before.throttledDeletes), deletes: after.delete - before.delete, after };
}

export const QUEUE_NAME = queueNameFor('iotda');
