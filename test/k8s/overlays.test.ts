// The production overlay, the redis and workers components and the multi-region example, rendered by
// kubectl: placeholders refuse to run, Redis is safe for BullMQ, workers scale on the right lists.
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { queueNameFor } from '../../src/queue.js';
import { PROVIDER_NAMES, type ProviderName } from '../../src/providers/catalog.js';
import { dataOf, find, kustomizeUnavailable, only, render, validate, type K8sObject } from '../helpers/kustomize.js';
import { canReadSecretFile, workloads, type Container, type PodSpec } from '../helpers/pod-spec.js';

const unavailable = kustomizeUnavailable();

/** Config problems of a rendered ConfigMap's environment (secret files taken as readable). */
function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig({ ...env, REDIS_URL_FILE: '', REDIS_URL: 'redis://r:6379' }, () => true);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
}

/** A project id in the form Huawei Cloud gives them (32 hex digits). */
const HEX32 = '0a1b2c3d4e5f60718293a4b5c6d7e8f9';

/** The warnings a start logs with a rendered ConfigMap once its placeholders are filled. */
function warningsOf(env: Record<string, string>): readonly string[] {
  const filled = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.startsWith('<') ? (k === 'IMM_PROJECTS' ? 'media-prod' : HEX32) : v]));
  return loadConfig({ ...filled, REDIS_URL_FILE: '', REDIS_URL: 'redis://r:6379' }, () => true).warnings;
}

const NAMESPACED = new Set(['ConfigMap', 'Secret', 'ServiceAccount', 'CronJob', 'Deployment', 'StatefulSet', 'Service', 'NetworkPolicy', 'PodDisruptionBudget', 'ScaledObject', 'TriggerAuthentication']);

describe.skipIf(unavailable !== undefined)('k8s/overlays/production, rendered', () => {
  let objects: K8sObject[];
  beforeAll(() => { objects = render('overlays/production'); });

  it('puts every namespaced object in its own namespace, created with the restricted pod security level', () => {
    const ns = only(objects, 'Namespace');
    expect(ns.metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
    for (const o of objects.filter((x) => NAMESPACED.has(x.kind))) expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe(ns.metadata.name);
  });

  it('refuses to run until every placeholder id is replaced, naming each variable', () => {
    const env = dataOf(only(objects, 'ConfigMap', 'task-janitor'));
    const text = problemsOf(env).join('\n');
    for (const name of ['IMM_PROJECTS', 'IOTDA_PROJECT_ID', 'MPC_PROJECT_ID', 'WORKSPACE_PROJECT_ID']) expect(text).toContain(`${name}: got "<`);
    const filled = { ...env, IMM_PROJECTS: 'media-prod', IOTDA_PROJECT_ID: HEX32, MPC_PROJECT_ID: HEX32, WORKSPACE_PROJECT_ID: HEX32 };
    expect(problemsOf(filled)).toEqual([]);
    expect(warningsOf(env)).toEqual([]);
  });

  it('starts as a dry run: deletion is a change the operator makes after reading the plan', () => {
    expect(dataOf(only(objects, 'ConfigMap', 'task-janitor')).JANITOR_DRY_RUN).toBe('true');
  });

  it('wires Huawei and Alibaba credentials and the Redis URL as readable files of the filled Secret', () => {
    const env = dataOf(only(objects, 'ConfigMap', 'task-janitor'));
    const secret = only(objects, 'Secret', 'task-janitor-credentials');
    const keys = Object.keys(secret.data as Record<string, string>);
    const { spec } = workloads(find(objects, 'CronJob'))[0] as { spec: PodSpec };
    const container = spec.containers[0] as Container;
    const volume = spec.volumes?.find((v) => v.secret?.secretName === secret.metadata.name);
    expect(volume).toBeDefined();
    for (const name of ['REDIS_URL_FILE', 'HUAWEICLOUD_SDK_AK_FILE', 'HUAWEICLOUD_SDK_SK_FILE', 'ALIBABA_CLOUD_ACCESS_KEY_ID_FILE', 'ALIBABA_CLOUD_ACCESS_KEY_SECRET_FILE']) {
      const key = env[name]?.split('/').pop() ?? '';
      expect(keys, name).toContain(key);
      expect(canReadSecretFile(spec, container, volume as never, key), name).toBe(true);
    }
    expect(env.REDIS_URL).toBeUndefined();
  });

  it('runs a Redis that BullMQ can trust: noeviction, AOF, a password from a Secret, reachable only by task-janitor', () => {
    const conf = (only(objects, 'ConfigMap', 'task-janitor-redis').data as Record<string, string>)['redis.conf'] ?? '';
    expect(conf).toMatch(/^maxmemory-policy noeviction$/m);
    expect(conf).toMatch(/^appendonly yes$/m);
    const redis = workloads(find(objects, 'StatefulSet'))[0]?.spec.containers[0] as Container;
    expect(redis.args).toEqual(expect.arrayContaining(['--requirepass', '$(REDIS_PASSWORD)']));
    expect(redis.env?.find((e) => e.name === 'REDIS_PASSWORD')?.valueFrom?.secretKeyRef).toEqual({ name: 'task-janitor-redis', key: 'password' });
    expect(find(objects, 'Secret', 'task-janitor-redis')).toHaveLength(1);
    const policy = only(objects, 'NetworkPolicy', 'task-janitor-redis').spec as { ingress: { from: { podSelector?: { matchLabels: Record<string, string> } }[] }[] };
    expect(policy.ingress[0]?.from[0]?.podSelector?.matchLabels).toEqual({ 'app.kubernetes.io/name': 'task-janitor' });
  });
});

describe.skipIf(unavailable !== undefined)('k8s/overlays/scale-out (workers component), rendered', () => {
  let objects: K8sObject[];
  beforeAll(() => { objects = render('overlays/scale-out'); });

  it('puts the workers beside the CronJob: the production namespace and the production image', () => {
    const ns = only(objects, 'Namespace').metadata.name;
    for (const o of objects.filter((x) => NAMESPACED.has(x.kind))) expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe(ns);
    const images = workloads([find(objects, 'CronJob'), only(objects, 'Deployment', 'task-janitor-worker')].flat()).map((w) => w.spec.containers[0]?.image);
    expect(images).toHaveLength(2);
    expect(images[1]).toBe(images[0]);
    expect(images[0]).toMatch(/^registry\.example\.com\//);
  });

  it('runs `work` with health, readiness and metrics on JANITOR_METRICS_PORT', () => {
    const env = dataOf(only(objects, 'ConfigMap', 'task-janitor'));
    const deployment = only(objects, 'Deployment', 'task-janitor-worker');
    const [worker] = workloads([deployment]);
    const c = worker?.spec.containers[0] as Container;
    expect(c.args).toEqual(['work']);
    const port = c.ports?.find((p) => p.name === 'metrics')?.containerPort;
    expect(String(port)).toBe(env.JANITOR_METRICS_PORT);
    expect(c.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    expect(c.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
  });

  it('guards the workers with a disruption budget that selects exactly their pods', () => {
    const deployment = only(objects, 'Deployment', 'task-janitor-worker');
    const labels = (deployment.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels;
    const pdb = only(objects, 'PodDisruptionBudget').spec as { maxUnavailable: number; selector: { matchLabels: Record<string, string> } };
    expect(labels).toMatchObject(pdb.selector.matchLabels);
    expect(pdb.selector.matchLabels['app.kubernetes.io/component']).toBe('worker');
    expect(pdb.maxUnavailable).toBe(1);
  });

  it('scales on the BullMQ wait list of a configured provider queue, authenticated from the Redis Secret', () => {
    const env = dataOf(only(objects, 'ConfigMap', 'task-janitor'));
    const scaled = only(objects, 'ScaledObject').spec as { scaleTargetRef: { name: string }; triggers: { type: string; metadata: Record<string, string>; authenticationRef: { name: string } }[] };
    expect(scaled.scaleTargetRef.name).toBe('task-janitor-worker');
    const listOf = (p: ProviderName) => `${env.JANITOR_QUEUE_PREFIX}:${queueNameFor(p)}:wait`;
    const lists = scaled.triggers.map((t) => t.metadata.listName);
    for (const p of (env.JANITOR_PROVIDERS ?? '').split(',') as ProviderName[]) expect(lists).toContain(listOf(p));
    for (const t of scaled.triggers) {
      expect(t.type).toBe('redis');
      expect(PROVIDER_NAMES.map(listOf)).toContain(t.metadata.listName);
      expect(t.metadata.address).toMatch(/^task-janitor-redis\.task-janitor\.svc\.cluster\.local:6379$/);
      const auth = only(objects, 'TriggerAuthentication', t.authenticationRef.name).spec as { secretTargetRef: { name: string; key: string }[] };
      expect(auth.secretTargetRef[0]).toMatchObject({ name: 'task-janitor-redis', key: 'password' });
    }
  });
});

describe.skipIf(unavailable !== undefined)('the monitoring component added to the scale-out overlay, rendered', () => {
  it('validates, and its PodMonitor scrapes the workers\' metrics port', async () => {
    const objects = render('overlays/monitored/', {
      'overlays/monitored/kustomization.yaml': 'resources: [../scale-out]\ncomponents: [../../components/monitoring]\nnamespace: task-janitor\n',
    });
    expect((await Promise.all(objects.map(validate))).flat()).toEqual([]);
    for (const o of objects.filter((x) => x.kind !== 'Namespace' && x.kind !== 'CustomResourceDefinition')) expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe('task-janitor');
    const monitor = only(objects, 'PodMonitor').spec as { selector: { matchLabels: Record<string, string> }; podMetricsEndpoints: { port: string }[] };
    const worker = only(objects, 'Deployment', 'task-janitor-worker');
    const pod = (worker.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels;
    expect(pod).toMatchObject(monitor.selector.matchLabels);
    const ports = workloads([worker])[0]?.spec.containers[0]?.ports?.map((p) => p.name);
    for (const endpoint of monitor.podMetricsEndpoints) expect(ports).toContain(endpoint.port);
    expect(find(objects, 'PrometheusRule')).toHaveLength(1);
  });
});

describe.skipIf(unavailable !== undefined)('k8s/examples/multi-region, rendered', () => {
  let objects: K8sObject[];
  beforeAll(() => { objects = render('examples/multi-region'); });

  it('runs one CronJob per region/account, each with its own ConfigMap, Secret, queue prefix and deadline', () => {
    const crons = workloads(find(objects, 'CronJob'));
    expect(crons.length).toBe(2);
    const prefixes = new Set<string>();
    for (const { object, spec } of crons) {
      const c = spec.containers[0] as Container;
      const configMap = only(objects, 'ConfigMap', c.envFrom?.[0]?.configMapRef?.name);
      const env = dataOf(configMap);
      prefixes.add(env.JANITOR_QUEUE_PREFIX ?? '');
      expect(spec.volumes?.find((v) => v.secret)?.secret?.secretName).toBe(`task-janitor-credentials${object.metadata.name.replace('task-janitor', '')}`);
      const deadline = (object.spec as { jobTemplate: { spec: { activeDeadlineSeconds: number } } }).jobTemplate.spec.activeDeadlineSeconds;
      expect(deadline).toBe(Number(env.JANITOR_ACTIVE_DEADLINE_SECONDS));
      expect(problemsOf(env).join('\n')).toMatch(/_PROJECT_ID: got "</);
      expect(warningsOf(env), configMap.metadata.name).toEqual([]);
    }
    expect(prefixes.size).toBe(2);
    expect(new Set(crons.map((c) => (c.object.spec as { schedule: string }).schedule)).size).toBe(2);
  });
});
