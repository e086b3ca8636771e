// The one judging path of a listing, shared by the producer, the dry run, the cap count and `plan`:
// every listed task through the policy, then P_KEEP_LATEST, then the provider's valves (cap, clock).
import type { PageSightings } from './observations.js';
import { judgeTask, type PolicyRule, type Verdict } from './policy.js';
import type { ProviderName } from './providers/catalog.js';
import type { CloudTask, ListWarningSink, Provider } from './providers/provider.js';
import { keepLatestGroupOf, listingClockRefusal, NewestKeeper, type CapGate } from './valves.js';

/** One listed task and what the policy (and P_KEEP_LATEST) decided about it. */
export interface Decision {
  readonly task: CloudTask;
  readonly verdict: Verdict;
  /** When the page that listed the task was read: a task P_KEEP_LATEST held back is released with a later page. */
  readonly listedAt: Date;
  /** Observed mode: when the janitor first saw the task terminal, as judged. */
  readonly firstSeenTerminal?: Date;
}

/** Decisions released by one listed page; `listed` counts the page's tasks (0 for the final release). */
export interface JudgedPage {
  readonly listed: number;
  readonly decisions: readonly Decision[];
  readonly now: Date;
}

export interface ListingDeps {
  readonly provider: Provider;
  readonly target: string;
  readonly rule: PolicyRule;
  /** P_KEEP_LATEST (0: off). */
  readonly keepLatest: number;
  readonly now: () => Date;
  /** Observed mode (P_AGE_FROM=observed): each page's first sightings; absent, none is known. */
  readonly sightings?: PageSightings;
  readonly signal?: AbortSignal;
  /** Told what the listing left out without failing (an IoTDA task type the endpoint refuses). */
  readonly onWarning?: ListWarningSink;
  /** JANITOR_MAX_CLOCK_SKEW: beyond it, first sightings are read but none is started (dated on this clock). */
  readonly maxClockSkewMs?: number;
}

/**
 * Lists one target and judges every task. With P_KEEP_LATEST=n a task that reached the age check
 * (selected state, valid time, not protected) is held back until n newer ones of its group are
 * known, so a candidate is only released once it is certainly not among its group's newest n; what
 * is held when the listing ends is the newest n, released last as kept. At most n per group wait.
 */
export async function* judgeListing(deps: ListingDeps): AsyncGenerator<JudgedPage> {
  const keeper = new NewestKeeper<Decision>(deps.keepLatest);
  let now = deps.now();
  for await (const page of deps.provider.listTasks(deps.target, deps.signal, deps.onWarning)) {
    now = deps.now();
    const decisions: Decision[] = [];
    const clockTrusted = deps.maxClockSkewMs === undefined || listingClockRefusal(deps.provider, deps.maxClockSkewMs) === undefined;
    const sightings = await deps.sightings?.(page, now, clockTrusted);
    for (const task of page) {
      const seen = sightings?.get(task.id);
      const decision: Decision = { task, verdict: judgeTask(task, deps.rule, now, seen), listedAt: now, ...(seen ? { firstSeenTerminal: seen } : {}) };
      // Kept only for their age, they still count among their group's newest.
      const ranked = decision.verdict.candidate || decision.verdict.reason === 'too-recent' || decision.verdict.reason === 'observed-recently';
      const released = ranked && task.agedFrom.kind === 'ok' && deps.keepLatest > 0
        ? keeper.offer(keepLatestGroupOf(deps.provider.name, task), task.agedFrom.at.getTime(), decision, task.id)
        : decision;
      if (released) decisions.push(released);
    }
    yield { listed: page.length, decisions, now };
  }
  const newest = keeper.drain().map((d) => (d.verdict.candidate ? { ...d, verdict: newestKept(deps.provider.name, d.task, deps.keepLatest) } : d));
  if (newest.length > 0) yield { listed: 0, decisions: newest, now };
}

function newestKept(provider: ProviderName, task: CloudTask, n: number): Verdict {
  const group = keepLatestGroupOf(provider, task);
  return { candidate: false, reason: 'newest-kept', detail: `newest ${n} kept (${provider.toUpperCase()}_KEEP_LATEST${group ? `, task type ${group}` : ''})` };
}

/** One decision as the producer made it, for `plan` and `explain`: the verdict, and for a candidate what the valves did. */
export interface DecisionEvent extends Decision {
  readonly provider: ProviderName;
  readonly target: string;
  /** Absent for a kept task (the valves only see candidates). */
  readonly valve?: ValveOutcome;
  readonly now: Date;
}

/** A provider's valves for one run: a refusal decided before listing (cap), its cap gates, its clock bound. */
export interface ProviderValves {
  /** Set when nothing of the provider may be deleted (JANITOR_MAX_DELETES_MODE=refuse and over a cap). */
  readonly refusedBecause?: string;
  /** Every gate a candidate passes (the provider's P_MAX_DELETES, then the run's JANITOR_MAX_DELETES). */
  readonly gates: readonly CapGate[];
  readonly maxClockSkewMs: number;
}

/** What the valves do with one candidate: let it be deleted, or hold it back and why. */
export type ValveOutcome =
  | { readonly pass: true }
  | { readonly pass: false; readonly why: 'refused' | 'clock-skew'; readonly detail: string }
  | { readonly pass: false; readonly why: 'over-cap'; readonly detail: string; readonly cap: string };

/** Passes one candidate dated `at` through the provider's valves; a passing one takes its place in every gate. */
export function passValves(valves: ProviderValves, provider: Provider, at: number): ValveOutcome {
  if (valves.refusedBecause !== undefined) return { pass: false, why: 'refused', detail: valves.refusedBecause };
  const skew = listingClockRefusal(provider, valves.maxClockSkewMs);
  if (skew !== undefined) return { pass: false, why: 'clock-skew', detail: skew };
  const closed = valves.gates.find((g) => !g.allows(at));
  if (closed) return { pass: false, why: 'over-cap', cap: closed.describe(), detail: `over the cap ${closed.describe()}: the oldest are deleted first, this one is left for a later run` };
  for (const gate of valves.gates) gate.take(at);
  return { pass: true };
}

/** Valves that let everything through (no cap, clock checked against `maxClockSkewMs`). */
export function openValves(maxClockSkewMs: number): ProviderValves {
  return { gates: [], maxClockSkewMs };
}
