// An oracle for what a correct janitor deletes, written from the README's rules and docs/providers.md,
// independently of src/ (no import of the policy, judging, caps or catalog): the property tests compare
// the real path's deletions with it. Ties (equal times at a P_KEEP_LATEST or truncation cut-off) leave
// the choice of task open, so the oracle answers a range: the tasks surely deleted, the tasks possibly
// deleted, and the exact multiset of times of what is deleted.

/** The documented state vocabulary (docs/providers.md §1a, §2a, §3a, §4a, §5a), copied, not imported. */
export const DOCUMENTED_STATES = {
  imm: ['Ready', 'Running', 'Failed', 'Suspended', 'Succeeded'],
  vias: ['pending', 'recovering', 'starting', 'upgrading', 'create_failed', 'start_failed', 'running', 'stopping', 'stopped', 'abnormal',
    'succeeded', 'failed', 'deleting', 'freezing', 'frozen', 'stopped_no_service', 'scheduling', 'lack_of_resources'],
  iotda: ['Initializing', 'Waitting', 'Processing', 'Success', 'Fail', 'PartialSuccess', 'Stopped', 'Stopping'],
  mpc: ['INIT', 'WAITING', 'PROCESSING', 'SUCCEED', 'FAILED', 'CANCELED'],
  workspace: ['WAITING', 'RUNNING', 'SUCCESS', 'FAILED'],
} as const;

/** States the delete APIs accept (the only ones P_STATES may select). */
export const DELETABLE_STATES = {
  imm: ['Ready', 'Failed', 'Suspended', 'Succeeded'],
  vias: ['succeeded', 'failed', 'create_failed', 'start_failed', 'stopped'],
  iotda: ['Success', 'Fail', 'PartialSuccess', 'Stopped'],
  mpc: ['SUCCEED', 'FAILED', 'CANCELED'],
  workspace: ['SUCCESS', 'FAILED'],
} as const;

export type OracleProvider = keyof typeof DOCUMENTED_STATES;

/** One listed task as the API reported it. `at`: its documented time (ms), or why there is none. */
export interface OracleTask {
  readonly key: string;
  readonly provider: OracleProvider;
  readonly target: string;
  readonly id: string;
  readonly name?: string;
  readonly type?: string;
  /** States exactly as the API wrote them (any letter case; VIAS: every state with a non-zero count). */
  readonly rawStates: readonly string[];
  readonly time: { readonly kind: 'ok'; readonly at: number } | { readonly kind: 'missing' | 'invalid' };
  /** The API refuses to delete this kind of record (Workspace job types). */
  readonly undeletable?: boolean;
}

export type OracleCap = { readonly kind: 'count'; readonly count: number } | { readonly kind: 'share'; readonly hundredths: number };

export interface OracleProviderRule {
  readonly retentionMs: number;
  /** Selected states in any letter case. */
  readonly states: readonly string[];
  readonly exclude?: RegExp;
  readonly include?: RegExp;
  readonly keepLatest: number;
  readonly cap?: OracleCap;
}

export interface OracleConfig {
  readonly rules: Readonly<Partial<Record<OracleProvider, OracleProviderRule>>>;
  readonly runCap?: OracleCap;
  readonly mode: 'refuse' | 'truncate';
}

/** The answer: every deleted task is in `possible`, every `sure` one is deleted, and the deleted times are exactly `times`. */
export interface OracleAnswer {
  readonly sure: ReadonlySet<string>;
  readonly possible: ReadonlySet<string>;
  /** Sorted ascending. */
  readonly times: readonly number[];
  /** Whether a cap in refuse mode stopped some provider (the run then exits 5). */
  readonly refused: boolean;
}

/** A set of tasks known up to ties: the exact multiset of their times, who surely and who possibly belongs. */
interface Pool {
  times: number[];
  sure: Set<OracleTask>;
  possible: OracleTask[];
}

const lower = (s: string) => s.toLowerCase();

function fields(task: OracleTask): string[] {
  return [task.id, task.name, task.type].filter((v): v is string => v !== undefined && v !== '');
}

/** Whether the task reaches the age check: has an id, is not protected, is included, is in selected documented states, is deletable and dated. */
function judgeable(task: OracleTask, rule: OracleProviderRule, now: number): task is OracleTask & { time: { kind: 'ok'; at: number } } {
  if (task.id.trim() === '') return false;
  if (rule.exclude && fields(task).some((f) => rule.exclude?.test(f))) return false;
  if (rule.include && !fields(task).some((f) => rule.include?.test(f))) return false;
  const documented = (DOCUMENTED_STATES[task.provider] as readonly string[]).map(lower);
  const selected = rule.states.map(lower);
  // Letter case is not significant (VIAS documents both); anything else, padding included, is unknown.
  if (task.rawStates.length === 0 || !task.rawStates.every((s) => documented.includes(lower(s)) && selected.includes(lower(s)))) return false;
  if (task.undeletable) return false;
  return task.time.kind === 'ok' && Number.isFinite(task.time.at) && task.time.at <= now;
}

/** The `limit` oldest of a pool (ties at the cut-off leave the choice open). */
function oldest(pool: Pool, limit: number): Pool {
  if (pool.times.length <= limit) return pool;
  const sorted = [...pool.times].sort((a, b) => a - b);
  if (limit <= 0) return { times: [], sure: new Set(), possible: [] };
  const cutoff = sorted[limit - 1] as number;
  const below = sorted.filter((t) => t < cutoff).length;
  const slots = limit - below;
  const atCutoff = pool.possible.filter((t) => atOf(t) === cutoff);
  const allFit = atCutoff.length === slots;
  return {
    times: sorted.slice(0, limit),
    possible: pool.possible.filter((t) => atOf(t) <= cutoff),
    sure: new Set([...pool.sure].filter((t) => atOf(t) < cutoff || (allFit && atOf(t) === cutoff))),
  };
}

/** All but the `n` newest of a pool (P_KEEP_LATEST; ties at the cut-off leave the choice open). */
function allButNewest(pool: Pool, n: number): Pool {
  if (n <= 0) return pool;
  if (pool.times.length <= n) return { times: [], sure: new Set(), possible: [] };
  const desc = [...pool.times].sort((a, b) => b - a);
  const cutoff = desc[n - 1] as number;
  const above = desc.filter((t) => t > cutoff).length;
  const atCutoff = pool.possible.filter((t) => atOf(t) === cutoff);
  const keptAtCutoff = n - above;
  return {
    times: desc.slice(n).sort((a, b) => a - b),
    possible: pool.possible.filter((t) => atOf(t) <= cutoff && !(atOf(t) === cutoff && keptAtCutoff === atCutoff.length)),
    sure: new Set(pool.possible.filter((t) => atOf(t) < cutoff || (atOf(t) === cutoff && keptAtCutoff === 0))),
  };
}

function atOf(task: OracleTask): number {
  return task.time.kind === 'ok' ? task.time.at : Number.NaN;
}

function union(pools: readonly Pool[]): Pool {
  return {
    times: pools.flatMap((p) => p.times).sort((a, b) => a - b),
    sure: new Set(pools.flatMap((p) => [...p.sure])),
    possible: pools.flatMap((p) => p.possible),
  };
}

function limitOf(cap: OracleCap, listed: number): number {
  // Integer arithmetic: a share has at most two decimals.
  return cap.kind === 'count' ? cap.count : Math.floor((cap.hundredths * listed) / 10_000);
}

/** What a correct janitor deletes from `tasks` (every listed task of every configured provider) at `now`. */
export function oracleDeletions(tasks: readonly OracleTask[], config: OracleConfig, now: number): OracleAnswer {
  const providers = Object.keys(config.rules) as OracleProvider[];
  let refused = false;
  const listed = (p: OracleProvider) => tasks.filter((t) => t.provider === p).length;
  const admitted: Pool[] = [];
  for (const provider of providers) {
    const rule = config.rules[provider] as OracleProviderRule;
    const groups = new Map<string, OracleTask[]>();
    for (const task of tasks) {
      if (task.provider !== provider || !judgeable(task, rule, now)) continue;
      // P_KEEP_LATEST counts per target, and for IoTDA per task type too.
      const group = `${task.target}\n${provider === 'iotda' ? task.type ?? '' : ''}`;
      groups.set(group, [...(groups.get(group) ?? []), task]);
    }
    const candidates = union([...groups.values()].map((ranked) => {
      const released = allButNewest({ times: ranked.map(atOf), sure: new Set(ranked), possible: ranked }, rule.keepLatest);
      // Strictly older than the retention; tasks of equal time are all old enough or none is.
      const old = (t: number) => now - t > rule.retentionMs;
      return { times: released.times.filter(old), sure: new Set([...released.sure].filter((t) => old(atOf(t)))), possible: released.possible.filter((t) => old(atOf(t))) };
    }));
    if (!rule.cap) {
      admitted.push(candidates);
      continue;
    }
    const limit = limitOf(rule.cap, listed(provider));
    if (candidates.times.length <= limit) admitted.push(candidates);
    else if (config.mode === 'truncate') admitted.push(oldest(candidates, limit));
    else refused = true;
  }
  let all = union(admitted);
  if (config.runCap) {
    const limit = limitOf(config.runCap, tasks.filter((t) => providers.includes(t.provider)).length);
    if (all.times.length > limit) {
      if (config.mode === 'truncate') all = oldest(all, limit);
      else {
        refused = true;
        all = { times: [], sure: new Set(), possible: [] };
      }
    }
  }
  return { sure: new Set([...all.sure].map((t) => t.key)), possible: new Set(all.possible.map((t) => t.key)), times: all.times, refused };
}

/** Differences between what was deleted and the oracle's answer, in words (empty when they agree). */
export function disagreements(deleted: readonly { key: string; at: number }[], answer: OracleAnswer): string[] {
  const keys = new Set(deleted.map((d) => d.key));
  const problems: string[] = [];
  for (const d of deleted) if (!answer.possible.has(d.key)) problems.push(`deleted ${d.key}, which the oracle never deletes`);
  for (const key of answer.sure) if (!keys.has(key)) problems.push(`kept ${key}, which the oracle deletes`);
  if (keys.size !== deleted.length) problems.push('a task was deleted twice');
  const times = deleted.map((d) => d.at).sort((a, b) => a - b);
  if (JSON.stringify(times) !== JSON.stringify(answer.times)) problems.push(`deleted ${times.length} task(s) dated ${JSON.stringify(times)}, the oracle ${answer.times.length} dated ${JSON.stringify(answer.times)}`);
  return problems;
}
