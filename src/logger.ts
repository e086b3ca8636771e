// The pino root logger. Secrets are redacted by path; providers never put them in messages.
import pino, { type Logger } from 'pino';
import { redactText } from './redact.js';

export type { Logger };

const REDACT = [
  'authorization', 'Authorization', '*.authorization', '*.Authorization',
  'headers.authorization', 'headers.Authorization', 'headers["x-auth-token"]', 'headers["X-Auth-Token"]',
  'headers["x-security-token"]', 'headers["X-Security-Token"]', 'headers["x-acs-security-token"]',
  'secretKey', 'accessKeySecret', 'securityToken', 'token', 'password', '*.secretKey', '*.accessKeySecret', '*.securityToken', '*.token', '*.password',
];

/** An error as pino serialises it, with credentials masked in its text fields (message, stack, a Redis client's). */
function redactedError(err: unknown): unknown {
  const serialised: unknown = err instanceof Error ? pino.stdSerializers.err(err) : err;
  if (typeof serialised === 'string') return redactText(serialised);
  if (serialised === null || typeof serialised !== 'object') return serialised;
  return Object.fromEntries(Object.entries(serialised).map(([k, v]) => [k, typeof v === 'string' ? redactText(v) : v]));
}

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({
    level, base: { service: 'task-janitor' }, redact: { paths: REDACT, censor: '[redacted]' }, serializers: { err: redactedError },
  }, destination ?? pino.destination({ dest: 2, sync: true }));
}
