// Local infrastructure for the demo and the tests: use the Redis that answers, or start a throwaway
// redis-server on a free port (never used by the production path).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { assertRedisReachable, DependencyError } from '../redis.js';

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === 'object' && address ? address.port : 0;
}

export interface LocalRedis {
  readonly url: string;
  /** True when a throwaway redis-server was started (and `stop` ends it). */
  readonly started: boolean;
  stop(): void;
}

/** `url` when it answers; otherwise a throwaway, non-persistent redis-server on a free port. */
export async function ensureLocalRedis(url: string): Promise<LocalRedis> {
  try {
    await assertRedisReachable(url, 1_500);
    return { url, started: false, stop: () => undefined };
  } catch {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'janitor-redis-'));
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
    const stop = () => { child.kill(); rmSync(dir, { recursive: true, force: true }); };
    let spawnError: Error | undefined;
    child.once('error', (err) => { spawnError = err; });
    const local = `redis://127.0.0.1:${port}`;
    for (let attempt = 0; ; attempt++) {
      if (spawnError) {
        stop();
        throw new DependencyError(`no Redis at ${url} and redis-server could not be started: ${spawnError.message} (install redis-server or set REDIS_URL)`);
      }
      try {
        await assertRedisReachable(local, 500);
        return { url: local, started: true, stop };
      } catch (err) {
        if (attempt >= 50) {
          stop();
          throw new DependencyError(`no Redis at ${url}, and the throwaway redis-server on port ${port} did not answer: ${(err as Error).message}`);
        }
        await sleep(100);
      }
    }
  }
}
