// Renders the repository's kustomizations with the real `kubectl kustomize` (offline) and validates the
// objects against the Kubernetes schemas of the kubernetes-models package.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

export const REPO = resolve(import.meta.dirname, '../..');

/** A rendered Kubernetes object, as plain data. */
export interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Record<string, string> };
  readonly [field: string]: unknown;
}

/** Components need kustomize >= 3.7 (kubectl >= 1.21 embeds v4+). Returns why not, or undefined when usable. */
export function kustomizeUnavailable(): string | undefined {
  try {
    const out = execFileSync('kubectl', ['version', '--client', '-o', 'json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const version = (JSON.parse(out) as { kustomizeVersion?: string }).kustomizeVersion ?? '';
    const [major = 0, minor = 0] = version.replace(/^v/, '').split('.').map(Number);
    return major > 3 || (major === 3 && minor >= 7) ? undefined : `kubectl embeds kustomize ${version || 'of unknown version'}; components need >= 3.7`;
  } catch {
    return 'kubectl is not installed (.ci/run installs it); the rendered-manifest tests need `kubectl kustomize`';
  }
}

/**
 * Renders k8s/<dir> from a scratch copy of k8s/, where each `*.env.example` the overlays read is
 * copied to its never-committed `*.env` unless `files` (paths relative to k8s/) provides it.
 */
export function render(dir: string, files: Readonly<Record<string, string>> = {}): K8sObject[] {
  const scratch = mkdtempSync(join(tmpdir(), 'janitor-k8s-'));
  try {
    const root = join(scratch, 'k8s');
    cpSync(join(REPO, 'k8s'), root, { recursive: true, filter: (src) => !/(credentials|redis)\.env$/.test(src) });
    fillExamples(root);
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    }
    const out = execFileSync('kubectl', ['kustomize', join(root, dir)], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
    return parseAllDocuments(out).map((doc) => doc.toJS() as K8sObject).filter((o) => o !== null);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function fillExamples(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) fillExamples(path);
    else if (entry.name.endsWith('.env.example')) {
      const target = path.replace(/\.example$/, '');
      if (!existsSync(target)) writeFileSync(target, readFileSync(path));
    }
  }
}

const CUSTOM_KINDS = new Set([
  'keda.sh/v1alpha1/ScaledObject', 'keda.sh/v1alpha1/TriggerAuthentication', 'monitoring.coreos.com/v1/PrometheusRule', 'monitoring.coreos.com/v1/PodMonitor',
]);

/**
 * Validates one object against the Kubernetes OpenAPI schema (kubernetes-models); custom resources
 * (KEDA, Prometheus operator) only structurally. Returns the problems found.
 */
export async function validate(object: K8sObject): Promise<string[]> {
  const id = `${object.kind}/${object.metadata?.name ?? '?'}`;
  if (CUSTOM_KINDS.has(`${object.apiVersion}/${object.kind}`)) {
    return typeof object.metadata?.name === 'string' && typeof object.spec === 'object' && object.spec !== null ? [] : [`${id}: needs metadata.name and spec`];
  }
  let models: Record<string, unknown>;
  try {
    models = (await import(/* @vite-ignore */ `kubernetes-models/${object.apiVersion}`)) as Record<string, unknown>;
  } catch {
    return [`${id}: unknown apiVersion ${object.apiVersion}`];
  }
  const Model = models[object.kind] as (new (data: unknown) => { validate(): void }) | undefined;
  if (!Model) return [`${id}: unknown kind in ${object.apiVersion}`];
  try {
    new Model(withUnwrappedSecretData(object)).validate();
    return [];
  } catch (err) {
    return [`${id}: ${(err as Error).message}`];
  }
}

/** Every kustomization an SRE may apply. */
export const KUSTOMIZATIONS = ['base', 'overlays/production', 'overlays/scale-out', 'examples/multi-region'] as const;

/** A ConfigMap's data: the environment its pods get through envFrom. */
export function dataOf(configMap: K8sObject): Record<string, string> {
  return { ...(configMap.data as Record<string, string>) };
}

/**
 * kustomize wraps long base64 values of Secret data over lines; the API server's decoder (Go's
 * base64) skips the newlines, the schema's strict "byte" format does not.
 */
function withUnwrappedSecretData(object: K8sObject): K8sObject {
  if (object.kind !== 'Secret' || typeof object.data !== 'object' || object.data === null) return object;
  const data = Object.fromEntries(Object.entries(object.data as Record<string, string>).map(([k, v]) => [k, v.replace(/\s+/g, '')]));
  return { ...object, data };
}

export function find(objects: readonly K8sObject[], kind: string, name?: string): K8sObject[] {
  return objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
}

export function only(objects: readonly K8sObject[], kind: string, name?: string): K8sObject {
  const found = find(objects, kind, name);
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
  return found[0] as K8sObject;
}
