// Lists each target page by page, applies the policy, claims and enqueues candidates with addBulk.
import type { Queue } from 'bullmq';
import type { Config, ProviderConfig } from './config.js';
import type { Logger } from './logger.js';
import { judgeListing, openValves, passValves, type DecisionEvent, type ProviderValves, type ValveOutcome } from './judging.js';
import { dropSightings, pageSightings, sweepSightings, type SightingAccess } from './observations.js';
import { policyRuleFor, type PolicyRule } from './policy.js';
import type { CloudTask, Provider } from './providers/provider.js';
import { claimTasks, confirmClaims, releaseClaims } from './claims.js';
import { tasksPerJobFor } from './delete-permits.js';
import { DELETE_JOB_NAME, jobBelongsToRun, jobIdFor, jobOptionsFor, type DeleteJobData, type JobTask } from './queue.js';
import { describeRedis, type RedisClient } from './redis.js';
import { describeRedisError, isRedisError } from './redis-errors.js';
import { scopeOf } from './scope.js';
import { countInto, formatDriftOf, newTargetStats, type TargetStats } from './summary.js';
import { listingClockRefusal } from './valves.js';

export interface ProducerDeps {
  readonly config: Config;
  readonly provider: Provider;
  readonly providerConfig: ProviderConfig;
  readonly logger: Logger;
  readonly now: () => Date;
  readonly runId: string;
  /** Absent in a dry run: nothing is claimed or enqueued. */
  readonly queue?: Queue<DeleteJobData>;
  readonly redis?: RedisClient;
  /**
   * Where observed-mode providers keep their first sightings: `record` (a real run: read and write),
   * `read` (a dry run with Redis: reads what real runs recorded, writes nothing). Absent: no record
   * can be known, so every terminal task of an observed-mode provider counts as seen just now.
   */
  readonly sightings?: SightingAccess;
  readonly signal?: AbortSignal;
  /** The provider's cap gates, refusal and clock bound; absent: no cap, clock checked against JANITOR_MAX_CLOCK_SKEW. */
  readonly valves?: ProviderValves;
  /** Told of every listed task's decision (plan, explain). */
  readonly onDecision?: (event: DecisionEvent) => void;
  /** Awaited after each page's decisions: a consumer of onDecision that cannot keep up (plan writing to a slow pipe) holds the listing. */
  readonly afterPage?: () => Promise<void>;
  /** Told of every job that holds a candidate of this run: its own (before they are added) and other runs' pending jobs. */
  readonly onJob?: (job: HeldJob, stats: TargetStats) => void;
  /** Told of each target's counters as its listing starts (a forced exit reports them as they are). */
  readonly onTargetStarted?: (stats: TargetStats) => void;
  /** Told when an own job announced by `onJob` could not be added after all. */
  readonly onJobNotAdded?: (jobId: string) => void;
  /** Told when own jobs announced by `onJob` are in Redis: from then on, missing from Redis means lost. */
  readonly onJobsAdded?: (jobIds: readonly string[]) => void;
}

/** A delete job that holds some of this run's candidates. */
export interface HeldJob {
  readonly id: string;
  /** The ids of this run's candidates it holds (another run's batch may hold more). */
  readonly taskIds: readonly string[];
  /** Enqueued by this run (false: by an earlier or simultaneous run, still pending). */
  readonly own: boolean;
}

const ADD_BULK_CHUNK = 500;

/**
 * Lists and enqueues every target of one provider, up to P_LIST_CONCURRENCY targets side by side, in
 * the day's rotated order; list failures are recorded per target, not thrown. Stats keep the
 * configured order.
 */
export async function enqueueCandidates(deps: ProducerDeps): Promise<TargetStats[]> {
  const { targets, listConcurrency } = deps.providerConfig;
  const order = listingOrder(targets, deps.now());
  const done = new Map<string, TargetStats>();
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(listConcurrency, order.length) }, async () => {
    for (let target = order[next++]; target !== undefined && !deps.signal?.aborted; target = order[next++]) {
      done.set(target, await enqueueTarget(deps, target));
    }
  }));
  // Every configured target is reported: one the deadline kept the run from is marked, not dropped.
  return targets.map((t) => done.get(t) ?? notReached(deps, t));
}

function notReached(deps: ProducerDeps, target: string): TargetStats {
  const stats = newTargetStats(deps.provider.name, target, Date.now(), scopeOf(deps.providerConfig.scopes, target));
  stats.notReached = true;
  return stats;
}

/**
 * The order targets are listed in: rotated by one each day, so that when the run deadline cuts a
 * listing short it is not the same project that is never reached, day after day.
 */
export function listingOrder<T>(targets: readonly T[], now: Date): T[] {
  if (targets.length === 0) return [];
  const start = Math.floor(now.getTime() / 86_400_000) % targets.length;
  return [...targets.slice(start), ...targets.slice(0, start)];
}

async function enqueueTarget(deps: ProducerDeps, target: string): Promise<TargetStats> {
  const { provider, providerConfig, logger } = deps;
  const stats = newTargetStats(provider.name, target, Date.now(), scopeOf(providerConfig.scopes, target));
  const valves = deps.valves ?? openValves(deps.config.maxClockSkewMs);
  deps.onTargetStarted?.(stats);
  const log = logger.child({ provider: provider.name, target });
  const listingStartedAt = deps.now();
  let complete = false;
  try {
    const rule = policyRuleFor(providerConfig);
    await forgetOutsideObservedMode(deps, rule, target);
    const sightings = pageSightings(deps.sightings, deps.config.queuePrefix, provider.name, target, rule);
    const listing = judgeListing({
      provider, target, rule, keepLatest: providerConfig.keepLatest, now: deps.now, maxClockSkewMs: valves.maxClockSkewMs,
      ...(sightings ? { sightings } : {}), ...(deps.signal ? { signal: deps.signal } : {}),
      onWarning: ({ event, message, fields }) => {
        stats.listWarnings.push(message);
        log.warn(fields, event);
      },
    });
    for await (const { listed, decisions, now } of listing) {
      stats.listed += listed;
      const candidates: JobTask[] = [];
      // The page's oldest listing among its candidates (P_KEEP_LATEST releases tasks listed on earlier
      // pages): a job's snapshot is never younger than the listing of any task it carries.
      let listedAt = now;
      for (const decision of decisions) {
        const { task, verdict } = decision;
        if (!verdict.candidate) {
          deps.onDecision?.({ ...decision, provider: provider.name, target, now });
          countInto(stats.skipped, verdict.reason);
          log.debug({ taskId: task.id, reason: verdict.reason, detail: verdict.detail }, 'task kept');
          continue;
        }
        stats.candidates += 1;
        const at = verdict.agedFrom.at.getTime();
        const valve = passValves(valves, provider, at);
        deps.onDecision?.({ ...decision, provider: provider.name, target, valve, now });
        if (!valve.pass) {
          heldBack(stats, valve);
          continue;
        }
        candidates.push(toJobTask(task, verdict.agedFrom));
        if (decision.listedAt < listedAt) listedAt = decision.listedAt;
        if (!deps.queue) log.info({ taskId: task.id, state: task.states.join('+'), ageMs: verdict.ageMs, label: task.label }, 'task would be deleted');
      }
      if (deps.queue && deps.redis && candidates.length > 0) await enqueuePage(deps, deps.queue, deps.redis, target, candidates, stats, listedAt);
      await deps.afterPage?.();
    }
    complete = !deps.signal?.aborted;
  } catch (err) {
    if (deps.signal?.aborted) {
      // Stopped by SIGTERM or JANITOR_MAX_RUNTIME, not by the provider: what was enqueued stands.
      stats.interrupted = true;
      log.warn('listing interrupted by shutdown or the run deadline');
    } else if (isRedisError(err)) {
      // The queue, a claim or a call budget could not be written: Redis failed, not the provider's list API.
      stats.redisError = describeRedisError(describeRedis(deps.config.redis), err, deps.redis);
      log.error({ cause: stats.redisError }, 'enqueueing stopped: Redis failed');
    } else {
      stats.listError = (err as Error).message;
      log.error({ err }, 'listing failed');
    }
  }
  // Not after a listing on a disputed clock: it refreshed no record, and the sweep would drop them all.
  const clockTrusted = listingClockRefusal(provider, valves.maxClockSkewMs) === undefined;
  if (complete && clockTrusted) await sweepAfterCompleteListing(deps, policyRuleFor(providerConfig), target, listingStartedAt, log);
  stats.listedAt = Date.now();
  stats.formatDrift = formatDriftOf(stats);
  if (stats.formatDrift !== undefined) {
    log.error({ listed: stats.listed, undecidable: stats.formatDrift, skipped: stats.skipped }, 'format drift: most listed records could not be judged; has the API changed?');
  }
  if (stats.refused !== undefined) log.error({ candidates: stats.candidates, reason: stats.refused }, 'deletion refused by a safety valve');
  if (stats.capped !== undefined) log.warn({ candidates: stats.candidates, heldBack: stats.heldBack, cap: stats.capped }, 'candidates over the deletion cap left for a later run');
  log.info({ listed: stats.listed, candidates: stats.candidates, enqueued: stats.enqueued, alreadyQueued: stats.alreadyQueued, skipped: stats.skipped }, 'target listed');
  return stats;
}

/** Counts a candidate a valve held back: a refusal (cap in refuse mode, clock skew) fails the run, a truncating cap does not. */
function heldBack(stats: TargetStats, outcome: Exclude<ValveOutcome, { pass: true }>): void {
  stats.heldBack += 1;
  if (outcome.why === 'over-cap') stats.capped = outcome.cap;
  else stats.refused = outcome.detail;
}

/** Documented mode keeps no sightings: a real run drops any left from observed mode (they were not kept up to date). */
async function forgetOutsideObservedMode(deps: ProducerDeps, rule: PolicyRule, target: string): Promise<void> {
  if (rule.ageFrom === 'documented' && deps.sightings?.access === 'record') await dropSightings(deps.sightings.redis, deps.config.queuePrefix, deps.provider.name, target);
}

/** Only after a complete listing: records of tasks it did not see terminal are dropped (deleted, vanished). */
async function sweepAfterCompleteListing(deps: ProducerDeps, rule: PolicyRule, target: string, listingStartedAt: Date, log: Logger): Promise<void> {
  if (rule.ageFrom !== 'observed' || deps.sightings?.access !== 'record') return;
  try {
    const dropped = await sweepSightings(deps.sightings.redis, deps.config.queuePrefix, deps.provider.name, target, listingStartedAt);
    if (dropped > 0) log.info({ dropped }, 'dropped the sightings of tasks no longer listed');
  } catch (err) {
    // Only housekeeping: a record left behind is dropped by the next complete listing.
    log.warn({ err }, 'could not drop the sightings of tasks no longer listed');
  }
}

function toJobTask(task: CloudTask, agedFrom: { readonly field: string; readonly at: Date }): JobTask {
  return {
    id: task.id, states: task.states, agedFrom: { field: agedFrom.field, at: agedFrom.at.toISOString() },
    // The label only when neither the type nor the name already says it (labelOf reads it back).
    ...(task.label && task.label !== (task.type ?? task.name) ? { label: task.label } : {}), ...(task.lookup ? { lookup: task.lookup } : {}),
    ...(task.name ? { name: task.name } : {}), ...(task.type ? { type: task.type } : {}),
  };
}

async function enqueuePage(
  deps: ProducerDeps, queue: Queue<DeleteJobData>, redis: RedisClient, target: string, candidates: readonly JobTask[], stats: TargetStats, listedAt: Date,
): Promise<void> {
  const { provider, providerConfig, config, runId } = deps;
  const prefix = config.queuePrefix;
  const planned: { jobId: string; batch: JobTask[] }[] = [];
  // A job costs about a kilobyte of Redis and several round trips whatever it holds: several tasks share it.
  const perJob = tasksPerJobFor(providerConfig);
  for (let i = 0; i < candidates.length; i += perJob) {
    const batch = candidates.slice(i, i + perJob);
    planned.push({ jobId: jobIdFor(provider.name, target, batch.map((t) => t.id), runId), batch });
  }
  // The whole page is claimed in one atomic script: no other producer can slip in between.
  const { holders, redisMs } = await claimTasks(redis, prefix, provider.name, target, planned.flatMap((p) => p.batch.map((t) => ({ taskId: t.id, jobId: p.jobId }))));
  // The listing time on Redis's clock, which the worker measures the snapshot's age on: a worker on
  // another machine, whose clock runs behind this one's, must not see an old listing as a recent one.
  const listedOnRedis = new Date(redisMs - Math.max(0, Date.now() - listedAt.getTime()));
  const heldElsewhere = new Map<string, string[]>();
  let k = 0;
  const jobs = planned.map(({ jobId, batch }) => {
    // Keep the listed order: the job's tasks are deleted in it.
    const claimed = batch.filter((task) => {
      const holder = holders[k++];
      if (holder === undefined) return true;
      if (jobBelongsToRun(holder, runId)) stats.candidates -= 1; // listed twice (pages shifted while deleting)
      else heldElsewhere.set(holder, [...(heldElsewhere.get(holder) ?? []), task.id]);
      return false;
    });
    return { name: DELETE_JOB_NAME, data: { provider: provider.name, target, runId, tasks: claimed, listedAt: listedOnRedis.toISOString() }, opts: { ...jobOptionsFor(providerConfig, config), jobId } };
  }).filter((job) => job.data.tasks.length > 0);
  for (const [jobId, taskIds] of heldElsewhere) {
    stats.alreadyQueued += taskIds.length;
    deps.onJob?.({ id: jobId, taskIds, own: false }, stats);
  }
  for (let i = 0; i < jobs.length; i += ADD_BULK_CHUNK) {
    const chunk = jobs.slice(i, i + ADD_BULK_CHUNK);
    const requests = chunk.flatMap((j) => j.data.tasks.map((t) => ({ taskId: t.id, jobId: j.opts.jobId })));
    // Tracked before they exist, so an outcome can never arrive before the run listens for it.
    for (const j of chunk) deps.onJob?.({ id: j.opts.jobId, taskIds: j.data.tasks.map((t) => t.id), own: true }, stats);
    try {
      await queue.addBulk(chunk);
    } catch (err) {
      for (const j of chunk) deps.onJobNotAdded?.(j.opts.jobId);
      await Promise.all(chunk.map((j) => releaseClaims(redis, prefix, provider.name, target, j.data.tasks.map((t) => t.id), j.opts.jobId))).catch(() => undefined);
      throw err;
    }
    deps.onJobsAdded?.(chunk.map((j) => j.opts.jobId));
    await confirmClaims(redis, prefix, provider.name, target, requests);
    stats.enqueued += requests.length;
  }
}
