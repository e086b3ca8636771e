// The pino root logger. Secrets are redacted by path; providers never put them in messages.
import pino, { type Logger } from 'pino';

export type { Logger };

const REDACT = [
  'authorization', 'Authorization', '*.authorization', '*.Authorization',
  'headers.authorization', 'headers.Authorization', 'headers["x-auth-token"]', 'headers["X-Auth-Token"]',
  'headers["x-security-token"]', 'headers["X-Security-Token"]', 'headers["x-acs-security-token"]',
  'secretKey', 'accessKeySecret', 'securityToken', 'token', 'password', '*.secretKey', '*.accessKeySecret', '*.securityToken', '*.token', '*.password',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, base: { service: 'task-janitor' }, redact: { paths: REDACT, censor: '[redacted]' } }, destination ?? pino.destination({ dest: 2, sync: true }));
}
