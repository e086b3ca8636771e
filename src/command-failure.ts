// How a command ends on a failure it could not handle: one plain line on stderr naming the cause
// (secrets redacted) and the documented exit code. Every command maps a failure the same way.
import { ConfigError, type Config } from './config.js';
import type { Logger } from './logger.js';
import { redactText } from './redact.js';
import { DependencyError, describeRedis } from './redis.js';
import { describeRedisError, isRedisError } from './redis-errors.js';

/** Logs and prints `err`; returns 2 (configuration), 3 (Redis unreachable or refusing) or 1 (anything else). */
export function exitCodeForFailure(err: unknown, config: Config, logger: Logger): number {
  if (err instanceof ConfigError) {
    process.stderr.write(`task-janitor: ${err.message}\n`);
    return 2;
  }
  if (err instanceof DependencyError) {
    logger.error({ err: { message: err.message } }, 'dependency unreachable');
    process.stderr.write(`task-janitor: ${redactText(err.message)}\n`);
    return 3;
  }
  if (isRedisError(err)) {
    // Reachable, but refusing (READONLY replica, OOM, NOPERM…).
    const cause = describeRedisError(describeRedis(config.redis), err);
    logger.error({ cause }, 'Redis failed');
    process.stderr.write(`task-janitor: ${redactText(cause)}\n`);
    return 3;
  }
  logger.error({ err }, 'unexpected failure');
  process.stderr.write(`task-janitor: unexpected failure: ${redactText((err as Error).message)}\n`);
  return 1;
}
