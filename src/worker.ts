// BullMQ Worker per provider: re-check each job's tasks, delete them, map the outcome to BullMQ semantics.
import { UnrecoverableError, Worker, type Job, type Queue } from 'bullmq';
import { releaseClaims } from './claims.js';
import type { Config, ProviderConfig } from './config.js';
import { QUEUE_CONCURRENCY_MAX_AGE_MS, queueShareOf, type DeletePermits } from './delete-permits.js';
import type { Logger } from './logger.js';
import { firstSeenTerminal, forgetSightings } from './observations.js';
import { reportAttemptSettled } from './outcomes.js';
import { isInSelectedStates, judgeTask, policyRuleFor } from './policy.js';
import { PROVIDER_FACTS } from './providers/catalog.js';
import { asProviderError, ProviderError, type CloudTask, type Provider, type TaskFailureError, type TaskRead, type TaskRef } from './providers/provider.js';
import { concurrencyKeyFor, labelOf, PAUSE_ONLY_LIMITER, queueNameFor, type DeleteJobData, type DeleteJobResult, type JobTask, type SkipReason, type TaskFailure, type TaskResult } from './queue.js';
import { createRedisClient, describeRedis, redisClockMs, type RedisClient } from './redis.js';
import { isRedisError, redisCause, watchRedisErrors } from './redis-errors.js';
import { repeatLimitedLog } from './repeat-log.js';
import { clockSkewRefusal } from './valves.js';

export interface WorkerDeps {
  readonly config: Config;
  readonly providerConfig: ProviderConfig;
  readonly provider: Provider;
  readonly queue: Queue<DeleteJobData>;
  readonly logger: Logger;
  readonly now: () => Date;
  /** From workerConnection(): BullMQ duplicates it into the worker's own connections. */
  readonly connection: RedisClient;
  /** This process's delete permits for the provider (src/delete-permits.ts). */
  readonly permits: DeletePermits;
}

/** Starts the provider's worker; its concurrency (src/delete-permits.ts) and rate limit are the provider's own. */
export function startDeleteWorker(deps: WorkerDeps): Worker<DeleteJobData, DeleteJobResult> {
  const { config, providerConfig } = deps;
  // A settled job frees its tasks' claims, so a later run may enqueue them again (a task kept or failed).
  // Its own connection: whatever runs the worker (run, work, daemon) releases claims the same way.
  // Observed mode reads and drops first sightings through it too.
  const claims = createRedisClient(config.redis, 'admin'); // bounded: a release or read never hangs a worker's close
  watchRedisErrors(claims, () => undefined); // named by the release that fails
  const where = describeRedis(config.redis);
  const logReleaseFailure = repeatLimitedLog(deps.logger, 'warn');
  const logWorkerError = repeatLimitedLog(deps.logger, 'error');
  const logRedisFailure = repeatLimitedLog(deps.logger, 'warn');
  // A job that failed on Redis (a call budget, progress) is retried by BullMQ like any other, but its
  // reason names Redis, and a Redis outage logs one line per cause and window, not one per job.
  const redisFailed = (err: unknown) => {
    const cause = redisCause(err, claims);
    logRedisFailure(cause, { provider: providerConfig.name, redis: where, cause }, 'delete attempt failed on Redis; will retry');
    return new Error(`Redis at ${where}: ${cause}`);
  };
  const followQueue = queueConcurrencyFollower(claims, config.queuePrefix, providerConfig, deps.permits);
  const onAttemptSettled = (job: Job<DeleteJobData>, settled: readonly TaskResult[]) => reportAttemptSettled(worker, job, settled);
  const worker: Worker<DeleteJobData, DeleteJobResult> = new Worker<DeleteJobData, DeleteJobResult>(queueNameFor(providerConfig.name), (job) => processDeleteJob({
    ...deps, sightings: claims, redisFailed, followQueue, onAttemptSettled, closing: () => worker.closing !== undefined,
  }, job), {
    connection: deps.connection,
    prefix: config.queuePrefix,
    concurrency: deps.permits.jobSlots,
    // P_RATE_LIMIT is enforced per delete call by the providers' call budgets (src/limiter.ts); this
    // limiter only lets queue.rateLimit() hold every worker's fetches while the provider is paused.
    limiter: PAUSE_ONLY_LIMITER,
    // A job whose worker died (kill -9) is taken back by any live worker within about twice this.
    lockDuration: config.jobLockMs,
    stalledInterval: config.jobLockMs,
    autorun: true,
  });
  const releasing = new Set<Promise<void>>();
  worker.on('closed', () => { void Promise.allSettled(releasing).then(() => claims.disconnect()); });
  const release = (job: Job<DeleteJobData>) => {
    const done = releaseClaims(claims, config.queuePrefix, job.data.provider, job.data.target, job.data.tasks.map((t) => t.id), job.id ?? '')
      .catch((err: unknown) => logReleaseFailure(redisCause(err, claims), { provider: providerConfig.name, jobId: job.id, redis: where, cause: redisCause(err, claims) }, 'could not release claims; a later run takes them over'))
      .finally(() => releasing.delete(done));
    releasing.add(done);
  };
  worker.on('completed', release);
  worker.on('failed', (job, err) => {
    if (job && job.finishedOn !== undefined) {
      release(job);
      // The tasks that failed, not the whole job: those an attempt settled are in the audit trail.
      const settled = new Set((job.data.done ?? []).map((d) => d.id));
      deps.logger.error({ provider: providerConfig.name, target: job.data.target, taskIds: job.data.tasks.filter((t) => !settled.has(t.id)).map((t) => t.id), attempts: job.attemptsMade, reason: err.message }, 'delete failed');
    }
  });
  // BullMQ retries its Redis calls in a loop: one line per cause and window, not one per attempt.
  worker.on('error', (err) => logWorkerError(redisCause(err), { provider: providerConfig.name, redis: where, cause: redisCause(err) }, 'worker error'));
  return worker;
}


/**
 * Reads back the P stored by the last process to start on the prefix (at most once per
 * QUEUE_CONCURRENCY_MAX_AGE_MS, one read shared by the jobs starting meanwhile) and has the permits
 * follow it, so pods configured with different P still hold at most that P in all.
 */
function queueConcurrencyFollower(redis: RedisClient, prefix: string, providerConfig: ProviderConfig, permits: DeletePermits): () => Promise<void> {
  let readAt = Number.NEGATIVE_INFINITY;
  let reading: Promise<void> | undefined;
  return () => {
    if (Date.now() - readAt < QUEUE_CONCURRENCY_MAX_AGE_MS) return Promise.resolve();
    reading ??= redis.get(concurrencyKeyFor(prefix, providerConfig.name)).then((stored) => {
      readAt = Date.now();
      const share = queueShareOf(stored, providerConfig) ?? { total: providerConfig.concurrency, jobSlots: permits.jobSlots };
      permits.follow(share.total, share.jobSlots);
    }).finally(() => { reading = undefined; });
    return reading;
  };
}

/** What the processor needs besides the worker's deps: the sightings connection, how to name a Redis failure, following the queue's P, whether the worker is closing. */
type ProcessDeps = WorkerDeps & {
  readonly sightings: RedisClient; readonly redisFailed?: (err: unknown) => Error; readonly followQueue?: () => Promise<void>; readonly closing?: () => boolean;
  /**
   * Told, after every attempt (even one that throws), the tasks that attempt settled: the audit trail,
   * the metrics and the run's tracker (which counts them even when Redis loses the job's outcome).
   */
  readonly onAttemptSettled?: (job: Job<DeleteJobData>, settled: readonly TaskResult[]) => void;
};

/**
 * The processor. It throws on failure and never swallows: BullMQ owns retries. A job's tasks are
 * deleted in groups of what one delete call takes (one task, or Workspace's ten), each group re-read
 * just before its call, side by side as this process's delete permits allow; a task that fails does
 * not stop the others, and a retry redoes only the tasks not settled yet. Throttling stops the job
 * from starting more (the rest wait for the same back-off), and so does a closing worker: the deletes
 * in flight finish, the rest of the job goes back to the queue.
 */
export async function processDeleteJob(deps: ProcessDeps, job: Job<DeleteJobData>): Promise<DeleteJobResult> {
  const { provider, providerConfig, queue, permits } = deps;
  const data = job.data;
  // A job in Redis is input too: never act on one outside this worker's configured scope.
  if (data.provider !== provider.name || !providerConfig.targets.includes(data.target)) {
    throw new UnrecoverableError(`out of scope: ${data.provider} target ${data.target} is not configured for this worker`);
  }
  const log = deps.logger.child({ provider: provider.name, target: data.target, jobId: job.id, attempt: job.attemptsMade + 1 });
  const done: TaskResult[] = [...(data.done ?? [])];
  const settled = new Set(done.map((d) => d.id));
  // Retries stay per task: one the provider refused for good in an earlier attempt is not sent
  // again while the job retries the others; its failure is carried to the job's end.
  const failures: TaskFailureError[] = (data.failures ?? []).filter((f) => f.permanent === true && !settled.has(f.id)).map((f) => ({
    id: f.id, error: new ProviderError('permanent', f.message ?? 'refused for good by the provider in an earlier attempt', { ...(f.code ? { code: f.code } : {}), ...(f.requestId ? { requestId: f.requestId } : {}) }),
  }));
  const refused = new Set(failures.map((f) => f.id));
  const pending = data.tasks.filter((t) => !settled.has(t.id) && !refused.has(t.id));
  const perCall = PROVIDER_FACTS[provider.name].maxBatchSize;
  const running = new Set<Promise<void>>();
  let thrown: { readonly err: unknown } | undefined; // a Redis failure: rethrown once the groups in flight have settled
  const stopped = () => thrown !== undefined || failures.some((f) => f.error.kind === 'throttled') || deps.closing?.() === true;
  let started = 0;
  try {
    await deps.followQueue?.();
  } catch (err) {
    throw deps.redisFailed && isRedisError(err) ? deps.redisFailed(err) : err;
  }
  permits.jobStarted();
  try {
    while (started < pending.length && !stopped()) {
      await permits.acquire();
      if (stopped()) {
        permits.release();
        break;
      }
      const group = pending.slice(started, started + perCall);
      started += group.length;
      const call: Promise<void> = deleteGroup(deps, data, group, done, failures, log)
        .catch((err: unknown) => { thrown ??= { err }; })
        .finally(() => { permits.release(); running.delete(call); });
      running.add(call);
    }
  } finally {
    await Promise.all(running);
    await permits.jobFinished();
    if (done.length > (data.done?.length ?? 0)) deps.onAttemptSettled?.(job, done.slice(data.done?.length ?? 0));
  }
  if (thrown) {
    // Best effort (Redis is failing): a retry must not redo what settled.
    await keepProgress(job, done, failures).catch(() => undefined);
    throw thrown.err;
  }
  if (failures.length > 0 || started < pending.length) await keepProgress(job, done, failures);
  await forgetDeleted(deps, data.target, done, log);
  if (failures.length > 0) await throwFailure(queue, failures.map((f) => f.error), log);
  if (started < pending.length) {
    // Stopped by shutdown: back to the queue without spending an attempt; what settled is kept in `done`.
    log.info({ settled: done.length, left: data.tasks.length - done.length }, 'job left for another worker at shutdown');
    throw Worker.RateLimitError();
  }
  return { results: done };
}

/** Re-reads each task of one delete call's group, then deletes those still selected; outcomes go to `done`, failures to `failures`. */
async function deleteGroup(
  deps: ProcessDeps, data: DeleteJobData, group: readonly JobTask[], done: TaskResult[], failures: TaskFailureError[], log: Logger,
): Promise<void> {
  const toDelete: JobTask[] = [];
  // Where the API reads several tasks in one call (Workspace: their parent job's listing), the group
  // is re-read at once: fewer read calls, and the whole group's state read at one instant.
  let reads: ReadonlyMap<string, TaskRead> | undefined;
  if (group.length > 1 && deps.provider.getTasks) {
    try {
      reads = await deps.provider.getTasks(data.target, group.map(taskRefOf));
    } catch (err) {
      if (deps.redisFailed && isRedisError(err)) throw deps.redisFailed(err);
      const error = asProviderError(err);
      failures.push(...group.map((t) => ({ id: t.id, error })));
      return;
    }
  }
  for (const task of group) {
    let skip: TaskResult | undefined;
    try {
      skip = await recheck(deps, data, task, reads?.get(task.id));
    } catch (err) {
      if (deps.redisFailed && isRedisError(err)) throw deps.redisFailed(err);
      // A failed re-read is a provider failure like a failed delete: the same mapping, one place.
      const error = asProviderError(err);
      failures.push({ id: task.id, error });
      if (error.kind === 'throttled') return;
      continue;
    }
    if (skip) {
      done.push(skip);
      log.info({ taskId: task.id, reason: skip.reason, detail: skip.detail }, skip.result === 'gone' ? 'task already gone' : 'task kept after re-check');
    } else {
      toDelete.push(task);
    }
  }
  if (toDelete.length === 0) return;
  const byId = new Map(toDelete.map((t) => [t.id, t]));
  try {
    const result = await deps.provider.deleteTasks(data.target, toDelete.map((t) => t.id));
    failures.push(...result.failures);
    for (const outcome of result.outcomes) {
      done.push(outcome);
      const task = byId.get(outcome.id);
      log.info({
        taskId: outcome.id, state: task?.states.join('+'), label: task && labelOf(task), ageMs: task ? deps.now().getTime() - Date.parse(task.agedFrom.at) : undefined,
        requestId: outcome.requestId,
      }, outcome.result === 'deleted' ? 'task deleted' : 'task already gone');
    }
  } catch (err) {
    if (deps.redisFailed && isRedisError(err)) throw deps.redisFailed(err);
    failures.push(...toDelete.map((t) => ({ id: t.id, error: asProviderError(err) })));
  }
  const onRedis = failures.find((f) => isRedisError(f.error));
  if (onRedis && deps.redisFailed) throw deps.redisFailed(onRedis.error);
}

/** Observed mode: a deleted (or gone) task's first sighting is dropped; housekeeping only, so a failure is logged, not thrown. */
async function forgetDeleted(deps: WorkerDeps & { readonly sightings: RedisClient }, target: string, done: readonly TaskResult[], log: Logger): Promise<void> {
  if (deps.providerConfig.ageFrom !== 'observed') return;
  const ids = done.filter((d) => d.result !== 'skipped').map((d) => d.id);
  await forgetSightings(deps.sightings, deps.config.queuePrefix, deps.provider.name, target, ids)
    .catch((err: unknown) => log.warn({ err }, 'could not drop first sightings of deleted tasks; the next complete listing does'));
}

/**
 * Before a failed attempt is thrown: keeps the tasks already settled (a retry must not redo them)
 * and the failures with the provider's code and request id (the audit trail of a permanent failure
 * needs them; a permanent one also keeps its message, and is not sent again). Throttling writes
 * nothing: it is no failure, and it comes in storms.
 */
async function keepProgress(job: Job<DeleteJobData>, done: readonly TaskResult[], failures: readonly TaskFailureError[]): Promise<void> {
  const data = job.data;
  const failed = failures.some((f) => f.error.kind !== 'throttled');
  if (done.length === (data.done?.length ?? 0) && !failed) return;
  const taskFailures: TaskFailure[] = failed ? failures.map(({ id, error }) => ({
    id, ...(error.details.code ? { code: error.details.code } : {}), ...(error.details.requestId ? { requestId: error.details.requestId } : {}),
    message: error.message, ...(error.kind === 'permanent' ? { permanent: true as const } : {}),
  })) : [...(data.failures ?? [])];
  await job.updateData({ ...data, done, ...(taskFailures.length > 0 ? { failures: taskFailures } : {}) });
}

/**
 * Decides one task just before its delete: the job's snapshot must still pass today's policy, then
 * the task is read again and the FRESH record is judged. Where the API cannot read it back, a delete
 * may only act on a listing younger than JANITOR_MAX_SNAPSHOT_AGE. Undefined means "delete it".
 */
async function recheck(deps: WorkerDeps & { readonly sightings: RedisClient }, data: DeleteJobData, task: JobTask, prefetched?: TaskRead): Promise<TaskResult | undefined> {
  const rule = policyRuleFor(deps.providerConfig);
  const listedAge = new Date(task.agedFrom.at);
  const snapshot: CloudTask = {
    id: task.id, states: task.states, agedFrom: { kind: 'ok', field: task.agedFrom.field, at: listedAge },
    ...(task.name ? { name: task.name } : {}), ...(task.type ? { type: task.type } : {}),
  };
  // Observed mode: the sighting as it stands now. A listing that saw the task running again since
  // dropped it, and then the task is kept (no record counts as seen terminal just now).
  const firstSeen = rule.ageFrom === 'observed'
    ? await firstSeenTerminal(deps.sightings, deps.config.queuePrefix, deps.provider.name, data.target, task.id)
    : undefined;
  const verdict = judgeTask(snapshot, rule, deps.now(), firstSeen);
  if (!verdict.candidate) return skipped(task.id, 'changed-before-delete', `${verdict.reason}: ${verdict.detail}`);
  const read = prefetched ?? await deps.provider.getTask(data.target, taskRefOf(task));
  switch (read.kind) {
    case 'gone':
      return { id: task.id, result: 'gone', detail: 'not found on re-read' };
    case 'inconclusive':
      return skipped(task.id, 'reread-inconclusive', read.reason);
    case 'no-read': {
      // On Redis's clock, as the producer stamped the listing: a worker clock running behind would
      // make an old listing look recent.
      const ageMs = await redisClockMs(deps.sightings) - Date.parse(data.listedAt ?? '');
      if (Number.isFinite(ageMs) && ageMs >= 0 && ageMs <= deps.config.maxSnapshotAgeMs) return undefined;
      const age = Number.isFinite(ageMs) ? `${Math.floor(ageMs / 1000)}s old` : 'of unknown age';
      return skipped(task.id, 'stale-snapshot', `no re-read (${read.reason}) and the listing is ${age}, beyond JANITOR_MAX_SNAPSHOT_AGE`);
    }
    case 'found': {
      // A gateway or cache that answers for another task must not vouch for this one.
      if (read.task.id !== task.id) return skipped(task.id, 'reread-inconclusive', `the re-read answered for another task (${JSON.stringify(read.task.id)})`);
      // The worker may run on another machine than the producer: its own clock is checked against
      // the provider's on this very read, as the producer's was on the listing.
      const skew = clockSkewRefusal(deps.provider.serverClock?.readSkewMs?.(), deps.config.maxClockSkewMs);
      if (skew !== undefined) return skipped(task.id, 'clock-skew', skew);
      // Age from the later of the fresh record's time and the listed one (observed mode may have
      // moved it later): a re-read can only ever keep more.
      const fresh = read.task.agedFrom;
      const agedFrom = fresh.kind === 'ok' && fresh.at.getTime() < listedAge.getTime() ? snapshot.agedFrom : fresh;
      if (rule.ageFrom === 'observed' && !isInSelectedStates(read.task, rule)) {
        // Running again (restarted, resumed, retried): its clock starts afresh when it finishes.
        await forgetSightings(deps.sightings, deps.config.queuePrefix, deps.provider.name, data.target, [task.id]);
      }
      const again = judgeTask({ ...read.task, agedFrom }, rule, deps.now(), firstSeen);
      return again.candidate ? undefined : skipped(task.id, 'changed-before-delete', `${again.reason}: ${again.detail}`);
    }
  }
}

function taskRefOf(task: JobTask): TaskRef {
  return { id: task.id, ...(task.lookup ? { lookup: task.lookup } : {}) };
}

function skipped(id: string, reason: SkipReason, detail: string): TaskResult {
  return { id, result: 'skipped', reason, detail };
}

/**
 * Maps provider failures to BullMQ: throttling re-queues without spending an attempt (after slowing
 * the whole provider queue down), permanent errors fail at once, anything else is retried.
 */
async function throwFailure(queue: Queue<DeleteJobData>, errors: readonly ProviderError[], log: Logger): Promise<never> {
  const throttled = errors.find((e) => e.kind === 'throttled');
  if (throttled) {
    // Redis refuses a zero expiry; Retry-After: 0 still means "back off a little".
    const waitMs = Math.max(throttled.details.retryAfterMs ?? 1_000, 50);
    log.warn({ code: throttled.details.code, waitMs }, 'provider throttled; slowing down');
    await queue.rateLimit(waitMs);
    throw Worker.RateLimitError();
  }
  const message = errors.map((e) => e.message).filter((m, i, all) => all.indexOf(m) === i).join('; ');
  if (errors.every((e) => e.kind === 'permanent')) throw new UnrecoverableError(message);
  log.warn({ reason: message }, 'delete attempt failed; will retry');
  throw new Error(message);
}
