// Local infrastructure for the demo and the tests: use the Redis that answers, or start throwaway
// redis-server processes on free ports: one node, a three-master Redis Cluster, or a master watched
// by a Sentinel (never used by the production path).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { RedisConfig, RedisEndpoint } from '../config.js';
import { assertRedisReachable, createRedisClient, DependencyError, singleNode } from '../redis.js';

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
    await assertRedisReachable(singleNode(url), 1_500);
    return { url, started: false, stop: () => undefined };
  } catch {
    try {
      const server = await startRedisServer();
      return { url: `redis://127.0.0.1:${server.port}`, started: true, stop: server.stop };
    } catch (err) {
      throw new DependencyError(`no Redis at ${url}, and ${(err as Error).message} (install redis-server or set REDIS_URL)`);
    }
  }
}

/** One throwaway redis-server process; `stop` kills it and removes its directory. */
export interface LocalServer extends RedisEndpoint {
  readonly stop: () => void;
}

/**
 * Starts `redis-server` (or, with `sentinel`, a Sentinel) on a free loopback port with no persistence,
 * `config` lines written to its own config file, and waits until it answers PING.
 */
export async function startRedisServer(config: readonly string[] = [], options: { sentinel?: boolean; password?: string } = {}): Promise<LocalServer> {
  const { stop, ...endpoint } = await startRestartableRedis(config, options);
  return { ...endpoint, stop };
}

/** A throwaway redis-server that can be killed and started again on the same port, config and data directory. */
export interface RestartableServer extends LocalServer {
  /** Its directory: the config file, and the RDB/AOF files when `config` turns persistence on. */
  readonly dir: string;
  /** SIGKILL (no save, no AOF rewrite: a crash); the directory stays. */
  readonly kill: () => void;
  /** Starts it again on the same port from the same directory and waits until it answers PING. */
  readonly restart: () => Promise<void>;
}

/**
 * startRedisServer, restartable: `config` lines come after the defaults (`save ""`, `appendonly no`), so
 * `['appendonly yes', 'appendfsync always']` gives a server whose data survives `kill` and `restart`.
 */
export async function startRestartableRedis(config: readonly string[] = [], options: { sentinel?: boolean; password?: string } = {}): Promise<RestartableServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'janitor-redis-'));
  const file = join(dir, 'redis.conf');
  // Sentinel rewrites its config file, so every server gets its own, in its own directory.
  writeFileSync(file, [`port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, ...(options.sentinel ? [] : ['save ""', 'appendonly no']), ...config, ''].join('\n'));
  let child: ChildProcess | undefined;
  const kill = () => { child?.kill('SIGKILL'); };
  const stop = () => { kill(); rmSync(dir, { recursive: true, force: true }); };
  const probeConfig: RedisConfig = { ...singleNode(`redis://127.0.0.1:${port}`), ...(options.password ? { password: { name: 'REDIS_PASSWORD', kind: 'env', value: options.password } } : {}) };
  const launch = async () => {
    const started = spawn('redis-server', [file, ...(options.sentinel ? ['--sentinel'] : [])], { stdio: 'ignore' });
    child = started;
    let spawnError: Error | undefined;
    started.once('error', (err) => { spawnError = err; });
    try {
      await untilAnswering(probeConfig, port, () => spawnError);
    } catch (err) {
      stop();
      throw err;
    }
  };
  await launch();
  return { host: '127.0.0.1', port, dir, stop, kill, restart: launch };
}

/** Waits (up to ~5 s) until the server behind `config` answers PING. */
async function untilAnswering(config: RedisConfig, port: number, spawnError: () => Error | undefined): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const failed = spawnError();
    if (failed) throw new Error(`redis-server could not be started: ${failed.message}`);
    const probe = createRedisClient(config, 'probe', 500);
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      await probe.ping();
      return;
    } catch (err) {
      if (attempt >= 50) throw new Error(`the throwaway redis-server on port ${port} did not answer: ${(err as Error).message}`);
      await sleep(100);
    } finally {
      probe.disconnect();
    }
  }
}

/** Several servers that stop together. */
export interface LocalTopology {
  readonly nodes: readonly RedisEndpoint[];
  stop(): void;
}

/** A Redis Cluster of `masters` nodes (no replicas) on loopback, ready when every slot is served. */
export async function startLocalCluster(masters = 3, password?: string): Promise<LocalTopology> {
  const auth = password ? [`requirepass ${password}`, `masterauth ${password}`] : [];
  const servers: LocalServer[] = [];
  const stop = () => { for (const s of servers) s.stop(); };
  try {
    for (let i = 0; i < masters; i++) {
      servers.push(await startRedisServer(['cluster-enabled yes', 'cluster-config-file nodes.conf', 'cluster-node-timeout 5000', ...auth], password ? { password } : {}));
    }
    const cli = (...args: string[]) => promisify(execFile)('redis-cli', [...(password ? ['--no-auth-warning', '-a', password] : []), ...args], { timeout: 20_000 });
    await cli('--cluster', 'create', ...servers.map((s) => `${s.host}:${s.port}`), '--cluster-replicas', '0', '--cluster-yes');
    for (let attempt = 0; ; attempt++) {
      const states = await Promise.all(servers.map((s) => cli('-p', String(s.port), 'cluster', 'info').then((r) => r.stdout)));
      if (states.every((info) => info.includes('cluster_state:ok'))) break;
      if (attempt >= 100) throw new Error(`the local Redis Cluster did not reach cluster_state:ok: ${states.join(' | ')}`);
      await sleep(100);
    }
    return { nodes: servers.map(({ host, port }) => ({ host, port })), stop };
  } catch (err) {
    stop();
    throw err;
  }
}

/** A master and one Sentinel monitoring it as `masterName`; `nodes` are the sentinels. */
export async function startLocalSentinel(masterName: string, passwords: { master?: string; sentinel?: string } = {}): Promise<LocalTopology & { readonly master: RedisEndpoint }> {
  const master = await startRedisServer(passwords.master ? [`requirepass ${passwords.master}`] : [], passwords.master ? { password: passwords.master } : {});
  try {
    const sentinel = await startRedisServer([
      `sentinel monitor ${masterName} ${master.host} ${master.port} 1`,
      `sentinel down-after-milliseconds ${masterName} 5000`,
      ...(passwords.master ? [`sentinel auth-pass ${masterName} ${passwords.master}`] : []),
      ...(passwords.sentinel ? [`requirepass ${passwords.sentinel}`] : []),
    ], { sentinel: true, ...(passwords.sentinel ? { password: passwords.sentinel } : {}) });
    return { master: { host: master.host, port: master.port }, nodes: [{ host: sentinel.host, port: sentinel.port }], stop: () => { sentinel.stop(); master.stop(); } };
  } catch (err) {
    master.stop();
    throw err;
  }
}
