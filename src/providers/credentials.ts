// Reads secrets from the environment or from mounted files, re-reading a file when Kubernetes rotates it.
import { readFileSync, statSync } from 'node:fs';
import type { SecretSource } from '../config.js';
import { variableText } from '../variables.js';

/** Returns the secret's current value. File secrets are re-read whenever the file's mtime or size changes. */
export function secretReader(source: SecretSource): () => string {
  if (source.kind === 'env') {
    const value = source.value;
    return () => value;
  }
  let cached: { stamp: string; value: string } | undefined;
  return () => {
    try {
      const stat = statSync(source.path);
      const stamp = `${stat.mtimeMs}:${stat.size}:${stat.ino}`;
      if (cached?.stamp !== stamp) cached = { stamp, value: variableText(readFileSync(source.path, 'utf8')) };
      return cached.value;
    } catch (err) {
      // Name the variable and path only: the message may end up in logs and job records.
      throw new Error(`cannot read ${source.name}_FILE at ${source.path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  };
}

/** Reads an optional secret; undefined source gives undefined. */
export function optionalSecretReader(source: SecretSource | undefined): () => string | undefined {
  return source ? secretReader(source) : () => undefined;
}
