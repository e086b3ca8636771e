// The only reader of process.env: validates every variable at once into a frozen, typed Config.
import { closeSync, openSync, readSync } from 'node:fs';
import cron from 'node-cron';
import { z } from 'zod';
import {
  canonicalState, IOTDA_TASK_TYPES, PROVIDER_FACTS, PROVIDER_NAMES, type Cloud, type ProviderName,
} from './providers/catalog.js';
import { httpUrl, INSTANCE_PATTERN, keyOfEntry, parseTargetEntries, REGION_PATTERN, type TargetScope } from './scope.js';
import { AUTH_SCHEMES, huaweiAuthFor, type AuthScheme, type HuaweiCredentials } from './provider-auth.js';
import { redactText, redactUrlPath } from './redact.js';
import { prefixFor, queuePrefix, readRedisConfig, type RedisConfig } from './redis-config.js';
import { formatDuration, parseDuration, parseRate, UNPACED, type Rate } from './units.js';
import { unknownVariableWarnings, variableText } from './variables.js';

/** Where a secret comes from: the variable itself, or a mounted file re-read when it changes. */
export type SecretSource =
  | { readonly name: string; readonly kind: 'env'; readonly value: string }
  | { readonly name: string; readonly kind: 'file'; readonly path: string };

export type HuaweiAuthConfig =
  | { readonly kind: 'aksk'; readonly accessKey: SecretSource; readonly secretKey: SecretSource; readonly securityToken?: SecretSource }
  | { readonly kind: 'token'; readonly token: SecretSource };

export interface AlibabaAuthConfig {
  readonly accessKeyId: SecretSource;
  readonly accessKeySecret: SecretSource;
  readonly securityToken?: SecretSource;
}

/**
 * What a task's age is measured from (P_AGE_FROM): `documented`, the timestamp the API documents;
 * `observed`, the later of that and when the janitor first saw the task terminal (kept in Redis).
 */
export type AgeFrom = 'documented' | 'observed';
export const AGE_FROM_VALUES: readonly AgeFrom[] = ['documented', 'observed'];

/** IoTDA signing: `auto` follows the SDK (derived V11 for non-standard hosts). */
export type IotdaSigning = 'auto' | 'standard' | 'derived';

export interface ProviderConfig {
  readonly name: ProviderName;
  /** P_REGION (the simple case); each target carries its own region in `scopes`. */
  readonly region: string | undefined;
  /** P_ENDPOINT or P_REGION's endpoint; '' when only P_TARGETS is set. Use `scopes` for a target's endpoint. */
  readonly endpoint: string;
  /** Target keys (Huawei project ids or IMM project names, or P_TARGETS' region:project): each is listed and reported separately. */
  readonly targets: readonly string[];
  /** Where each target lives (same order as `targets`): region, project, endpoint, IoTDA instance. */
  readonly scopes: readonly TargetScope[];
  readonly retentionMs: number;
  /** P_AGE_FROM: the documented timestamp, or the later of it and the janitor's first sighting in a terminal state. */
  readonly ageFrom: AgeFrom;
  /** Catalog spelling of the states that count as deletable for this run. */
  readonly states: readonly string[];
  readonly rateLimit: Rate;
  /** Budget of read calls (listing, re-reads, look-ups), metered apart from deletes: P_READ_RATE_LIMIT. */
  readonly readRateLimit: Rate;
  /** Read calls in flight at once per process (projects and IoTDA task types listed side by side): P_LIST_CONCURRENCY. */
  readonly listConcurrency: number;
  /** Pages one listing walk may read (per IoTDA task type) before that target stops: JANITOR_MAX_LIST_PAGES. */
  readonly maxListPages: number;
  readonly concurrency: number;
  readonly attempts: number;
  /** P_INCLUDE / P_EXCLUDE: regular expression sources (validated at load), matched on task id, name and type. */
  readonly include: string | undefined;
  readonly exclude: string | undefined;
  /** P_KEEP_LATEST: the newest N tasks in a selected state per target (and IoTDA task type) are always kept; 0 = off. */
  readonly keepLatest: number;
  /** P_MAX_DELETES: more candidates than this and nothing of the provider is deleted (or the oldest N: JANITOR_MAX_DELETES_MODE). */
  readonly maxDeletes: DeleteCap | undefined;
  readonly iotda?: { readonly instanceId: string | undefined; readonly taskTypes: readonly string[]; readonly signing: IotdaSigning };
  /** Huawei providers: the credentials this provider uses (P_AUTH, else AK/SK when set, else the IAM token). */
  readonly huaweiAuth?: HuaweiAuthConfig;
}

export type { RedisConfig, RedisEndpoint, RedisTopology } from './redis-config.js';

/** A blast-radius cap as written: a count (`500`) or a share of the listed tasks (`20%`). */
export type DeleteCap =
  | { readonly kind: 'count'; readonly count: number; readonly variable: string }
  | { readonly kind: 'share'; readonly percent: number; readonly variable: string };

export interface Config {
  readonly redis: RedisConfig;
  readonly providers: readonly ProviderConfig[];
  readonly dryRun: boolean;
  readonly retentionMs: number;
  readonly queuePrefix: string;
  readonly maxRuntimeMs: number;
  /** The Job's activeDeadlineSeconds when given (JANITOR_ACTIVE_DEADLINE_SECONDS): the run ends itself before it. */
  readonly activeDeadlineMs: number | undefined;
  readonly schedule: string | undefined;
  readonly logLevel: string;
  readonly shutdownGraceMs: number;
  readonly httpTimeoutMs: number;
  readonly backoffMs: number;
  readonly keepFinishedMs: number;
  /** Oldest listing a delete may act on when the provider cannot re-read the task first. */
  readonly maxSnapshotAgeMs: number;
  /** A job's lock; a job whose worker died is taken back by a live worker within about twice this. */
  readonly jobLockMs: number;
  /** JANITOR_MAX_DELETES: the whole run's cap on deletion candidates. */
  readonly maxDeletes: DeleteCap | undefined;
  /** JANITOR_MAX_DELETES_MODE: `refuse` (delete nothing of a provider over its cap) or `truncate` (delete the oldest N). */
  readonly maxDeletesMode: 'refuse' | 'truncate';
  /** JANITOR_MAX_CLOCK_SKEW: a provider whose Date header disagrees with the local clock by more is not deleted from. */
  readonly maxClockSkewMs: number;
  /** The Huawei credentials a provider without P_AUTH uses (AK/SK when set, else the IAM token); each provider's own is `huaweiAuth` there. */
  readonly huaweiAuth: HuaweiAuthConfig | undefined;
  readonly alibabaAuth: AlibabaAuthConfig | undefined;
  /** Variables set but never read (typos, unselected providers): logged at start, shown by `config`. */
  readonly warnings: readonly string[];
  /** The operator's view: metrics, audit trail, progress and notification (see README). */
  readonly operator: OperatorConfig;
}

export interface OperatorConfig {
  /** Port of /metrics, /healthz and /readyz for `work` and `daemon`; 0 picks a free port. */
  readonly metricsPort: number;
  /** `run` pushes its metrics here when set, grouped by job and `pushgatewayInstance`. */
  readonly pushgatewayUrl: string | undefined;
  readonly pushgatewayInstance: string;
  /** JSON lines of every deletion and permanent failure are appended here when set. */
  readonly auditFile: string | undefined;
  /** Without a TTY, a progress log event this often. */
  readonly progressIntervalMs: number;
  /** The run summary is POSTed here after a run that deleted or failed something. */
  readonly notifyWebhook: string | undefined;
}

/** Thrown with every problem found, one line each, and the likely misspellings beside them; main prints it and exits 2. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[], readonly hints: readonly string[] = []) {
    const lines = (items: readonly string[]) => items.map((p) => `  - ${p}`).join('\n');
    super(`invalid configuration:\n${lines(problems)}${hints.length > 0 ? `\nperhaps because of:\n${lines(hints)}` : ''}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** Retentions below this are refused unless JANITOR_ALLOW_SHORT_RETENTION=true. */
export const RETENTION_FLOOR_MS = 3_600_000;
const DURATION_HINT = 'a duration like 90m, 36h, 7d or 2w';
/** Time a Job spends before the run's clock starts (scheduling, image pull, start-up), kept out of the runtime. */
export const START_ALLOWANCE_MS = 60_000;

const durationMs = z.string().transform((raw, ctx) => parseDuration(raw) ?? fail(ctx, `expected ${DURATION_HINT}`));
/**
 * A duration with an upper bound, so that every accepted value behaves as written: one that feeds a
 * timer must stay below Node's 2^31-1 ms (about 24.8 days), past which setTimeout fires at once.
 */
const durationUpTo = (maxText: string) => {
  const maxMs = parseDuration(maxText) ?? 0;
  return durationMs.refine((ms) => ms <= maxMs, `expected from 1s to ${maxText}`);
};
/** The longest run: JANITOR_MAX_RUNTIME (and the runtime JANITOR_ACTIVE_DEADLINE_SECONDS derives) feeds a timer. */
const MAX_RUNTIME = '24d';
const MAX_RETENTION = '3650d';
const rate = z.string().transform((raw, ctx) => parseRate(raw) ?? fail(ctx, 'expected a rate like 10/s, 300/m or 1000/h, or none'));
const boolean = z.string().transform((raw, ctx) => {
  const v = raw.toLowerCase();
  if (['true', '1', 'yes'].includes(v)) return true;
  if (['false', '0', 'no'].includes(v)) return false;
  return fail(ctx, 'expected true or false');
});
const intIn = (min: number, max: number) =>
  z.string().transform((raw, ctx) => {
    const n = Number(raw);
    return /^\d+$/.test(raw) && n >= min && n <= max ? n : fail(ctx, `expected a whole number from ${min} to ${max}`);
  });
const list = z.string().transform((raw, ctx) => {
  const items = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
  return items.length > 0 && new Set(items).size === items.length ? items : fail(ctx, 'expected a non-empty comma list without repeats');
});
const oneOf = <T extends string>(allowed: readonly T[]) =>
  z.string().transform((raw, ctx) => allowed.find((a) => a === raw) ?? fail(ctx, `expected one of ${allowed.join(', ')}`));
const subsetOf = (allowed: readonly string[], what: string) =>
  list.transform((items, ctx) => {
    const bad = items.filter((i) => !allowed.includes(i));
    return bad.length === 0 ? items : fail(ctx, `unknown ${what} ${bad.join(', ')}; allowed: ${allowed.join(', ')}`);
  });
const url = z.string().transform((raw, ctx) => httpUrl(raw) ?? fail(ctx, 'expected an absolute http(s) URL'));
/** URL variables whose path or query may be the secret itself (a Slack webhook's is). */
const PATH_SECRETS = new Set(['JANITOR_NOTIFY_WEBHOOK', 'JANITOR_PUSHGATEWAY_URL']);
// Shipped manifests and docs carry values like "replace-with-your-project-id": they must never pass.
const PLACEHOLDER = /replace|your[-_]|example|changeme|change-me|placeholder|todo|xxx|[<>{}]/i;
// IMM project names end up in form bodies and job ids: keep them tame.
const immProjectNames = list.transform((items, ctx) => {
  const bad = items.filter((i) => PLACEHOLDER.test(i) || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(i));
  return bad.length === 0 ? items : fail(ctx, `invalid or placeholder IMM project name(s) ${bad.join(', ')}; expected the names of existing IMM projects (letters, digits, _ . -)`);
});
/** A Huawei Cloud project id as the console shows it (My Credentials > API Credentials). */
export const HUAWEI_PROJECT_ID = /^[0-9a-f]{32}$/i;
const huaweiProjectIds = list.transform((items, ctx) => {
  const bad = items.filter((i) => !HUAWEI_PROJECT_ID.test(i));
  return bad.length === 0 ? items : fail(ctx, `not a Huawei Cloud project id: ${bad.join(', ')}; expected 32 hexadecimal characters each (console: My Credentials > API Credentials)`);
});

// Unanchored, as grep: ^ and $ anchor. Compiled here once so that a bad one is a configuration error, never a crash.
const regexSource = z.string().transform((raw, ctx) => {
  try {
    new RegExp(raw);
    return raw;
  } catch (err) {
    return fail(ctx, `not a valid regular expression (${(err as Error).message.replace(/^Invalid regular expression: /, '')}); expected a JavaScript regular expression such as ^prod- or (keep|audit)`);
  }
});
const deleteCap = (variable: string) => z.string().transform((raw, ctx): DeleteCap => {
  const text = raw.trim();
  const share = /^(\d{1,3}(?:\.\d{1,2})?)%$/.exec(text);
  if (share && Number(share[1]) > 0 && Number(share[1]) <= 100) return { kind: 'share', percent: Number(share[1]), variable };
  if (/^\d{1,9}$/.test(text) && Number(text) > 0) return { kind: 'count', count: Number(text), variable };
  return fail(ctx, 'expected a number of deletions from 1 to 999999999 (e.g. 500) or a share of the listed tasks above 0% up to 100% (e.g. 20%)');
});

function fail(ctx: z.RefinementCtx, message: string): never {
  ctx.addIssue({ code: 'custom', message });
  return z.NEVER;
}

/** Parses the environment. Throws ConfigError naming every bad variable; never returns a partial config. */
/**
 * `credentials: false` is for commands that only read and write the queues (status, retry-failed):
 * they run with the deployment's ConfigMap alone, without its Secret.
 */
export function loadConfig(env: Env, isReadable: SecretFileCheck = secretFileCheck, options: { readonly credentials?: boolean } = {}): Config {
  const problems: string[] = [];
  /** Secrets given but refused (unreadable or empty file, both forms set): reported once, by secret(). */
  const refusedSecrets = new Set<string>();
  // Every variable the configuration reads is recorded, so that a set variable nobody read
  // (a typo, an unselected provider's) can be named in a warning. Read env only through get().
  const consulted = new Set<string>();
  const get = (name: string): string | undefined => {
    consulted.add(name);
    const raw = env[name];
    return raw === undefined ? undefined : variableText(raw);
  };
  const read = <S extends z.ZodType>(name: string, schema: S, fallback?: string): z.output<S> | undefined => {
    const raw = get(name);
    const value = raw === undefined || raw === '' ? fallback : raw;
    if (value === undefined) return undefined;
    const parsed = schema.safeParse(value);
    if (parsed.success) return parsed.data;
    // A URL may carry a password or a token (REDIS_URL, webhooks): the error shows them masked, and
    // of a webhook or gateway URL, whose path may be the token, only the scheme and host.
    const shown = PATH_SECRETS.has(name) ? redactUrlPath(value) : redactText(value);
    problems.push(`${name}: got ${JSON.stringify(shown)}; ${parsed.error.issues.map((i) => i.message).join('; ')}`);
    return undefined;
  };
  const required = <T>(name: string, value: T | undefined, allowed: string): T | undefined => {
    if (value === undefined && (get(name) ?? '') === '') problems.push(`${name}: is required; expected ${allowed}`);
    return value;
  };

  const providerNames = knownProviders(required('JANITOR_PROVIDERS', read('JANITOR_PROVIDERS', list), `a comma list of ${PROVIDER_NAMES.join(', ')}`));
  const retentionMs = read('JANITOR_RETENTION', durationUpTo(MAX_RETENTION), '7d');
  const schedule = read('JANITOR_SCHEDULE', z.string().refine((s) => cron.validate(s), 'expected a cron expression like "0 3 * * *"'));
  const config = {
    dryRun: read('JANITOR_DRY_RUN', boolean, 'true'),
    retentionMs,
    queuePrefix: read('JANITOR_QUEUE_PREFIX', queuePrefix, 'janitor'),
    maxRuntimeMs: read('JANITOR_MAX_RUNTIME', durationUpTo(MAX_RUNTIME)),
    activeDeadlineMs: read('JANITOR_ACTIVE_DEADLINE_SECONDS', intIn(1, (parseDuration(MAX_RUNTIME) ?? 0) / 1_000).transform((s) => s * 1_000)),
    schedule,
    logLevel: read('LOG_LEVEL', oneOf(LOG_LEVELS), 'info'),
    shutdownGraceMs: read('JANITOR_SHUTDOWN_GRACE', durationUpTo('1h'), '30s'),
    httpTimeoutMs: read('JANITOR_HTTP_TIMEOUT', durationUpTo('10m'), '30s'),
    backoffMs: read('JANITOR_BACKOFF', durationUpTo('1h'), '2s'),
    keepFinishedMs: read('JANITOR_KEEP_FINISHED', durationUpTo('365d'), '7d'),
    maxSnapshotAgeMs: read('JANITOR_MAX_SNAPSHOT_AGE', durationMs.refine((ms) => ms >= 1_000 && ms <= 86_400_000,
      'expected from 1s to 24h: how old a listing may be when a task without a re-read is deleted'), '15m'),
    jobLockMs: read('JANITOR_JOB_LOCK', durationMs.refine((ms) => ms >= 1_000 && ms <= 600_000, 'expected between 1s and 10m'), '30s'),
    maxDeletes: read('JANITOR_MAX_DELETES', deleteCap('JANITOR_MAX_DELETES')),
    maxDeletesMode: read('JANITOR_MAX_DELETES_MODE', oneOf(['refuse', 'truncate'] as const), 'refuse'),
    maxClockSkewMs: read('JANITOR_MAX_CLOCK_SKEW', durationUpTo('24h'), '5m'),
  };
  const operator = {
    metricsPort: read('JANITOR_METRICS_PORT', intIn(0, 65_535), '9464'),
    pushgatewayUrl: read('JANITOR_PUSHGATEWAY_URL', url),
    pushgatewayInstance: read('JANITOR_PUSHGATEWAY_INSTANCE', z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'expected 1-128 letters, digits, _ . : or -'))
      ?? config.queuePrefix?.replace(/[{}]/g, ''), // a hash-tagged prefix ({jp}) by its name
    auditFile: read('JANITOR_AUDIT_FILE', z.string().refine((p) => !p.endsWith('/'), 'expected a file path, not a directory')),
    progressIntervalMs: read('JANITOR_PROGRESS_INTERVAL', durationUpTo('24h'), '30s'),
    notifyWebhook: read('JANITOR_NOTIFY_WEBHOOK', url),
  };

  config.maxRuntimeMs = runtimeWithinDeadline(config.maxRuntimeMs, config.activeDeadlineMs, config.shutdownGraceMs);
  // A typo (7m for 7d) must not delete every record older than minutes.
  const allowShortRetention = read('JANITOR_ALLOW_SHORT_RETENTION', boolean, 'false') ?? false;
  const checkRetentionFloor = (name: string, ms: number | undefined) => {
    if (ms !== undefined && ms < RETENTION_FLOOR_MS && !allowShortRetention) {
      problems.push(`${name}: ${formatDuration(ms)} is below the 1h floor (a typo like 7m for 7d would delete almost everything); set JANITOR_ALLOW_SHORT_RETENTION=true if you mean it`);
    }
  };
  checkRetentionFloor('JANITOR_RETENTION', retentionMs);

  const redis = readRedisConfig({ problems, given: (name) => (get(name) ?? '') !== '', read, secret, boolean, list });
  const maxListPages = read('JANITOR_MAX_LIST_PAGES', intIn(1, 1_000_000), '10000') ?? 10_000;
  const readProviders = (providerNames ?? []).map((name) => readProvider(name, retentionMs ?? 0));
  const clouds = new Set<Cloud>(readProviders.map((p) => PROVIDER_FACTS[p.name].cloud));
  const withCredentials = options.credentials !== false;
  const huaweiCredentials = clouds.has('huawei') && withCredentials ? readHuaweiCredentials() : undefined;
  // Today's default for every Huawei provider without P_AUTH: AK/SK when set, else the IAM token.
  const huaweiAuth = huaweiCredentials && (huaweiCredentials.aksk ?? huaweiCredentials.token);
  const providers: ProviderConfig[] = readProviders.map(({ authScheme, ...pc }) => {
    if (PROVIDER_FACTS[pc.name].cloud !== 'huawei') return pc;
    const auth = huaweiCredentials && huaweiAuthFor(pc, authScheme, huaweiCredentials, problems);
    return auth ? { ...pc, huaweiAuth: auth } : pc;
  });
  const alibabaAuth = clouds.has('alibaba') && withCredentials ? readAlibabaAuth() : undefined;

  const warnings = unknownVariableWarnings(env, consulted, [
    { prefix: 'JANITOR_', selected: true, selectedBy: '' },
    { prefix: 'REDIS_', selected: true, selectedBy: '' },
    { prefix: 'HUAWEICLOUD_', selected: clouds.has('huawei'), selectedBy: 'JANITOR_PROVIDERS names a Huawei Cloud provider (vias, iotda, mpc, workspace)' },
    { prefix: 'ALIBABA_CLOUD_', selected: clouds.has('alibaba'), selectedBy: 'JANITOR_PROVIDERS names imm' },
    ...PROVIDER_NAMES.map((name) => ({ prefix: `${name.toUpperCase()}_`, selected: providers.some((p) => p.name === name), selectedBy: `JANITOR_PROVIDERS names ${name}` })),
  ]);
  // A pattern variable left blank (a template that came out empty) reads as unset: it protects nothing.
  for (const pc of providers) {
    for (const [suffix, effect] of [['EXCLUDE', 'protects no task'], ['INCLUDE', 'limits nothing (every task is in scope)']] as const) {
      const name = `${pc.name.toUpperCase()}_${suffix}`;
      if (env[name] !== undefined && (get(name) ?? '').trim() === '') warnings.push(`${name}: is set but empty, so it ${effect}; unset it if that is meant`);
    }
  }
  // A misspelt name is often why a variable is missing or wrong: named beside the problems.
  if (problems.length > 0) throw new ConfigError(problems, warnings.filter((w) => w.includes('did you mean')));
  return deepFreeze({ ...config, redis, queuePrefix: prefixFor(redis, config.queuePrefix ?? ''), providers, huaweiAuth, alibabaAuth, operator, warnings } as Config);

  /** Keeps the known provider names and reports the others, so the known ones are still validated. */
  function knownProviders(names: readonly string[] | undefined): ProviderName[] | undefined {
    if (names === undefined) return undefined;
    const unknown = names.filter((n) => !(PROVIDER_NAMES as readonly string[]).includes(n));
    // "iotda mpc": names run together without the comma.
    const spaced = unknown.some((n) => /\s/.test(n)) ? ' (separate them with commas)' : '';
    if (unknown.length > 0) problems.push(`JANITOR_PROVIDERS: got ${JSON.stringify(get('JANITOR_PROVIDERS'))}; unknown provider ${unknown.join(', ')}; allowed: ${PROVIDER_NAMES.join(', ')}${spaced}`);
    return names.filter((n): n is ProviderName => (PROVIDER_NAMES as readonly string[]).includes(n));
  }

  /**
   * JANITOR_MAX_RUNTIME, or what the Job's deadline leaves after the start allowance and the shutdown
   * grace: Kubernetes must never kill a run that is still inside its own runtime.
   */
  function runtimeWithinDeadline(explicitMs: number | undefined, deadlineMs: number | undefined, graceMs: number | undefined): number | undefined {
    // An invalid JANITOR_MAX_RUNTIME or JANITOR_SHUTDOWN_GRACE is already reported; the result is then unused.
    if (deadlineMs === undefined || graceMs === undefined) return explicitMs ?? 50 * 60_000;
    const fitsMs = deadlineMs - START_ALLOWANCE_MS - graceMs;
    if (fitsMs < 60_000) {
      problems.push(`JANITOR_ACTIVE_DEADLINE_SECONDS: got ${deadlineMs / 1_000}; leaves ${Math.max(0, fitsMs / 1_000)}s of runtime after the ${START_ALLOWANCE_MS / 1_000}s start allowance and JANITOR_SHUTDOWN_GRACE (${graceMs / 1_000}s); expected at least ${(START_ALLOWANCE_MS + graceMs) / 1_000 + 60}`);
      return undefined;
    }
    if (explicitMs !== undefined && explicitMs > fitsMs) {
      problems.push(`JANITOR_MAX_RUNTIME: got ${explicitMs / 1_000}s; with JANITOR_ACTIVE_DEADLINE_SECONDS=${deadlineMs / 1_000} and JANITOR_SHUTDOWN_GRACE=${graceMs / 1_000}s it may be at most ${fitsMs / 1_000}s (or unset it: it then follows the deadline)`);
      return undefined;
    }
    return explicitMs ?? fitsMs;
  }

  function readProvider(name: ProviderName, globalRetentionMs: number): ProviderConfig & { authScheme?: AuthScheme } {
    const facts = PROVIDER_FACTS[name];
    const P = name.toUpperCase();
    const region = read(`${P}_REGION`, z.string().regex(REGION_PATTERN, 'expected a region id like cn-north-4'));
    const endpointOverride = read(`${P}_ENDPOINT`, url);
    const endpoint = endpointOverride ?? (region ? facts.endpointFor(region) : undefined);
    const targetsVar = name === 'imm' ? 'IMM_PROJECTS' : `${P}_PROJECT_ID`;
    const isSet = (variable: string) => (get(variable) ?? '') !== '';
    let scopes: TargetScope[];
    if (isSet(`${P}_TARGETS`)) {
      // Several regions (or IoTDA instances): each entry names its own region; the simple-case variables would be ambiguous.
      for (const conflicting of [targetsVar, `${P}_REGION`, ...(name === 'iotda' ? ['IOTDA_INSTANCE_ID'] : [])].filter(isSet)) {
        problems.push(`${conflicting}: cannot be combined with ${P}_TARGETS; put the ${conflicting.endsWith('REGION') ? 'region' : conflicting.endsWith('INSTANCE_ID') ? 'instance (;instance=<id>)' : 'project'} in each ${P}_TARGETS entry`);
      }
      const parsed = parseTargetEntries(get(`${P}_TARGETS`) ?? '', { allowInstance: name === 'iotda' });
      if ('problems' in parsed) problems.push(`${P}_TARGETS: got ${JSON.stringify(redactText(get(`${P}_TARGETS`) ?? ''))}; ${parsed.problems.join('; ')}; expected region:project entries separated by commas${name === 'iotda' ? ', each optionally followed by ;instance=<id> and ;endpoint=<url>' : ', each optionally followed by ;endpoint=<url>'}`);
      const badProjects = 'entries' in parsed ? parsed.entries.map((e) => e.project).filter((project) => (name === 'imm' ? PLACEHOLDER.test(project) : !HUAWEI_PROJECT_ID.test(project))) : [];
      if (badProjects.length > 0) problems.push(`${P}_TARGETS: ${name === 'imm' ? 'placeholder IMM project name' : 'not a Huawei Cloud project id'}: ${badProjects.join(', ')}; expected ${name === 'imm' ? 'the names of existing IMM projects' : '32 hexadecimal characters each (console: My Credentials > API Credentials)'}`);
      scopes = 'entries' in parsed ? parsed.entries.map((e) => ({
        key: keyOfEntry(e), region: e.region, project: e.project,
        endpoint: e.endpoint ?? endpointOverride ?? facts.endpointFor(e.region), ...(e.instanceId ? { instanceId: e.instanceId } : {}),
      })) : [];
    } else {
      if (endpoint === undefined && !isSet(`${P}_REGION`) && !isSet(`${P}_ENDPOINT`)) {
        problems.push(`${P}_REGION: is required when ${P}_ENDPOINT is unset; expected a region id like ${facts.cloud === 'huawei' ? 'cn-north-4' : 'cn-hangzhou'} (or ${P}_TARGETS for several regions)`);
      }
      const projects = required(targetsVar, read(targetsVar, name === 'imm' ? immProjectNames : huaweiProjectIds),
        `${name === 'imm' ? 'a comma list of IMM project names' : 'a comma list of Huawei Cloud project ids'} (or ${P}_TARGETS as region:project pairs)`);
      const instanceId = name === 'iotda' ? read('IOTDA_INSTANCE_ID', z.string().regex(INSTANCE_PATTERN, 'expected an instance id (letters, digits, -)')) : undefined;
      scopes = (projects ?? []).map((project) => ({ key: project, region, project, endpoint: endpoint ?? '', ...(instanceId ? { instanceId } : {}) }));
    }
    const states = read(`${P}_STATES`, list.transform((items, ctx) => {
      const canonical = items.map((s) => canonicalState(facts, s));
      const bad = items.filter((_, i) => { const c = canonical[i]; return c === undefined || !facts.deletableStates.includes(c); });
      return bad.length === 0 ? (canonical as string[]) : fail(ctx, `not deletable by the ${name} API: ${bad.join(', ')}; allowed: ${facts.deletableStates.join(', ')}`);
    }));
    const iotda = name === 'iotda' ? {
      instanceId: isSet(`${P}_TARGETS`) ? undefined : scopes[0]?.instanceId,
      taskTypes: read('IOTDA_TASK_TYPES', subsetOf([...IOTDA_TASK_TYPES], 'task type')) ?? [...IOTDA_TASK_TYPES],
      signing: read('IOTDA_SIGNING', oneOf(['auto', 'standard', 'derived'] as const), 'auto') ?? 'auto',
    } : undefined;
    return {
      name, region, endpoint: endpoint ?? '', targets: scopes.map((s) => s.key), scopes,
      retentionMs: providerRetention(`${P}_RETENTION`) ?? globalRetentionMs,
      ageFrom: read(`${P}_AGE_FROM`, oneOf(AGE_FROM_VALUES), 'documented') ?? 'documented',
      states: states ?? [...facts.defaultStates],
      rateLimit: read(`${P}_RATE_LIMIT`, rate, '10/s') ?? { max: 10, durationMs: 1000 },
      readRateLimit: read(`${P}_READ_RATE_LIMIT`, rate, '20/s') ?? { max: 20, durationMs: 1000 },
      listConcurrency: read(`${P}_LIST_CONCURRENCY`, intIn(1, 64), '4') ?? 4,
      maxListPages,
      concurrency: read(`${P}_CONCURRENCY`, intIn(1, 100), '4') ?? 4,
      include: read(`${P}_INCLUDE`, regexSource),
      exclude: read(`${P}_EXCLUDE`, regexSource),
      keepLatest: read(`${P}_KEEP_LATEST`, intIn(0, 100_000), '0') ?? 0,
      maxDeletes: read(`${P}_MAX_DELETES`, deleteCap(`${P}_MAX_DELETES`)),
      attempts: read(`${P}_ATTEMPTS`, intIn(1, 50), '5') ?? 5,
      ...(iotda ? { iotda } : {}),
      ...(facts.cloud === 'huawei' ? { authScheme: read(`${P}_AUTH`, oneOf(AUTH_SCHEMES)) } : {}),
    };
  }

  function providerRetention(name: string): number | undefined {
    const ms = read(name, durationUpTo(MAX_RETENTION));
    checkRetentionFloor(name, ms);
    return ms;
  }

  function secret(name: string): SecretSource | undefined {
    const value = get(name);
    const path = get(`${name}_FILE`);
    if (value && path) {
      refusedSecrets.add(name);
      problems.push(`${name}: set both ${name} and ${name}_FILE; set only one`);
      return undefined;
    }
    if (path) {
      const usable = isReadable(path);
      if (usable === true) return { name, kind: 'file', path };
      refusedSecrets.add(name);
      problems.push(`${name}_FILE: ${usable === false ? `cannot read ${JSON.stringify(path)}` : usable}; expected a path to a readable secret file that holds the value`);
      return undefined;
    }
    return value ? { name, kind: 'env', value } : undefined;
  }

  /** Every Huawei credential that is set (each provider picks one with P_AUTH); undefined after a problem. */
  function readHuaweiCredentials(): HuaweiCredentials | undefined {
    const accessKey = secret('HUAWEICLOUD_SDK_AK');
    const secretKey = secret('HUAWEICLOUD_SDK_SK');
    const securityToken = secret('HUAWEICLOUD_SDK_SECURITY_TOKEN');
    const token = secret('HUAWEICLOUD_AUTH_TOKEN');
    // A credential given but refused (unreadable, empty, set twice) is already named: not "required" too.
    if ([...refusedSecrets].some((name) => name.startsWith('HUAWEICLOUD_'))) return undefined;
    if ((accessKey === undefined) !== (secretKey === undefined)) {
      problems.push(`${accessKey ? 'HUAWEICLOUD_SDK_SK' : 'HUAWEICLOUD_SDK_AK'}: is required with ${accessKey ? 'HUAWEICLOUD_SDK_AK' : 'HUAWEICLOUD_SDK_SK'}; expected the other half of the AK/SK pair (or its _FILE)`);
      return undefined;
    }
    if (!accessKey && !token) {
      problems.push('HUAWEICLOUD_SDK_AK: Huawei Cloud credentials are required for the selected providers; expected HUAWEICLOUD_SDK_AK + HUAWEICLOUD_SDK_SK (or their _FILE), or HUAWEICLOUD_AUTH_TOKEN');
      return undefined;
    }
    return {
      ...(accessKey && secretKey ? { aksk: { kind: 'aksk' as const, accessKey, secretKey, ...(securityToken ? { securityToken } : {}) } } : {}),
      ...(token ? { token: { kind: 'token' as const, token } } : {}),
    };
  }

  function readAlibabaAuth(): AlibabaAuthConfig | undefined {
    const accessKeyId = secret('ALIBABA_CLOUD_ACCESS_KEY_ID');
    const accessKeySecret = secret('ALIBABA_CLOUD_ACCESS_KEY_SECRET');
    const securityToken = secret('ALIBABA_CLOUD_SECURITY_TOKEN');
    if (accessKeyId && accessKeySecret) return { accessKeyId, accessKeySecret, ...(securityToken ? { securityToken } : {}) };
    for (const [name, got] of [['ALIBABA_CLOUD_ACCESS_KEY_ID', accessKeyId], ['ALIBABA_CLOUD_ACCESS_KEY_SECRET', accessKeySecret]] as const) {
      if (!got && !refusedSecrets.has(name)) problems.push(`${name}: is required for provider imm; expected the access key ${name.endsWith('ID') ? 'id' : 'secret'} (or ${name}_FILE)`);
    }
    return undefined;
  }
}

/** Whether a secret file can be used: true, false when it cannot be read, or what is wrong with it. */
export type SecretFileCheck = (path: string) => boolean | string;

/**
 * Reads the start of the file (a path to /dev/zero must not hang the start): an empty Secret key
 * mounts as an empty file, which would sign every call with an empty key.
 */
function secretFileCheck(path: string): boolean | string {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const head = Buffer.alloc(4_096);
    const read = readSync(fd, head, 0, head.length, null);
    return variableText(head.subarray(0, read).toString('utf8')).trim() === '' ? `${JSON.stringify(path)} is empty` : true;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

const SECRET_FIELD = /password|secret|token|webhook|accesskey|authorization|credential/i;

/**
 * The effective configuration for `task-janitor config`: every default filled in, secrets replaced by
 * where they come from (a variable or a file path), credentials stripped from URLs.
 */
export function redactedConfig(config: Config): unknown {
  const redact = (value: unknown, key: string): unknown => {
    if (value === UNPACED) return 'none'; // as configured: JSON has no infinity
    if (typeof value === 'string') {
      if (SECRET_FIELD.test(key)) return '[redacted]';
      return redactText(value);
    }
    if (Array.isArray(value)) return value.map((v) => redact(v, key));
    if (value !== null && typeof value === 'object') {
      const record = value as Record<string, unknown>;
      // A secret read from a variable shows only the variable's name; one from a file shows its path.
      if (record.kind === 'env' && typeof record.name === 'string' && 'value' in record) return { from: record.name, value: '[redacted]' };
      if (record.kind === 'file' && typeof record.name === 'string') return { from: `${record.name}_FILE`, path: record.path };
      return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, redact(v, k)]));
    }
    return value;
  };
  return redact(config, '');
}
