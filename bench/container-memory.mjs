// Peak memory of the container's command (`node dist/main.js run`) under the heap cap the k8s manifests
// set (NODE_OPTIONS=--max-old-space-size=160, memory limit 256Mi): a dry run and a full run over all
// five providers against the simulator (in this process; the measured CLI is a child) and a real Redis. Writes bench/container-memory.md.
// Usage: npm run build && node bench/container-memory.mjs [dryRunTasksPerProject] [fullRunTasksPerProject]
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dropQueuePrefix } from '../dist/redis.js';
import { simulatorEnvironment } from '../dist/simulator/env.js';
import { startSimulator } from '../dist/simulator/server.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const MAIN = new URL('../dist/main.js', import.meta.url).pathname;
const PROVIDERS = ['imm', 'vias', 'iotda', 'mpc', 'workspace'];
const HEAP_MB = 160;
const LIMIT_MIB = 256;
const [dryTasks = '5000', fullTasks = '2000'] = process.argv.slice(2);

async function withSimulator(tasks, use) {
  const sim = await startSimulator({ tasksPerProject: Number(tasks) });
  try {
    return await use(sim.url);
  } finally {
    await sim.close();
  }
}

/** Runs the CLI under /usr/bin/time and returns its exit code, peak RSS (MiB), duration and summary. */
async function measure(tasks, dryRun) {
  const prefix = `bench-mem-${Date.now().toString(36)}`;
  try {
    return await withSimulator(tasks, async (url) => {
      const env = {
        PATH: process.env.PATH, NODE_ENV: 'production', NODE_OPTIONS: `--max-old-space-size=${HEAP_MB}`, REDIS_URL,
        JANITOR_QUEUE_PREFIX: prefix, JANITOR_PROVIDERS: PROVIDERS.join(','), JANITOR_DRY_RUN: String(dryRun), LOG_LEVEL: 'warn',
        ...simulatorEnvironment(url, PROVIDERS),
      };
      for (const p of PROVIDERS) Object.assign(env, { [`${p.toUpperCase()}_RATE_LIMIT`]: '2000/s', [`${p.toUpperCase()}_CONCURRENCY`]: '8' });
      const started = Date.now();
      const child = spawn('/usr/bin/time', ['-f', 'maxrss_kb=%M', process.execPath, MAIN, 'run'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      let stdout = '';
      child.stderr.on('data', (c) => { stderr += c; });
      child.stdout.on('data', (c) => { stdout += c; });
      const code = await new Promise((resolve) => child.on('close', resolve));
      const rssKb = Number(/maxrss_kb=(\d+)/.exec(stderr)?.[1] ?? NaN);
      const deleted = [...stdout.matchAll(/deleted (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
      return { code, rssMiB: rssKb / 1024, seconds: (Date.now() - started) / 1000, deleted };
    });
  } finally {
    await dropQueuePrefix(REDIS_URL, prefix);
  }
}

const dry = await measure(dryTasks, true);
const full = await measure(fullTasks, false);
const rows = [
  `| dry run, 5 providers x ${dryTasks} tasks | peak RSS ${dry.rssMiB.toFixed(0)} MiB | exit ${dry.code}, ${dry.seconds.toFixed(0)} s; ${(dry.rssMiB / LIMIT_MIB * 100).toFixed(0)}% of the ${LIMIT_MIB}Mi limit |`,
  `| full run, 5 providers x ${fullTasks} tasks, concurrency 8 each | peak RSS ${full.rssMiB.toFixed(0)} MiB | exit ${full.code}, ${full.seconds.toFixed(0)} s, ${full.deleted} deleted; ${(full.rssMiB / LIMIT_MIB * 100).toFixed(0)}% of the ${LIMIT_MIB}Mi limit |`,
];
const text = `# Container memory

Produced by \`node bench/container-memory.mjs ${dryTasks} ${fullTasks}\` on ${new Date().toISOString().slice(0, 10)}, Node ${process.version},
${cpus().length} cores, Redis at ${REDIS_URL.replace(/\/\/[^@]*@/, '//')}, simulator in the bench process. The command is the
container's (\`node dist/main.js run\`) with the manifests' \`NODE_OPTIONS=--max-old-space-size=${HEAP_MB}\`; peak RSS
from \`/usr/bin/time\`. It sizes the k8s memory limit (${LIMIT_MIB}Mi, request = limit).

| measurement | result | notes |
| --- | --- | --- |
${rows.join('\n')}
`;
writeFileSync(new URL('./container-memory.md', import.meta.url), text);
process.stdout.write(text);
