// Pure deletion policy: is this task a candidate, and if not, why not. No I/O; `now` is passed in.
import type { ProviderConfig } from './config.js';
import { PROVIDER_FACTS } from './providers/catalog.js';
import type { CloudTask } from './providers/provider.js';

/** What the policy needs to know about one provider's configuration. */
export interface PolicyRule {
  /** The provider's whole documented state vocabulary (catalog spelling). */
  readonly knownStates: readonly string[];
  /** The states selected for deletion (catalog spelling, a subset of the deletable ones). */
  readonly states: readonly string[];
  readonly retentionMs: number;
}

/** The rule for one configured provider: its documented states, selected states and retention. */
export function policyRuleFor(providerConfig: ProviderConfig): PolicyRule {
  return { knownStates: PROVIDER_FACTS[providerConfig.name].knownStates, states: providerConfig.states, retentionMs: providerConfig.retentionMs };
}

/** Why a listed task is kept. Every kept task is counted under exactly one reason. */
export type KeepReason =
  | 'missing-id'
  | 'unknown-state'
  | 'state-not-selected'
  | 'not-deletable-type'
  | 'missing-timestamp'
  | 'invalid-timestamp'
  | 'future-timestamp'
  | 'too-recent';

export type Verdict =
  | { readonly candidate: true; readonly ageMs: number }
  | { readonly candidate: false; readonly reason: KeepReason; readonly detail: string };

// A clock skew allowance would let a future timestamp through; any timestamp ahead of `now` is refused.
/** Decides one task. The order of checks is the order of the reasons a human would ask about. */
export function judgeTask(task: CloudTask, rule: PolicyRule, now: Date): Verdict {
  // States arrive in the catalog's spelling (adapters canonicalise once); any other spelling is unknown.
  if (task.id.trim() === '') return keep('missing-id', 'the task has no id');
  if (task.states.length === 0) return keep('unknown-state', 'the task has no state');
  for (const state of task.states) {
    if (!rule.knownStates.includes(state)) return keep('unknown-state', `state ${JSON.stringify(state)} is not one the API documents`);
    if (!rule.states.includes(state)) return keep('state-not-selected', `state ${state} is not selected for deletion`);
  }
  if (task.undeletableBecause !== undefined) return keep('not-deletable-type', task.undeletableBecause);

  const aged = task.agedFrom;
  if (aged.kind === 'missing') return keep('missing-timestamp', `no ${aged.field}`);
  if (aged.kind === 'invalid' || !Number.isFinite(aged.at.getTime())) {
    return keep('invalid-timestamp', `${aged.field} ${JSON.stringify(aged.kind === 'invalid' ? aged.raw : String(aged.at))} does not parse`);
  }
  const ageMs = now.getTime() - aged.at.getTime();
  if (ageMs < 0) return keep('future-timestamp', `${aged.field} ${aged.at.toISOString()} is in the future`);
  // Strictly older than the retention: a task exactly at the retention age is kept one more run.
  if (ageMs <= rule.retentionMs) return keep('too-recent', `${aged.field} is ${Math.floor(ageMs / 1000)}s old`);
  return { candidate: true, ageMs };
}

function keep(reason: KeepReason, detail: string): Verdict {
  return { candidate: false, reason, detail };
}
