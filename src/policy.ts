// Pure deletion policy: is this task a candidate, and if not, why not. No I/O; `now` is passed in.
import type { AgeFrom, ProviderConfig } from './config.js';
import { PROVIDER_FACTS } from './providers/catalog.js';
import type { CloudTask } from './providers/provider.js';
import { formatDuration } from './units.js';

/** A P_INCLUDE or P_EXCLUDE regular expression, with the variable it came from (named in every reason). */
export interface TaskPattern {
  readonly variable: string;
  readonly regex: RegExp;
}

/** What the policy needs to know about one provider's configuration. */
export interface PolicyRule {
  /** The provider's whole documented state vocabulary (catalog spelling). */
  readonly knownStates: readonly string[];
  /** The states selected for deletion (catalog spelling, a subset of the deletable ones). */
  readonly states: readonly string[];
  readonly retentionMs: number;
  /** P_EXCLUDE: a task whose id, name or type matches is never deleted. */
  readonly exclude?: TaskPattern;
  /** P_INCLUDE: when set, only a task whose id, name or type matches may be deleted. */
  readonly include?: TaskPattern;
  /**
   * `documented`: age from the timestamp the API documents. `observed`: from the later of that and
   * when the janitor first saw the task in a selected state (P_AGE_FROM).
   */
  readonly ageFrom: AgeFrom;
}

/** The rule for one configured provider: its documented states, selected states, retention, patterns and age reference. */
export function policyRuleFor(providerConfig: ProviderConfig): PolicyRule {
  let rule = rules.get(providerConfig);
  if (!rule) {
    const P = providerConfig.name.toUpperCase();
    // Sources were compiled once at config load, so a bad one never gets this far.
    const pattern = (suffix: string, source: string | undefined) => (source === undefined ? {} : { [suffix.toLowerCase()]: { variable: `${P}_${suffix}`, regex: new RegExp(source) } });
    rule = Object.freeze({
      knownStates: PROVIDER_FACTS[providerConfig.name].knownStates, states: providerConfig.states, retentionMs: providerConfig.retentionMs,
      ageFrom: providerConfig.ageFrom, ...pattern('EXCLUDE', providerConfig.exclude), ...pattern('INCLUDE', providerConfig.include),
    });
    rules.set(providerConfig, rule);
  }
  return rule;
}

/** One rule per provider configuration (frozen, like the config): the worker asks for it before every delete. */
const rules = new WeakMap<ProviderConfig, PolicyRule>();

/** The task's fields a pattern is matched on: id, name and type, where the API has them. */
export function matchedFields(task: Pick<CloudTask, 'id' | 'name' | 'type'>): [field: string, value: string][] {
  return [['id', task.id], ['name', task.name], ['type', task.type]].filter((f): f is [string, string] => f[1] !== undefined && f[1] !== '');
}

/** The first field of the task the pattern matches, as `name "prod-1"`; undefined when none does. */
export function patternMatch(pattern: TaskPattern, task: Pick<CloudTask, 'id' | 'name' | 'type'>): string | undefined {
  const hit = matchedFields(task).find(([, value]) => pattern.regex.test(value));
  return hit && `${hit[0]} ${JSON.stringify(hit[1])}`;
}

/** How a pattern is shown in reasons: the variable and the expression, `IOTDA_EXCLUDE (/^prod-/)`. */
export function describePattern(pattern: TaskPattern): string {
  return `${pattern.variable} (${String(pattern.regex)})`;
}

/**
 * Whether the task is finished as far as the rule is concerned: it has an id and every state it
 * reports is selected (and so terminal). Observed mode records when this first became true and
 * forgets it as soon as it is false again (restarted, resumed, retried).
 */
export function isInSelectedStates(task: Pick<CloudTask, 'id' | 'states'>, rule: PolicyRule): boolean {
  return task.id.trim() !== '' && task.states.length > 0 && task.states.every((s) => rule.knownStates.includes(s) && rule.states.includes(s));
}

/** The name an age measured from the janitor's own observation is reported under (logs, audit, jobs). */
export const OBSERVED_FIELD = 'first seen terminal';

/** Why a listed task is kept. Every kept task is counted under exactly one reason. */
export type KeepReason =
  | 'missing-id'
  | 'protected'
  | 'not-included'
  | 'unknown-state'
  | 'state-not-selected'
  | 'not-deletable-type'
  | 'missing-timestamp'
  | 'invalid-timestamp'
  | 'future-timestamp'
  | 'too-recent'
  /** P_KEEP_LATEST: among the newest N of its project (and IoTDA task type); decided over the whole listing. */
  | 'newest-kept'
  /** Observed mode: the janitor first saw the task terminal less than the retention ago (or has no record). */
  | 'observed-recently';

export type Verdict =
  /** `agedFrom`: the reference the age was measured from (the documented field, or OBSERVED_FIELD). */
  | { readonly candidate: true; readonly ageMs: number; readonly agedFrom: { readonly field: string; readonly at: Date } }
  | { readonly candidate: false; readonly reason: KeepReason; readonly detail: string; readonly ageMs?: number };

/** One check a task passed, as `explain` shows it: what was checked and the value it had. */
export interface PolicyStep {
  readonly check: string;
  readonly value: string;
}

// A clock skew allowance would let a future timestamp through; any timestamp ahead of `now` is refused.
/**
 * Decides one task. The order of checks is the order of the reasons a human would ask about.
 * `firstSeenTerminal` (observed mode only): when the janitor first saw it in a selected state;
 * undefined means no record, so it counts as seen just now and is never old enough.
 * `passed`, when given, is told of every check the task passed (the failing one is the verdict).
 */
export function judgeTask(task: CloudTask, rule: PolicyRule, now: Date, firstSeenTerminal?: Date, passed?: (step: PolicyStep) => void): Verdict {
  // States arrive in the catalog's spelling (adapters canonicalise once); any other spelling is unknown.
  if (task.id.trim() === '') return keep('missing-id', 'the task has no id');
  passed?.({ check: 'id', value: task.id });
  // What the operator protected is settled before anything about the task's state or age.
  const excluded = rule.exclude && patternMatch(rule.exclude, task);
  if (rule.exclude && excluded) return keep('protected', `protected by ${describePattern(rule.exclude)}: ${excluded} matches`);
  const fields = () => matchedFields(task).map(([f]) => f).join(', ');
  if (rule.exclude) passed?.({ check: rule.exclude.variable, value: `${String(rule.exclude.regex)} matches none of ${fields()}` });
  const included = rule.include && patternMatch(rule.include, task);
  if (rule.include && included === undefined) return keep('not-included', `not matched by ${describePattern(rule.include)} (${fields()} checked)`);
  if (rule.include) passed?.({ check: rule.include.variable, value: `${String(rule.include.regex)} matches ${included ?? ''}` });
  if (task.states.length === 0) return keep('unknown-state', 'the task has no state');
  for (const state of task.states) {
    if (!rule.knownStates.includes(state)) return keep('unknown-state', `state ${JSON.stringify(state)} is not one the API documents`);
    if (!rule.states.includes(state)) return keep('state-not-selected', `state ${state} is not selected for deletion`);
  }
  passed?.({ check: 'state', value: `${task.states.join(' + ')} (selected: ${rule.states.join(', ')})` });
  if (task.undeletableBecause !== undefined) return keep('not-deletable-type', task.undeletableBecause);

  const aged = task.agedFrom;
  if (aged.kind === 'missing') return keep('missing-timestamp', `no ${aged.field}`);
  if (aged.kind === 'invalid' || !Number.isFinite(aged.at.getTime())) {
    return keep('invalid-timestamp', `${aged.field} ${JSON.stringify(aged.kind === 'invalid' ? aged.raw : String(aged.at))} does not parse`);
  }
  passed?.({ check: 'age from', value: `${aged.field} ${aged.at.toISOString()}` });
  const ageMs = now.getTime() - aged.at.getTime();
  if (ageMs < 0) return keep('future-timestamp', `${aged.field} ${aged.at.toISOString()} is in the future`);
  // Strictly older than the retention: a task exactly at the retention age is kept one more run.
  if (ageMs <= rule.retentionMs) return { ...keep('too-recent', `${aged.field} is ${Math.floor(ageMs / 1000)}s old`), ageMs };
  passed?.({ check: 'age', value: `${formatDuration(ageMs)} > retention ${formatDuration(rule.retentionMs)}` });
  if (rule.ageFrom === 'observed') {
    // Age from the later of the two: a record that finished long after it was created is young.
    if (firstSeenTerminal === undefined) return keep('observed-recently', 'observed terminal just now (no record)');
    const observedMs = now.getTime() - firstSeenTerminal.getTime();
    // Not a number (a corrupt record) or in the future (another pod's clock) is never old enough.
    if (!(observedMs > rule.retentionMs)) return keep('observed-recently', `first seen terminal ${Math.floor(observedMs / 1000)}s ago`);
    passed?.({ check: 'observed', value: `first seen terminal ${formatDuration(observedMs)} ago > retention ${formatDuration(rule.retentionMs)}` });
    if (observedMs < ageMs) return { candidate: true, ageMs: observedMs, agedFrom: { field: OBSERVED_FIELD, at: firstSeenTerminal } };
  }
  return { candidate: true, ageMs, agedFrom: { field: aged.field, at: aged.at } };
}

function keep(reason: KeepReason, detail: string): Verdict {
  return { candidate: false, reason, detail };
}
