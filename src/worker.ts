// BullMQ Worker per provider: re-check each job's tasks, delete them, map the outcome to BullMQ semantics.
import { UnrecoverableError, Worker, type Job, type Queue } from 'bullmq';
import type { Config, ProviderConfig } from './config.js';
import type { Logger } from './logger.js';
import { judgeTask, policyRuleFor } from './policy.js';
import { PROVIDER_FACTS } from './providers/catalog.js';
import { asProviderError, type CloudTask, type Provider, type ProviderError } from './providers/provider.js';
import { queueNameFor, type DeleteJobData, type DeleteJobResult, type JobTask, type TaskResult } from './queue.js';
import { redactRedisUrl } from './redis.js';
import type { Rate } from './units.js';

export interface WorkerDeps {
  readonly config: Config;
  readonly providerConfig: ProviderConfig;
  readonly provider: Provider;
  readonly queue: Queue<DeleteJobData>;
  readonly logger: Logger;
  readonly now: () => Date;
}

/** Starts the provider's worker; its concurrency and rate limit are the provider's own. */
export function startDeleteWorker(deps: WorkerDeps): Worker<DeleteJobData, DeleteJobResult> {
  const { config, providerConfig } = deps;
  const worker = new Worker<DeleteJobData, DeleteJobResult>(queueNameFor(providerConfig.name), (job) => processDeleteJob(deps, job), {
    connection: { url: config.redisUrl, maxRetriesPerRequest: null },
    prefix: config.queuePrefix,
    concurrency: providerConfig.concurrency,
    limiter: smoothLimiter(providerConfig.rateLimit),
    autorun: true,
  });
  worker.on('failed', (job, err) => {
    if (job && job.finishedOn !== undefined) {
      deps.logger.error({ provider: providerConfig.name, target: job.data.target, taskIds: job.data.tasks.map((t) => t.id), attempts: job.attemptsMade, reason: err.message }, 'delete failed');
    }
  });
  worker.on('error', (err) => deps.logger.error({ provider: providerConfig.name, redis: redactRedisUrl(config.redisUrl), err }, 'worker error'));
  return worker;
}

/**
 * BullMQ's limiter counts fixed windows, so `10/s` as one 1 s window can put 20 calls into one
 * second at a window edge. Splitting the limit into small windows keeps any sliding second close to
 * the limit; rounding is always downward, so the long-run rate never exceeds it.
 */
export function smoothLimiter(rate: Rate): { max: number; duration: number } {
  const spacing = Math.ceil(rate.durationMs / rate.max);
  if (spacing >= 10) return { max: 1, duration: spacing };
  const window = 100;
  return { max: Math.max(1, Math.floor((rate.max * window) / rate.durationMs)), duration: window };
}

/** The processor. It throws on failure and never swallows: BullMQ owns retries. */
export async function processDeleteJob(deps: WorkerDeps, job: Job<DeleteJobData>): Promise<DeleteJobResult> {
  const { provider, providerConfig, queue } = deps;
  const data = job.data;
  // A job in Redis is input too: never act on one outside this worker's configured scope.
  if (data.provider !== provider.name || !providerConfig.targets.includes(data.target)) {
    throw new UnrecoverableError(`out of scope: ${data.provider} target ${data.target} is not configured for this worker`);
  }
  const log = deps.logger.child({ provider: provider.name, target: data.target, jobId: job.id, attempt: job.attemptsMade + 1 });
  const done: TaskResult[] = [...(data.done ?? [])];
  const byId = new Map(data.tasks.map((t) => [t.id, t]));
  const toDelete: string[] = [];
  for (const task of data.tasks) {
    if (done.some((d) => d.id === task.id)) continue;
    const skip = await recheck(deps, data.target, task);
    if (skip) {
      done.push(skip);
      log.info({ taskId: task.id, reason: skip.detail }, skip.result === 'gone' ? 'task already gone' : 'task kept after re-check');
    } else {
      toDelete.push(task.id);
    }
  }

  if (toDelete.length > 0) {
    let failures: readonly { id: string; error: ProviderError }[];
    try {
      const result = await provider.deleteTasks(data.target, toDelete);
      failures = result.failures;
      for (const outcome of result.outcomes) {
        done.push(outcome);
        const task = byId.get(outcome.id);
        log.info({
          taskId: outcome.id, state: task?.states.join('+'), label: task?.label, ageMs: task ? deps.now().getTime() - Date.parse(task.agedFrom.at) : undefined,
          requestId: outcome.requestId,
        }, outcome.result === 'deleted' ? 'task deleted' : 'task already gone');
      }
    } catch (err) {
      failures = toDelete.map((id) => ({ id, error: asProviderError(err) }));
    }
    if (failures.length > 0) {
      if (done.length > (data.done?.length ?? 0)) await job.updateData({ ...data, done });
      await throwFailure(queue, failures.map((f) => f.error), log);
    }
  }
  return { results: done };
}

/** Re-applies the policy to the job's snapshot and, for resumable states, to a fresh read. */
async function recheck(deps: WorkerDeps, target: string, task: JobTask): Promise<TaskResult | undefined> {
  const rule = policyRuleFor(deps.providerConfig);
  const snapshot: CloudTask = { id: task.id, states: task.states, agedFrom: { kind: 'ok', field: task.agedFrom.field, at: new Date(task.agedFrom.at) } };
  const verdict = judgeTask(snapshot, rule, deps.now());
  if (!verdict.candidate) return { id: task.id, result: 'skipped', detail: `${verdict.reason}: ${verdict.detail}` };
  const recheckStates = PROVIDER_FACTS[deps.provider.name].recheckStates ?? [];
  if (deps.provider.getTask && task.states.some((s) => recheckStates.includes(s))) {
    const fresh = await deps.provider.getTask(target, task.id).catch((err: unknown) => { throw asProviderError(err); });
    if (!fresh) return { id: task.id, result: 'gone', detail: 'not found on re-check' };
    const again = judgeTask(fresh, rule, deps.now());
    if (!again.candidate) return { id: task.id, result: 'skipped', detail: `changed-before-delete: ${again.reason}: ${again.detail}` };
  }
  return undefined;
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
