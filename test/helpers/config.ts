// The problems loadConfig reports for an environment (and fails the test when it reports none).
import { ConfigError, loadConfig } from '../../src/config.js';

export function problemsOf(env: Record<string, string>, isReadable?: (path: string) => boolean): string[] {
  try {
    loadConfig(env, isReadable);
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  throw new Error('expected a ConfigError');
}
