// The baseline a user would write with BullMQ alone: one Worker, BullMQ's own limiter, the same signed
// IoTDA DELETE as the janitor sends. Run as a child process by bench/lib.mjs (plainBullmq).
import { Worker } from 'bullmq';
import { bareIotdaDelete, REDIS_URL } from './lib.mjs';

const env = process.env;
const deleteOne = bareIotdaDelete(env.BENCH_SIM_URL, env.BENCH_PROJECT);
const limit = Number(env.BENCH_LIMIT);
const worker = new Worker('plain', (job) => deleteOne(job.data.id), {
  connection: { url: REDIS_URL, maxRetriesPerRequest: null },
  prefix: env.BENCH_PREFIX,
  concurrency: Number(env.BENCH_CONCURRENCY),
  ...(limit > 0 ? { limiter: { max: limit, duration: 1000 } } : {}),
});
process.once('SIGTERM', () => { void worker.close().then(() => process.exit(0)); });
