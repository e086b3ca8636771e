// Views of rendered workloads' pod specs: which process reads which secret file, with what rights.
import type { K8sObject } from './kustomize.js';

export interface SecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  fsGroup?: number;
  supplementalGroups?: number[];
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  capabilities?: { drop?: string[]; add?: string[] };
  seccompProfile?: { type: string };
}
export interface EnvVar { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }
export interface Probe { httpGet?: { path: string; port: number | string } }
export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  ports?: { name?: string; containerPort: number }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: SecurityContext;
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
}
export interface Volume {
  name: string;
  secret?: { secretName: string; defaultMode?: number; items?: { key: string; path: string; mode?: number }[] };
  configMap?: { name: string };
  emptyDir?: object;
}
export interface PodSpec {
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  enableServiceLinks?: boolean;
  restartPolicy?: string;
  terminationGracePeriodSeconds?: number;
  securityContext?: SecurityContext;
  containers: Container[];
  volumes?: Volume[];
}

export interface Workload { readonly owner: string; readonly object: K8sObject; readonly spec: PodSpec }

/** Every pod template in the rendered objects (CronJob, Deployment, StatefulSet, Job). */
export function workloads(objects: readonly K8sObject[]): Workload[] {
  return objects.flatMap((o): Workload[] => {
    const spec = o.spec as { jobTemplate?: { spec: { template: { spec: PodSpec } } }; template?: { spec: PodSpec } } | undefined;
    const pod = spec?.jobTemplate?.spec.template.spec ?? spec?.template?.spec;
    return pod ? [{ owner: `${o.kind}/${o.metadata.name}`, object: o, spec: pod }] : [];
  });
}

/**
 * Whether the container's process can read a file of a secret volume. The kubelet writes secret files
 * owned by root (uid 0) with group fsGroup when one is set (else root), with the item's mode, else
 * defaultMode, else 0644. The process runs as runAsUser with primary group runAsGroup (0 when unset)
 * and the supplemental groups plus fsGroup. (With fsGroup the kubelet also ORs 0440 into the mode of
 * read-only volumes; this check does not count on it, so the manifests must say what they mean.)
 */
export function canReadSecretFile(pod: PodSpec, container: Container, volume: Volume, key: string): boolean {
  const secret = volume.secret;
  if (!secret) throw new Error(`volume ${volume.name} is not a secret volume`);
  const mode = secret.items?.find((i) => i.key === key)?.mode ?? secret.defaultMode ?? 0o644;
  const uid = container.securityContext?.runAsUser ?? pod.securityContext?.runAsUser;
  if (uid === undefined) throw new Error(`${container.name}: no runAsUser, so the uid depends on the image`);
  const fileGid = pod.securityContext?.fsGroup ?? 0;
  const gids = new Set([
    container.securityContext?.runAsGroup ?? pod.securityContext?.runAsGroup ?? 0,
    ...(pod.securityContext?.supplementalGroups ?? []),
    ...(pod.securityContext?.fsGroup !== undefined ? [pod.securityContext.fsGroup] : []),
  ]);
  if (uid === 0) return true;
  if (gids.has(fileGid)) return (mode & 0o040) !== 0;
  return (mode & 0o004) !== 0;
}

/** The container's effective security context: its own fields over the pod's. */
export function effectiveSecurity(pod: PodSpec, container: Container): SecurityContext {
  return { ...pod.securityContext, ...container.securityContext };
}

/** Memory quantity (Ki, Mi, Gi, or bytes) in MiB. */
export function mebibytes(quantity: string): number {
  const match = /^(\d+)(Ki|Mi|Gi)?$/.exec(quantity);
  if (!match) throw new Error(`unsupported memory quantity ${quantity}`);
  const n = Number(match[1]);
  return match[2] === 'Gi' ? n * 1024 : match[2] === 'Mi' ? n : match[2] === 'Ki' ? n / 1024 : n / 1024 / 1024;
}
