// `plan` and `explain` output: each listed task's decision in words, totals, a bounded sample, a decision path.
import type { Config, ProviderConfig } from './config.js';
import type { DecisionEvent } from './judging.js';
import { judgeTask, OBSERVED_FIELD, policyRuleFor, type PolicyStep } from './policy.js';
import type { RunReport } from './run.js';
import type { TargetStats } from './summary.js';
import { formatDuration } from './units.js';

/** One task of the plan: what a run would do with it and why, in words and as fields. */
export interface PlanRow {
  readonly provider: string;
  readonly target: string;
  readonly id: string;
  readonly name?: string;
  readonly type?: string;
  readonly states: readonly string[];
  readonly decision: 'delete' | 'keep';
  /** The policy's keep reason, `candidate`, or the valve that held a candidate back (`refused`, `clock-skew`, `over-cap`). */
  readonly reason: string;
  readonly words: string;
  readonly agedFrom?: { readonly field: string; readonly at: string };
  readonly ageMs?: number;
}

/** How an age reference reads in a sentence: `end_time` ended, `create_time` created. */
export function agedVerb(field: string): string {
  if (field === OBSERVED_FIELD) return 'first seen terminal';
  if (/end/i.test(field)) return 'ended';
  if (/update/i.test(field)) return 'updated';
  if (/begin|start/i.test(field)) return 'began';
  if (/creat/i.test(field)) return 'created';
  return `${field} was`;
}

/** The plan row of one decision, with its reason in words and ages in human units. */
export function planRow(event: DecisionEvent, retentionMs: number): PlanRow {
  const { task, verdict, valve } = event;
  const aged = task.agedFrom;
  const at = verdict.candidate ? { field: verdict.agedFrom.field, at: verdict.agedFrom.at.toISOString() }
    : aged.kind === 'ok' && Number.isFinite(aged.at.getTime()) ? { field: aged.field, at: aged.at.toISOString() } : undefined;
  const ageMs = verdict.ageMs;
  // A candidate's age may come from another reference than the listed field (observed mode).
  const field = verdict.candidate ? verdict.agedFrom.field : aged.field;
  const age = ageMs === undefined ? '' : `${agedVerb(field)} ${formatDuration(ageMs)} ago`;
  const states = task.states.join(' + ');
  let decision: PlanRow['decision'] = 'keep';
  let reason: string;
  let words: string;
  if (verdict.candidate) {
    const would = `${states}, ${age} > ${formatDuration(retentionMs)}`;
    if (!valve || valve.pass) {
      decision = 'delete';
      reason = 'candidate';
      words = `delete: ${would}`;
    } else {
      reason = valve.why;
      words = valve.why === 'over-cap' ? `keep: over the cap ${valve.cap}, left for a later run (${would})` : `keep: refused, ${valve.detail} (${would})`;
    }
  } else {
    reason = verdict.reason;
    words = `keep: ${keepWords(verdict.reason, verdict.detail, { states, field, age, retentionMs })}`;
  }
  return {
    provider: event.provider, target: event.target, id: task.id, ...(task.name ? { name: task.name } : {}), ...(task.type ? { type: task.type } : {}),
    states: task.states, decision, reason, words, ...(at ? { agedFrom: at } : {}), ...(ageMs !== undefined ? { ageMs } : {}),
  };
}

function keepWords(reason: string, detail: string, t: { states: string; field: string; age: string; retentionMs: number }): string {
  switch (reason) {
    case 'state-not-selected': return `state ${t.states}`;
    case 'too-recent': return `${t.age} (retention ${formatDuration(t.retentionMs)})`;
    case 'observed-recently': return `${detail}; the retention (${formatDuration(t.retentionMs)}) counts from the first sighting`;
    case 'missing-timestamp': return `no ${t.field}`;
    case 'invalid-timestamp': return `unparseable ${t.field}`;
    case 'missing-id': return 'no task id';
    default: return detail;
  }
}

/** Per-provider lines heading a plan: what the policy and valves are set to, and how ages are measured. */
export function planHeaderLines(config: Config, sightings?: RunReport['sightings']): string[] {
  const lines: string[] = [];
  for (const pc of config.providers) {
    const P = pc.name.toUpperCase();
    const parts = [`retention ${formatDuration(pc.retentionMs)}`, `states ${pc.states.join(', ')}`];
    if (pc.exclude !== undefined) parts.push(`${P}_EXCLUDE /${pc.exclude}/`);
    if (pc.include !== undefined) parts.push(`${P}_INCLUDE /${pc.include}/`);
    if (pc.keepLatest > 0) parts.push(`${P}_KEEP_LATEST ${pc.keepLatest}`);
    if (pc.maxDeletes) parts.push(`${pc.maxDeletes.variable} ${pc.maxDeletes.kind === 'count' ? pc.maxDeletes.count : `${pc.maxDeletes.percent}%`}`);
    lines.push(`${pc.name}: ${parts.join('; ')}`);
    if (pc.ageFrom === 'observed') lines.push(...observedAgeLines(pc, sightings));
  }
  if (config.maxDeletes) lines.push(`run: ${config.maxDeletes.variable} ${config.maxDeletes.kind === 'count' ? config.maxDeletes.count : `${config.maxDeletes.percent}%`} (mode ${config.maxDeletesMode})`);
  lines.push(`clock: a provider whose Date header is more than ${formatDuration(config.maxClockSkewMs)} off the local clock is refused`);
  return lines;
}

/** The observed-age trade-off of one provider, and what this plan knew of its first sightings. */
function observedAgeLines(pc: ProviderConfig, sightings: RunReport['sightings']): string[] {
  const P = pc.name.toUpperCase();
  const retention = formatDuration(pc.retentionMs);
  const known = sightings === 'read'
    ? 'this plan read the sightings real runs recorded in Redis (and recorded none)'
    : 'Redis did not answer, so this plan knows no sighting: every terminal task counts as seen just now and is kept';
  return [
    `  ${P}_AGE_FROM=observed: age from the later of the API's time and when the janitor first saw the task terminal; ${known}.`,
    `  Trade-off: a task is deleted only ${retention} after the janitor first saw it terminal, so the first ${retention} after enabling it (or after Redis lost its data) delete nothing of ${pc.name}; dry runs and plans never record sightings.`,
  ];
}

/** The reason a row is counted under: `delete`, or `keep: <reason>`. */
function reasonKey(row: PlanRow): string {
  return row.decision === 'delete' ? 'delete' : `keep: ${row.reason}`;
}

/** Counters by reason and a bounded sample (the first few rows of each reason): O(reasons) memory at any size. */
export class PlanTally {
  readonly byReason = new Map<string, number>();
  readonly sample: PlanRow[] = [];

  constructor(private readonly perReason = 3) {}

  add(row: PlanRow): void {
    const key = reasonKey(row);
    const seen = this.byReason.get(key) ?? 0;
    this.byReason.set(key, seen + 1);
    if (seen < this.perReason) this.sample.push(row);
  }
}

/** The plan as a person reads it: settings, totals per provider and project, totals by reason, a sample. */
export function renderPlan(config: Config, stats: readonly TargetStats[], tally: PlanTally, options: { readonly at: Date; readonly output?: string; readonly sightings?: RunReport['sightings'] }): string {
  const redis = options.sightings === undefined ? 'needs no Redis' : 'reads first sightings from Redis when it answers, writes nothing';
  const lines = [`task-janitor plan at ${options.at.toISOString()} (nothing is deleted; ${redis})`, ...planHeaderLines(config, options.sightings), ''];
  const rows = stats.map((s) => ({ provider: s.provider, project: s.target, listed: s.listed, candidates: s.candidates, del: s.candidates - s.heldBack, keep: s.listed - (s.candidates - s.heldBack) }));
  const sum = (key: 'listed' | 'candidates' | 'del' | 'keep') => rows.reduce((n, r) => n + r[key], 0);
  const table = [['provider', 'project', 'listed', 'candidates', 'delete', 'keep'], ...rows.map((r) => [r.provider, r.project, r.listed, r.candidates, r.del, r.keep].map(String))];
  if (rows.length > 1) table.push(['total', '', ...[sum('listed'), sum('candidates'), sum('del'), sum('keep')].map(String)]);
  const widths = table[0]?.map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length))) ?? [];
  for (const r of table) lines.push(r.map((cell, i) => (i < 2 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ').trimEnd());
  for (const s of stats) lines.push(...targetNotes(s).map((n) => `  ${s.provider} ${s.target}: ${n}`));
  lines.push('', 'by reason:');
  const reasons = [...tally.byReason].sort((a, b) => b[1] - a[1]);
  for (const [reason, n] of reasons) lines.push(`${String(n).padStart(10)}  ${reason}`);
  if (tally.sample.length > 0) {
    lines.push('', 'sample (the first rows of each reason):');
    const order = reasons.map(([reason]) => reason);
    const sample = [...tally.sample].sort((a, b) => order.indexOf(reasonKey(a)) - order.indexOf(reasonKey(b)));
    for (const row of sample) lines.push(`  ${row.provider} ${row.target} ${row.id}${row.name ? ` (${row.name})` : ''}  ${row.words}`);
  }
  lines.push('', options.output ? `every task: ${options.output}` : 'every task: task-janitor plan --output <file> (text), with --json for JSON lines');
  return lines.join('\n');
}

function targetNotes(s: TargetStats): string[] {
  const notes: string[] = [];
  if (s.notReached) notes.push('NOT REACHED (signal or JANITOR_MAX_RUNTIME ended the plan before its listing)');
  if (s.refused !== undefined) notes.push(`REFUSED: ${s.refused}`);
  if (s.capped !== undefined) notes.push(`capped: ${s.heldBack} candidate(s) over ${s.capped} left for a later run`);
  if (s.listError) notes.push(`LIST FAILED: ${s.listError}`);
  if (s.formatDrift !== undefined) notes.push(`FORMAT DRIFT: ${s.formatDrift} of ${s.listed} listed records could not be judged; has the API changed?`);
  if (s.interrupted) notes.push('LISTING INTERRUPTED (signal or JANITOR_MAX_RUNTIME)');
  return notes;
}

/** A row as one text line of the full list: provider, project, task id and the words, tab-separated. */
export function rowLine(row: PlanRow): string {
  return `${row.provider}\t${row.target}\t${row.id}\t${row.words}`;
}

/**
 * The full decision path of one task, for `explain`: every check it passed, with the value it had,
 * then the one that decided (the policy's, P_KEEP_LATEST's or a valve's). The checks are re-told by
 * the same judgeTask the run used, so they cannot drift from it.
 */
export function explainDecision(config: Config, event: DecisionEvent, skewMs: number | undefined): string {
  const pc = config.providers.find((p) => p.name === event.provider);
  if (!pc) throw new Error(`provider ${event.provider} is not configured`);
  const steps: PolicyStep[] = [];
  // Re-judged only to hear the checks it passed; the decision is the run's own (P_KEEP_LATEST needs the whole listing).
  judgeTask(event.task, policyRuleFor(pc), event.now, event.firstSeenTerminal, (step) => steps.push(step));
  const { verdict } = event;
  const row = planRow(event, pc.retentionMs);
  const P = pc.name.toUpperCase();
  const { task } = event;
  const head = `${event.provider} ${event.target} task ${task.id}${task.name ? `, name ${task.name}` : ''}${task.type ? `, type ${task.type}` : ''}`;
  const checks: [string, string, string][] = steps.map((s) => [s.check, s.value, 'passed']);
  if (verdict.candidate) {
    checks.push([`${P}_KEEP_LATEST`, pc.keepLatest > 0 ? `${pc.keepLatest}: not among the newest ${pc.keepLatest}` : 'off', 'passed']);
    const held = event.valve && !event.valve.pass ? event.valve : undefined;
    const skew = skewMs === undefined ? 'no Date header seen' : `Date header ${formatDuration(Math.abs(skewMs))} ${skewMs >= 0 ? 'ahead of' : 'behind'} the local clock`;
    checks.push(held?.why === 'clock-skew' ? ['clock', held.detail, 'HELD BACK'] : ['clock', `${skew} (JANITOR_MAX_CLOCK_SKEW ${formatDuration(config.maxClockSkewMs)})`, 'passed']);
    if (held && held.why !== 'clock-skew') checks.push(['caps', held.detail, 'HELD BACK']);
    else checks.push(['caps', capsText(config, pc), 'passed']);
  } else if (verdict.reason === 'newest-kept') {
    checks.push([`${P}_KEEP_LATEST`, verdict.detail, 'KEPT']);
  } else {
    checks.push([checkNameOf(verdict.reason, P), verdict.detail, 'KEPT']);
  }
  const width = Math.max(...checks.map((c) => c[0].length));
  return [head, ...checks.map(([check, value, outcome]) => `  ${check.padEnd(width)}  ${outcome.padEnd(9)}  ${value}`), `decision: ${row.words}`].join('\n');
}

function capsText(config: Config, pc: ProviderConfig): string {
  const caps = [pc.maxDeletes, config.maxDeletes].filter((c) => c !== undefined).map((c) => c.variable);
  return caps.length > 0 ? `within ${caps.join(' and ')}` : 'no cap set';
}

function checkNameOf(reason: string, P: string): string {
  switch (reason) {
    case 'protected': return `${P}_EXCLUDE`;
    case 'not-included': return `${P}_INCLUDE`;
    case 'unknown-state': case 'state-not-selected': return 'state';
    case 'not-deletable-type': return 'type';
    case 'missing-timestamp': case 'invalid-timestamp': case 'future-timestamp': return 'age from';
    case 'too-recent': return 'age';
    case 'observed-recently': return 'first seen terminal';
    default: return reason;
  }
}
