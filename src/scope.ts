// Where each provider target lives: region, project, endpoint and IoTDA instance, and the P_TARGETS grammar.
import { redactText } from './redact.js';

/**
 * One listing scope of a provider. The `key` names it in job data, claims, stats, metrics and logs;
 * the rest says where its API is. A worker refuses a job whose key is not one of its scopes.
 */
export interface TargetScope {
  /** Unique within the provider: the project for P_PROJECT_ID / IMM_PROJECTS, `region:project[/instance]` for P_TARGETS. */
  readonly key: string;
  readonly region: string | undefined;
  /** Huawei project id, or IMM project name. */
  readonly project: string;
  /** Base URL of this target's API. */
  readonly endpoint: string;
  /** IoTDA instance, sent as the `Instance-Id` header. */
  readonly instanceId?: string;
}

/** One `P_TARGETS` entry as written, before endpoints are filled in. */
export interface TargetEntry {
  readonly region: string;
  readonly project: string;
  readonly instanceId?: string;
  readonly endpoint?: string;
}

export const REGION_PATTERN = /^[a-z]{2,}(-[a-z0-9]+){1,4}$/;
// Project ids end up in URL paths and job ids; IMM project names in form bodies. Keep both tame.
export const PROJECT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
export const INSTANCE_PATTERN = /^[A-Za-z0-9-]{1,64}$/;

/**
 * Parses `region:project[;instance=<id>][;endpoint=<url>]`, entries separated by commas or newlines
 * (a YAML block scalar in a manifest works). Returns the entries, or every problem found.
 */
export function parseTargetEntries(text: string, options: { readonly allowInstance: boolean }): { entries: TargetEntry[] } | { problems: string[] } {
  const problems: string[] = [];
  const entries: TargetEntry[] = [];
  const raw = text.split(/[,\n]/).map((s) => s.trim()).filter((s) => s !== '');
  if (raw.length === 0) return { problems: ['expected at least one region:project entry'] };
  for (const item of raw) {
    const [head = '', ...attributes] = item.split(';').map((s) => s.trim());
    const colon = head.indexOf(':');
    const region = colon < 0 ? '' : head.slice(0, colon);
    const project = colon < 0 ? head : head.slice(colon + 1);
    const entry: { region: string; project: string; instanceId?: string; endpoint?: string } = { region, project };
    const bad: string[] = [];
    if (!REGION_PATTERN.test(region)) bad.push(colon < 0 ? 'no region (expected region:project)' : `region ${JSON.stringify(region)} is not a region id like cn-north-4`);
    if (!PROJECT_PATTERN.test(project)) bad.push(`project ${JSON.stringify(project)} is not an id (letters, digits, _ . -)`);
    for (const attribute of attributes) {
      const eq = attribute.indexOf('=');
      const name = eq < 0 ? attribute : attribute.slice(0, eq).trim();
      const value = eq < 0 ? '' : attribute.slice(eq + 1).trim();
      if (name === 'instance' && options.allowInstance && INSTANCE_PATTERN.test(value)) entry.instanceId = value;
      else if (name === 'endpoint' && httpUrl(value) !== undefined) entry.endpoint = httpUrl(value);
      else if (name === 'instance' && options.allowInstance) bad.push(`instance ${JSON.stringify(value)} is not an instance id (letters, digits, -)`);
      else if (name === 'endpoint') bad.push(`endpoint ${JSON.stringify(redactText(value))} is not an absolute http(s) URL`);
      else bad.push(`unknown attribute ${JSON.stringify(name)}; allowed: ${options.allowInstance ? 'instance=<id>, ' : ''}endpoint=<url>`);
    }
    if (bad.length > 0) problems.push(`entry ${JSON.stringify(redactText(item))}: ${bad.join(', ')}`);
    else entries.push(entry);
  }
  const keys = entries.map(keyOfEntry);
  const repeated = keys.filter((k, i) => keys.indexOf(k) !== i);
  if (repeated.length > 0) problems.push(`repeated target ${[...new Set(repeated)].join(', ')}`);
  return problems.length > 0 ? { problems } : { entries };
}

/** The key of a P_TARGETS entry: `region:project`, with `/instance` when an IoTDA instance is named. */
export function keyOfEntry(entry: TargetEntry): string {
  return `${entry.region}:${entry.project}${entry.instanceId ? `/${entry.instanceId}` : ''}`;
}

/** The scope a key names, or undefined when the provider is not configured for it. */
export function scopeOf(scopes: readonly TargetScope[], key: string): TargetScope | undefined {
  return scopes.find((s) => s.key === key);
}

/** Human description of a scope for summaries and plans: region, project and instance. */
export function describeScope(scope: Pick<TargetScope, 'region' | 'project' | 'instanceId'>): string {
  return [scope.region ? `region ${scope.region}` : 'region (from endpoint)', `project ${scope.project}`, ...(scope.instanceId ? [`instance ${scope.instanceId}`] : [])].join(', ');
}

/** An absolute http(s) URL without a trailing slash, or undefined. */
export function httpUrl(raw: string): string | undefined {
  try {
    const parsed = new URL(raw.trim());
    if (parsed.protocol === 'http:' || parsed.protocol === 'https:') return parsed.toString().replace(/\/+$/, '');
  } catch { /* not a URL */ }
  return undefined;
}
