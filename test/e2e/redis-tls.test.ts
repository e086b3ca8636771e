// Redis over TLS (rediss://) on a redis-server of its own with a certificate from a test CA: the
// server's certificate is verified (a CA the process does not trust is refused, exit 3, nothing
// deleted), and with the CA trusted (NODE_EXTRA_CA_CERTS, as a pod mounts it) a run deletes through it.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { iotdaTime } from '../../src/simulator/iotda.js';
import { startRedisServer } from '../../src/simulator/local-redis.js';
import { DEFAULT_SIM_PROJECTS } from '../../src/simulator/server.js';
import { freePort, runCli } from '../helpers/cli.js';
import { simulatorEnv, useSimulators } from '../helpers/janitor.js';
import { uniquePrefix } from '../helpers/redis.js';

const DAY = 86_400_000;
const PROJECT = DEFAULT_SIM_PROJECTS.iotda[0] as string;
const fixture = useSimulators('redis-tls');
const dir = mkdtempSync(join(tmpdir(), 'janitor-tls-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A test CA and a certificate it signed for localhost and 127.0.0.1. */
function certificates() {
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '2', '-subj', '/CN=task-janitor test CA');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=localhost');
  writeFileSync(file('ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n');
  openssl('x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-out', file('server.pem'), '-days', '2', '-extfile', file('ext.cnf'));
  return { ca: file('ca.pem'), cert: file('server.pem'), key: file('server.key') };
}

describe('Redis over TLS', () => {
  it('verifies the server\'s certificate: refused (exit 3, nothing deleted) until its CA is trusted, then deletes through it', async () => {
    const pem = certificates();
    const tlsPort = await freePort();
    // `localhost` may resolve to ::1 first: listen there too where the machine has IPv6 (`-`: optional).
    const redis = await startRedisServer(['bind 127.0.0.1 -::1', `tls-port ${tlsPort}`, `tls-cert-file ${pem.cert}`, `tls-key-file ${pem.key}`, `tls-ca-cert-file ${pem.ca}`, 'tls-auth-clients no']);
    fixture.onCleanup(() => Promise.resolve(redis.stop()));
    const sim = await fixture.start();
    for (let n = 1; n <= 3; n++) {
      sim.put('iotda', PROJECT, { task_id: n.toString(16).padStart(24, '0'), task_type: 'createDevices', status: 'Success', create_time: iotdaTime(new Date(Date.now() - 30 * DAY)) });
    }
    const env = { ...simulatorEnv(sim, ['iotda'], uniquePrefix('tls'), { IOTDA_TASK_TYPES: 'createDevices' }), REDIS_URL: `rediss://localhost:${tlsPort}` };

    const untrusted = await runCli(['run'], env);
    expect(untrusted.code).toBe(3);
    expect(untrusted.stderr).toContain(`task-janitor: Redis at rediss://localhost:${tlsPort} is unreachable: self-signed certificate in certificate chain`);
    expect(sim.counters.iotda.delete).toBe(0);

    const trusted = await runCli(['run'], { ...env, NODE_EXTRA_CA_CERTS: pem.ca });
    expect(trusted.stderr).toBe('');
    expect(trusted.code).toBe(0);
    expect(sim.deleted).toHaveLength(3);
  }, 60_000);
});
