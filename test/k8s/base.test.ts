// The base kustomization as rendered by kubectl: schema-valid, hardened, its secrets readable by the
// non-root process, its deadline tied to the run's own runtime, its resources matched to Node's heap.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, START_ALLOWANCE_MS } from '../../src/config.js';
import { dataOf, find, KUSTOMIZATIONS, kustomizeUnavailable, only, render, REPO, validate, type K8sObject } from '../helpers/kustomize.js';
import { canReadSecretFile, effectiveSecurity, mebibytes, workloads, type PodSpec } from '../helpers/pod-spec.js';

const unavailable = kustomizeUnavailable();
if (unavailable) console.warn(`skipping rendered-manifest tests: ${unavailable}`);


describe.skipIf(unavailable !== undefined)('k8s/base, rendered', () => {
  let objects: K8sObject[];
  let pod: PodSpec;
  beforeAll(() => {
    objects = render('base');
    const [cron] = workloads(find(objects, 'CronJob'));
    pod = (cron as { spec: PodSpec }).spec;
  });

  it.each(KUSTOMIZATIONS)('renders %s into objects that all validate against the Kubernetes schemas', async (dir) => {
    const rendered = render(dir);
    expect(rendered.length).toBeGreaterThan(4);
    const problems = (await Promise.all(rendered.map(validate))).flat();
    expect(problems).toEqual([]);
  });

  it('holds a CronJob, a ConfigMap, a Secret template, a ServiceAccount without token and a NetworkPolicy', () => {
    expect(objects.map((o) => o.kind).sort()).toEqual(['ConfigMap', 'CronJob', 'NetworkPolicy', 'Secret', 'ServiceAccount']);
    expect(only(objects, 'ServiceAccount').automountServiceAccountToken).toBe(false);
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.enableServiceLinks).toBe(false);
  });

  it('lets the non-root process read every credential file of the secret volume', () => {
    const secret = only(objects, 'Secret', 'task-janitor-credentials');
    const keys = Object.keys(secret.stringData as Record<string, string>);
    const [container] = pod.containers;
    const volume = pod.volumes?.find((v) => v.secret?.secretName === 'task-janitor-credentials');
    expect(container && volume).toBeTruthy();
    if (!container || !volume) return;
    expect(effectiveSecurity(pod, container).runAsUser).not.toBe(0);
    for (const key of keys) expect(canReadSecretFile(pod, container, volume, key), key).toBe(true);
  });

  it('would catch the shipped defect: mode 0400 without fsGroup is unreadable by uid 1000', () => {
    const broken: PodSpec = { securityContext: { runAsUser: 1000 }, containers: [{ name: 'c', image: 'i' }], volumes: [{ name: 'v', secret: { secretName: 's', defaultMode: 0o400 } }] };
    expect(canReadSecretFile(broken, broken.containers[0] as never, broken.volumes?.[0] as never, 'k')).toBe(false);
  });

  it('keeps the Secret a template: every credential key config reads, all empty', () => {
    const data = only(objects, 'Secret', 'task-janitor-credentials').stringData as Record<string, string>;
    const source = ['src/config.ts', 'src/redis-config.ts'].map((f) => readFileSync(join(REPO, f), 'utf8')).join('\n');
    const secretNames = [...source.matchAll(/secret\('([A-Z_]+)'\)/g)].map((m) => m[1] ?? '');
    expect(secretNames.length).toBeGreaterThan(5);
    const expected = [...secretNames.map((n) => n.toLowerCase().replaceAll('_', '-')), 'redis-url'].sort();
    expect(Object.keys(data).sort()).toEqual(expected);
    expect(Object.values(data).every((v) => v === '')).toBe(true);
  });

  it('puts every global non-secret variable in the ConfigMap, and *_FILE paths inside the secret mount', () => {
    const data = dataOf(only(objects, 'ConfigMap', 'task-janitor'));
    const source = readFileSync(join(REPO, 'src/config.ts'), 'utf8');
    const globals = [...source.matchAll(/read\('((?:JANITOR|LOG)_[A-Z_]+)'/g)].map((m) => m[1] ?? '')
      .filter((n) => n !== 'JANITOR_SCHEDULE' && n !== 'JANITOR_MAX_RUNTIME'); // daemon only; derived from the deadline
    for (const name of globals) expect(data, name).toHaveProperty(name);
    const mount = pod.containers[0]?.volumeMounts?.find((m) => m.name === 'credentials')?.mountPath;
    const secretFiles = new Set([...source.matchAll(/secret\('([A-Z_]+)'\)/g)].map((m) => `${m[1]}_FILE`).concat('REDIS_URL_FILE'));
    const wired = Object.entries(data).filter(([n]) => secretFiles.has(n));
    expect(wired.length).toBeGreaterThanOrEqual(3);
    for (const [name, path] of wired) expect(path, name).toMatch(new RegExp(`^${mount}/[a-z-]+$`));
  });

  it('runs hardened: non-root uid and gid, no privilege escalation, no capabilities, read-only root, seccomp', () => {
    for (const { owner, spec } of workloads(objects)) {
      for (const c of spec.containers) {
        const sec = effectiveSecurity(spec, c);
        expect(sec, owner).toMatchObject({ runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, seccompProfile: { type: 'RuntimeDefault' } });
        expect(sec.runAsUser).toBeGreaterThan(0);
        expect(sec.runAsGroup).toBeGreaterThan(0);
        expect(sec.capabilities?.drop).toEqual(['ALL']);
      }
    }
  });

  it('copies the ConfigMap deadline into activeDeadlineSeconds, and the run ends itself inside it', () => {
    const cron = only(objects, 'CronJob');
    const job = (cron.spec as { jobTemplate: { spec: { activeDeadlineSeconds: number } } }).jobTemplate.spec;
    const data = dataOf(only(objects, 'ConfigMap', 'task-janitor'));
    expect(job.activeDeadlineSeconds).toBe(Number(data.JANITOR_ACTIVE_DEADLINE_SECONDS));
    const config = loadConfig({ ...data, IOTDA_PROJECT_ID: '0123456789abcdef0123456789abcdef', REDIS_URL_FILE: '', REDIS_URL: 'redis://r:6379' }, () => true);
    expect(config.maxRuntimeMs + START_ALLOWANCE_MS + config.shutdownGraceMs).toBeLessThanOrEqual(job.activeDeadlineSeconds * 1000);
    expect((pod.terminationGracePeriodSeconds ?? 30) * 1000).toBeGreaterThan(config.shutdownGraceMs);
    // Every variable it sets is read: no "set but ignored" warning at each start.
    expect(config.warnings).toEqual([]);
  });

  it('fails the Job at once on exit 1, 2 or 5 (a safety valve refused), retries an outage (exit 3), and cleans finished Jobs up', () => {
    const job = (only(objects, 'CronJob').spec as { jobTemplate: { spec: Record<string, unknown> } }).jobTemplate.spec;
    const rules = (job.podFailurePolicy as { rules: { action: string; onExitCodes?: { operator: string; values: number[] } }[] }).rules;
    const actionFor = (code: number) => rules.find((r) => r.onExitCodes && (r.onExitCodes.operator === 'In') === r.onExitCodes.values.includes(code))?.action ?? 'Count';
    expect(actionFor(2)).toBe('FailJob');
    expect(actionFor(1)).toBe('FailJob');
    expect(actionFor(5)).toBe('FailJob');
    expect(actionFor(3)).toBe('Count');
    expect(job.backoffLimit).toBeGreaterThanOrEqual(1);
    expect(job.ttlSecondsAfterFinished).toBeGreaterThan(0);
    expect(pod.restartPolicy).toBe('Never');
  });

  it('sizes the V8 heap from the memory limit, with room for code, buffers and sockets', () => {
    for (const { owner, spec } of workloads(objects)) {
      for (const c of spec.containers) {
        const limit = mebibytes(c.resources?.limits?.memory ?? '0');
        const heap = Number(/--max-old-space-size=(\d+)/.exec(c.env?.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '')?.[1]);
        expect(heap, owner).toBeGreaterThanOrEqual(limit * 0.5);
        expect(heap, owner).toBeLessThanOrEqual(limit * 0.75);
        expect(c.resources?.requests?.memory, owner).toBe(c.resources?.limits?.memory);
      }
    }
  });

  it('lets pods reach only DNS, Redis and HTTPS', () => {
    const policy = only(objects, 'NetworkPolicy').spec as { policyTypes: string[]; egress: { ports: { port: number }[] }[] };
    expect(policy.policyTypes).toContain('Egress');
    const ports = policy.egress.flatMap((rule) => rule.ports.map((p) => p.port)).sort((a, b) => a - b);
    expect([...new Set(ports)]).toEqual([53, 443, 6379, 6380, 26379]);
  });
});
