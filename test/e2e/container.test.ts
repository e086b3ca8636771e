// The container as Kubernetes runs it: the Dockerfile's ENTRYPOINT with the CronJob's args, exactly the
// rendered ConfigMap's environment and the container's own env, the rendered Secret's files, against
// the simulator and a real Redis. Only the secret mount's directory differs (a scratch folder).
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROVIDER_FACTS, PROVIDER_NAMES } from '../../src/providers/catalog.js';
import { dropQueuePrefix } from '../../src/redis.js';
import { DEFAULT_SIM_PROJECTS, SIMULATOR_CREDENTIALS, startSimulator, type Simulator } from '../../src/simulator/server.js';
import { dockerfileInstructions, imageNodeMajor } from '../helpers/dockerfile.js';
import { dataOf, kustomizeUnavailable, only, render, REPO } from '../helpers/kustomize.js';
import { workloads, type Container, type PodSpec } from '../helpers/pod-spec.js';
import { REDIS_URL, uniquePrefix } from '../helpers/redis.js';

const DAY = 86_400_000;
const unavailable = kustomizeUnavailable();
/** CI sets JANITOR_IMAGE_NODE to a Node of the image's major version (.ci/run); else this Node runs it. */
const NODE = process.env.JANITOR_IMAGE_NODE ?? process.execPath;

function settingsFor(sim: Simulator, prefix: string): string {
  const lines = [
    // VIAS documents only the IAM token (X-Auth-Token), and the simulator holds it to that.
    'JANITOR_DRY_RUN=false', `JANITOR_PROVIDERS=${PROVIDER_NAMES.join(',')}`, 'JANITOR_RETENTION=7d',
    'VIAS_AUTH=token', 'HUAWEICLOUD_AUTH_TOKEN_FILE=/var/run/secrets/task-janitor/huaweicloud-auth-token',
    `JANITOR_QUEUE_PREFIX=${prefix}`, 'JANITOR_ACTIVE_DEADLINE_SECONDS=600', 'LOG_LEVEL=warn',
  ];
  for (const p of PROVIDER_NAMES) {
    const P = p.toUpperCase();
    lines.push(`${P}_ENDPOINT=${sim.url}`, `${P}_REGION=${p === 'imm' ? 'cn-hangzhou' : 'cn-north-4'}`, `${P}_RATE_LIMIT=1000/s`,
      `${p === 'imm' ? 'IMM_PROJECTS' : `${P}_PROJECT_ID`}=${DEFAULT_SIM_PROJECTS[p].join(',')}`);
  }
  return `${lines.join('\n')}\n`;
}

const credentials = `redis-url=${REDIS_URL}
huaweicloud-sdk-ak=${SIMULATOR_CREDENTIALS.huawei.accessKey}
huaweicloud-sdk-sk=${SIMULATOR_CREDENTIALS.huawei.secretKey}
huaweicloud-auth-token=${SIMULATOR_CREDENTIALS.huawei.token}
alibaba-cloud-access-key-id=${SIMULATOR_CREDENTIALS.alibaba.accessKeyId}
alibaba-cloud-access-key-secret=${SIMULATOR_CREDENTIALS.alibaba.accessKeySecret}
`;

describe.skipIf(unavailable !== undefined)('the container command with the production overlay\'s ConfigMap and a filled Secret', () => {
  let sim: Simulator;
  let scratch: string;
  const prefix = uniquePrefix('container');

  beforeAll(async () => {
    sim = await startSimulator({ tasksPerProject: 60, seed: 12 });
    scratch = mkdtempSync(join(tmpdir(), 'janitor-secret-'));
  });
  afterAll(async () => {
    await sim.close();
    await dropQueuePrefix(REDIS_URL, prefix);
    rmSync(scratch, { recursive: true, force: true });
  });

  it('runs `node dist/main.js run`, exits 0 and deletes exactly what the simulator says is stale and terminal', async () => {
    const objects = render('overlays/production', {
      'overlays/production/settings.env': settingsFor(sim, prefix),
      'overlays/production/credentials.env': credentials,
    });
    const cron = workloads([only(objects, 'CronJob')])[0] as { spec: PodSpec };
    const container = cron.spec.containers[0] as Container;
    const mount = container.volumeMounts?.find((m) => m.name === 'credentials')?.mountPath ?? '';
    const volume = cron.spec.volumes?.find((v) => v.name === 'credentials');
    const secret = only(objects, 'Secret', volume?.secret?.secretName);
    for (const [key, value] of Object.entries(secret.data as Record<string, string>)) {
      writeFileSync(join(scratch, key), Buffer.from(value.replace(/\s+/g, ''), 'base64'), { mode: volume?.secret?.defaultMode ?? 0o644 });
    }

    // The image's ENTRYPOINT and ENV, the CronJob's args and env, the ConfigMap through envFrom.
    const entrypoint = JSON.parse(dockerfileInstructions().filter((i) => i.keyword === 'ENTRYPOINT').pop()?.args ?? '[]') as string[];
    const imageEnv = Object.fromEntries(dockerfileInstructions().filter((i) => i.keyword === 'ENV').map((i) => i.args.split('=') as [string, string]));
    const containerEnv = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value ?? '']));
    const fromConfigMap = Object.fromEntries(Object.entries(dataOf(only(objects, 'ConfigMap', container.envFrom?.[0]?.configMapRef?.name)))
      .map(([k, v]) => [k, k.endsWith('_FILE') ? v.replace(mount, scratch) : v]));
    const env = { PATH: process.env.PATH ?? '', ...imageEnv, ...fromConfigMap, ...containerEnv };
    const [command, ...args] = [...entrypoint, ...(container.args ?? [])];
    expect([command, ...args]).toEqual(['node', 'dist/main.js', 'run']);

    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(NODE, args, { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
      child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);

    let total = 0;
    for (const p of PROVIDER_NAMES) {
      for (const project of DEFAULT_SIM_PROJECTS[p]) {
        const expected = sim.expectedDeletions(p, project, PROVIDER_FACTS[p].defaultStates, 7 * DAY);
        const deleted = sim.deleted.filter((d) => d.provider === p && d.project === project).map((d) => d.id).sort();
        expect(deleted, `${p} ${project}`).toEqual(expected);
        total += expected.length;
      }
    }
    expect(total).toBeGreaterThan(20);
    expect(result.stdout).not.toContain(SIMULATOR_CREDENTIALS.huawei.secretKey);
  });

  it.runIf(process.env.JANITOR_IMAGE_NODE !== undefined)('ran on the Node major version of the image', () => {
    const version = execFileSync(NODE, ['--version'], { encoding: 'utf8' }).trim();
    expect(Number(/^v(\d+)\./.exec(version)?.[1])).toBe(imageNodeMajor());
  });
});
