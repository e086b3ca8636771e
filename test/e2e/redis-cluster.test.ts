import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type RedisConfig } from '../../src/config.js';
import { PROVIDER_NAMES } from '../../src/providers/catalog.js';
import { assertRedisReachable, createRedisClient, dropQueuePrefix, singleNode } from '../../src/redis.js';
import { startLocalCluster, type LocalTopology } from '../../src/simulator/local-redis.js';
import { captureLogs, runJanitor, simulatorEnv, useSimulators } from '../helpers/janitor.js';
import { uniquePrefix } from '../helpers/redis.js';

const PASSWORD = 'cluster-secret-7f3a';
let cluster: LocalTopology;
let redis: RedisConfig;
const fixture = useSimulators('cluster');

beforeAll(async () => {
  cluster = await startLocalCluster(3, PASSWORD);
  redis = { mode: 'cluster', nodes: cluster.nodes, password: { name: 'REDIS_PASSWORD', kind: 'env', value: PASSWORD }, tls: false };
}, 30_000);
afterAll(() => cluster?.stop());

/** The janitor's environment for a Redis Cluster: seed nodes instead of REDIS_URL. */
function clusterEnv(base: Record<string, string>, prefix: string): Record<string, string> {
  const { REDIS_URL: _single, ...rest } = base;
  fixture.onCleanup(() => dropQueuePrefix(redis, prefix.includes('{') ? prefix : `{${prefix}}`));
  return { ...rest, JANITOR_QUEUE_PREFIX: prefix, REDIS_CLUSTER_NODES: cluster.nodes.map((n) => `${n.host}:${n.port}`).join(','), REDIS_PASSWORD: PASSWORD };
}

/** Every key under `prefix` on every master, with its slot as the cluster computes it. */
async function keysWithSlots(prefix: string): Promise<{ key: string; slot: number }[]> {
  const client = createRedisClient(redis, 'admin') as Cluster;
  try {
    await client.ping();
    const found: { key: string; slot: number }[] = [];
    for (const node of client.nodes('master')) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
        for (const key of keys) found.push({ key, slot: Number(await client.cluster('KEYSLOT', key)) });
        cursor = next;
      } while (cursor !== '0');
    }
    return found;
  } finally {
    client.disconnect();
  }
}

describe('on a real three-master Redis Cluster', () => {
  it('runs all five providers, deleting exactly the stale terminal tasks, with no CROSSSLOT error', async () => {
    const sim = await fixture.start({ tasksPerProject: 60, seed: 41 });
    const env = clusterEnv(simulatorEnv(sim, PROVIDER_NAMES, uniquePrefix('cl')), uniquePrefix('cl'));
    const config = loadConfig(env);
    // A plain prefix is wrapped into a hash tag in cluster mode.
    expect(config.queuePrefix).toBe(`{${env.JANITOR_QUEUE_PREFIX}}`);
    const logs = captureLogs();
    const report = await runJanitor(env, { logs: logs.stream, logLevel: 'info' });

    expect(JSON.stringify(logs.lines)).not.toMatch(/CROSSSLOT|MOVED|ASK /);
    expect(JSON.stringify(logs.lines)).not.toContain(PASSWORD);
    expect(report.exitCode).toBe(0);
    let total = 0;
    for (const pc of config.providers) {
      for (const target of pc.targets) {
        const expected = sim.expectedDeletions(pc.name, target, pc.states, pc.retentionMs);
        const deleted = sim.deleted.filter((d) => d.provider === pc.name && d.project === target).map((d) => d.id).sort();
        expect(deleted, `${pc.name} ${target}`).toEqual(expected);
        total += expected.length;
      }
    }
    expect(total).toBeGreaterThan(50);
    expect(report.stats.every((s) => Object.keys(s.failed).length === 0)).toBe(true);
  });

  it('keeps every queue key, every claim and every sighting of a hash-tagged prefix in the prefix\'s slot', async () => {
    const sim = await fixture.start({ tasksPerProject: 40, seed: 42 });
    const prefix = `{${uniquePrefix('tag')}}`;
    // IoTDA in observed mode: its first sightings are kept in a hash under the prefix too.
    const env = clusterEnv(simulatorEnv(sim, ['vias', 'mpc', 'iotda'], prefix, { IOTDA_AGE_FROM: 'observed' }), prefix);
    // produce only: jobs and claims stay in Redis for inspection.
    const report = await runJanitor(env, { mode: 'produce' });
    expect(report.stats.reduce((n, s) => n + s.enqueued, 0)).toBeGreaterThan(10);

    const keys = await keysWithSlots(prefix);
    const probe = createRedisClient(redis, 'admin') as Cluster;
    const slot = Number(await probe.cluster('KEYSLOT', prefix));
    probe.disconnect();
    expect(keys.filter((k) => k.key.includes('claim')).length).toBeGreaterThan(10);
    expect(keys.some((k) => k.key.includes(':delete-vias:')) && keys.some((k) => k.key.includes(':delete-mpc:'))).toBe(true);
    expect(keys.filter((k) => k.key.includes(':delete-iotda:observed:'))).toHaveLength(1);
    expect(keys.filter((k) => k.slot !== slot)).toEqual([]);
  });

  it('refuses a one-node REDIS_URL that points at a cluster node, naming the variable to use', async () => {
    const node = cluster.nodes[0];
    await expect(assertRedisReachable({ ...singleNode(`redis://:${PASSWORD}@${node?.host}:${node?.port}`) }))
      .rejects.toThrow(/is a Redis Cluster node; set REDIS_CLUSTER_NODES/);
  });
});
