// Vitest global setup: make sure a real Redis answers. Uses REDIS_URL (default 127.0.0.1:6379) and
// otherwise starts a throwaway redis-server on a free port for this test run.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';

async function answers(url: string): Promise<boolean> {
  const probe = new Redis(url, { lazyConnect: true, connectTimeout: 1_000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

export default async function setup(): Promise<() => void> {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (await answers(url)) return () => undefined;
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const dir = mkdtempSync(join(tmpdir(), 'janitor-test-redis-'));
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  child.on('error', (err) => { throw new Error(`no Redis at ${url} and redis-server could not start (${err.message}); install redis-server or set REDIS_URL`); });
  const local = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 100 && !(await answers(local)); i++) await sleep(100);
  if (!(await answers(local))) throw new Error(`no Redis at ${url}, and the throwaway redis-server on ${port} did not answer`);
  process.env.REDIS_URL = local;
  return () => {
    child.kill();
    rmSync(dir, { recursive: true, force: true });
  };
}
