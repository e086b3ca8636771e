// A small reader of the project's Dockerfile: its instructions with ARG defaults substituted.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './kustomize.js';

export interface Instruction { readonly keyword: string; readonly args: string }

/** Instructions in order, continuation lines joined, comments dropped, `${ARG}` replaced by global ARG defaults. */
export function dockerfileInstructions(text = readFileSync(join(REPO, 'Dockerfile'), 'utf8')): Instruction[] {
  const lines = text.replace(/\\\r?\n/g, ' ').split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const globals = new Map<string, string>();
  const out: Instruction[] = [];
  for (const line of lines) {
    const [, keyword = '', rest = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const args = rest.replace(/\$\{(\w+)\}/g, (m, name: string) => globals.get(name) ?? m);
    if (keyword.toUpperCase() === 'ARG' && !out.some((i) => i.keyword === 'FROM')) {
      const [name = '', value = ''] = args.split('=');
      globals.set(name, value);
    }
    out.push({ keyword: keyword.toUpperCase(), args });
  }
  return out;
}

/** The Node major version of the image's base (node:<major>-slim@sha256:…). */
export function imageNodeMajor(): number {
  const from = dockerfileInstructions().filter((i) => i.keyword === 'FROM').pop();
  const major = /^node:(\d+)/.exec(from?.args ?? '')?.[1];
  if (!major) throw new Error(`the image's base is not a node image: ${from?.args}`);
  return Number(major);
}
