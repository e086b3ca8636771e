// Real Redis for tests: REDIS_URL or the local server, isolated by a unique queue prefix per test.
import { randomBytes } from 'node:crypto';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export function uniquePrefix(label: string): string {
  return `jt-${label}-${randomBytes(4).toString('hex')}`;
}
