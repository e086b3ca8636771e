// How a command ends on a failure it could not handle: one plain line on stderr naming the cause
// (secrets redacted) and the documented exit code. Every command maps a failure the same way.
import { ConfigError, type Config } from './config.js';
import type { Logger } from './logger.js';
import { redactText } from './redact.js';
import { DependencyError, describeRedis } from './redis.js';
import { describeRedisError, isRedisError } from './redis-errors.js';

/** The documented exit code of a failure a command could not handle, and its one line (secrets redacted). */
export function describeFailure(err: unknown, config: Config): { readonly code: number; readonly text: string } {
  if (err instanceof ConfigError) return { code: 2, text: err.message };
  if (err instanceof DependencyError) return { code: 3, text: redactText(err.message) };
  // Reachable, but refusing (READONLY replica, OOM, NOPERM…).
  if (isRedisError(err)) return { code: 3, text: redactText(describeRedisError(describeRedis(config.redis), err)) };
  return { code: 1, text: `unexpected failure: ${redactText((err as Error).message)}` };
}

/** Logs and prints `err`; returns 2 (configuration), 3 (Redis unreachable or refusing) or 1 (anything else). */
export function exitCodeForFailure(err: unknown, config: Config, logger: Logger): number {
  const { code, text } = describeFailure(err, config);
  if (err instanceof DependencyError) logger.error({ err: { message: err.message } }, 'dependency unreachable');
  else if (isRedisError(err)) logger.error({ cause: text }, 'Redis failed');
  else if (!(err instanceof ConfigError)) logger.error({ err }, 'unexpected failure');
  process.stderr.write(`task-janitor: ${text}\n`);
  return code;
}
