// Blast-radius caps (P_MAX_DELETES, JANITOR_MAX_DELETES): a counting listing decides, before anything
// is enqueued, whether each provider may delete all its candidates, the oldest N, or nothing.
import type { Config, DeleteCap, ProviderConfig } from './config.js';
import type { ProviderValves } from './judging.js';
import type { Logger } from './logger.js';
import type { SightingAccess } from './observations.js';
import { enqueueCandidates } from './producer.js';
import type { ProviderName } from './providers/catalog.js';
import type { Provider } from './providers/provider.js';
import type { TargetStats } from './summary.js';
import { CapGate, capLimit, describeCap, TimeList } from './valves.js';

/** What the counting listing found for one provider. */
interface ProviderCount {
  readonly listed: number;
  readonly candidates: number;
  /** Candidate times (ms), only in truncate mode: 8 bytes each, the one thing kept per candidate. */
  readonly times: TimeList | undefined;
  /** Why the count is not complete (a target's listing failed or was cut short). */
  readonly incomplete?: string;
  /** The counting listing's own per-target stats: the report of a provider that is refused without a second listing. */
  readonly stats: readonly TargetStats[];
}

/** The valves of every provider, and what the counting listing found per target (empty without caps). */
export interface ValveDecision {
  readonly valves: ReadonlyMap<ProviderName, ProviderValves>;
  readonly counted: ReadonlyMap<ProviderName, readonly TargetStats[]>;
}

/** Whether any cap is configured: only then does a run list twice. */
export function capsConfigured(config: Config): boolean {
  return config.maxDeletes !== undefined || config.providers.some((p) => p.maxDeletes !== undefined);
}

/**
 * Decides every provider's valves for the run. The cap needs the full count before the first enqueue,
 * so the providers are listed once to count (keeping only counters, and in truncate mode one 8-byte
 * time per candidate to find the oldest N), then listed again by the producer, which enqueues through
 * the gates decided here. A provider refused here need not be listed again: its counting stats report it. Two listings cost twice the read calls, but memory stays bounded whatever
 * the number of tasks (holding the candidates themselves would not fit a million into the heap).
 */
export async function decideValves(
  config: Config, providers: ReadonlyMap<ProviderName, Provider>,
  deps: { readonly now: () => Date; readonly signal?: AbortSignal; readonly logger: Logger; readonly sightings?: SightingAccess },
): Promise<ValveDecision> {
  const valves = new Map<ProviderName, ProviderValves>(config.providers.map((pc) => [pc.name, { gates: [], maxClockSkewMs: config.maxClockSkewMs }]));
  if (!capsConfigured(config)) return { valves, counted: new Map() };
  const truncate = config.maxDeletesMode === 'truncate';
  const counts = new Map(await Promise.all(config.providers.map(async (pc) => {
    const provider = providers.get(pc.name);
    if (!provider) throw new Error(`provider ${pc.name} was not built`);
    return [pc.name, await countCandidates(config, pc, provider, truncate, deps)] as const;
  })));

  // Per provider first: its own cap, on its own listing.
  const admitted = new Map<ProviderName, { count: number; times: Float64Array | undefined }>();
  for (const pc of config.providers) {
    const count = counts.get(pc.name) as ProviderCount;
    const set = (v: Partial<ProviderValves>) => valves.set(pc.name, { ...(valves.get(pc.name) as ProviderValves), ...v });
    const capped = pc.maxDeletes ?? config.maxDeletes;
    if (count.incomplete !== undefined && capped) {
      set({ refusedBecause: `the counting listing for ${capped.variable} did not finish (${count.incomplete}), so the cap cannot be checked` });
      continue;
    }
    const times = count.times?.values();
    if (!pc.maxDeletes) {
      admitted.set(pc.name, { count: count.candidates, times });
      continue;
    }
    const limit = capLimit(pc.maxDeletes, count.listed);
    const label = describeCap(pc.maxDeletes, count.listed);
    if (count.candidates <= limit) {
      set({ gates: [new CapGate(limit, label)] });
      admitted.set(pc.name, { count: count.candidates, times });
    } else if (truncate && times) {
      set({ gates: [CapGate.oldest(limit, label, times)] });
      admitted.set(pc.name, { count: limit, times: Float64Array.from(times).sort().subarray(0, limit) });
    } else {
      set({ refusedBecause: overCap(count.candidates, pc.name, pc.maxDeletes, count.listed) });
    }
  }

  // Then the whole run: what the providers may still delete, together.
  const runCap = config.maxDeletes;
  if (runCap) {
    const listed = [...counts.values()].reduce((n, c) => n + c.listed, 0);
    const total = [...admitted.values()].reduce((n, a) => n + a.count, 0);
    const limit = capLimit(runCap, listed);
    const label = describeCap(runCap, listed);
    let gate: CapGate | undefined;
    if (total <= limit) gate = new CapGate(limit, label);
    else if (truncate) gate = CapGate.oldest(limit, label, concat([...admitted.values()].map((a) => a.times ?? new Float64Array())));
    for (const name of admitted.keys()) {
      const current = valves.get(name) as ProviderValves;
      valves.set(name, gate ? { ...current, gates: [...current.gates, gate] } : { ...current, refusedBecause: overCap(total, 'the run', runCap, listed) });
    }
  }
  for (const [name, v] of valves) {
    const count = counts.get(name) as ProviderCount;
    deps.logger.info({ provider: name, listed: count.listed, candidates: count.candidates, refused: v.refusedBecause, caps: v.gates.map((g) => g.describe()) }, 'candidates counted for the deletion caps');
  }
  return { valves, counted: new Map([...counts].map(([name, count]) => [name, count.stats])) };
}

function overCap(candidates: number, who: string, cap: DeleteCap, listed: number): string {
  return `${candidates} deletion candidates in ${who} exceed ${describeCap(cap, listed)} (JANITOR_MAX_DELETES_MODE=refuse: nothing of it is deleted)`;
}

function concat(arrays: readonly Float64Array[]): Float64Array {
  const all = new Float64Array(arrays.reduce((n, a) => n + a.length, 0));
  let offset = 0;
  for (const a of arrays) {
    all.set(a, offset);
    offset += a.length;
  }
  return all;
}

/**
 * The counting listing of one provider: the producer's own dry run (same listing, policy, keep-latest;
 * its per-candidate log lines held back), keeping the counts and, in truncate mode, each candidate's time.
 */
async function countCandidates(
  config: Config, pc: ProviderConfig, provider: Provider, truncate: boolean,
  deps: { readonly now: () => Date; readonly signal?: AbortSignal; readonly sightings?: SightingAccess; readonly logger: Logger },
): Promise<ProviderCount> {
  const times = truncate ? new TimeList() : undefined;
  // Only warnings and errors of the counting listing are logged (the dry run's per-task lines are not its job).
  const logger = deps.logger.levelVal >= 40 ? deps.logger : deps.logger.child({ listing: 'counting for the deletion caps' }, { level: 'warn' });
  const stats = await enqueueCandidates({
    config, provider, providerConfig: pc, logger, now: deps.now, runId: 'count',
    ...(deps.signal ? { signal: deps.signal } : {}),
    // Observed mode: counting reads the sightings and records none; the enqueueing listing records them.
    ...(deps.sightings ? { sightings: { redis: deps.sightings.redis, access: 'read' as const } } : {}),
    onDecision: (event) => { if (event.verdict.candidate) times?.push(event.verdict.agedFrom.at.getTime()); },
  });
  const unfinished = stats.find((s) => s.listError !== undefined || s.interrupted === true || s.notReached === true);
  return {
    listed: stats.reduce((n, s) => n + s.listed, 0), candidates: stats.reduce((n, s) => n + s.candidates, 0), times, stats,
    ...(unfinished ? { incomplete: `${unfinished.target}: ${unfinished.listError ?? 'interrupted'}` } : {}),
  };
}
