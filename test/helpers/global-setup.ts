// Vitest global setup: make sure a real Redis answers. Uses REDIS_URL (default 127.0.0.1:6379) and
// otherwise starts a throwaway redis-server on a free port for this test run.
import { ensureLocalRedis } from '../../src/simulator/local-redis.js';

export default async function setup(): Promise<() => void> {
  const redis = await ensureLocalRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  // Forked test workers inherit the environment set here.
  process.env.REDIS_URL = redis.url;
  return () => redis.stop();
}
