// The repository stands alone: no tracked file reaches outside it, and every section reference
// ("§3a") in the code and docs resolves to a heading of docs/providers.md.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const SKIP_DIRS = new Set(['node_modules', 'dist', '.git', 'coverage']);

/** Tracked files (git ls-files); a tree walk when the copy is not a git checkout (e.g. a tarball). */
function trackedFiles(): string[] {
  try {
    const out = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' });
    return out.split('\0').filter((f) => f !== '');
  } catch {
    const walk = (dir: string): string[] =>
      readdirSync(join(ROOT, dir)).flatMap((name) => {
        const rel = dir === '' ? name : `${dir}/${name}`;
        if (SKIP_DIRS.has(name)) return [];
        return statSync(join(ROOT, rel)).isDirectory() ? walk(rel) : [rel];
      });
    return walk('');
  }
}

function textOf(file: string): string | undefined {
  const buf = readFileSync(join(ROOT, file));
  return buf.includes(0) ? undefined : buf.toString('utf8');
}

const files = trackedFiles().filter((f) => f !== 'package-lock.json');

describe('the repository stands alone', () => {
  it('has no tracked file naming a path outside the repository', () => {
    const escapes: string[] = [];
    // Relative paths climbing with ../ are resolved from the file's own folder (imports, markdown
    // links, kustomize resources all resolve that way) and must land inside the repository.
    const climbing = /(?:\.\.\/)+[\w.@-]*/g;
    for (const file of files) {
      const text = textOf(file);
      if (text === undefined) continue;
      for (const m of text.matchAll(climbing)) {
        const target = resolve(ROOT, dirname(file), m[0]);
        if (target !== ROOT && !target.startsWith(ROOT + sep)) escapes.push(`${file}: ${m[0]}`);
      }
      if (/\.\.\/shared|\/work\/(?:shared|main|wt)\b/.test(text)) escapes.push(`${file}: names a workspace path`);
    }
    expect(escapes).toEqual([]);
  });

  it('resolves every section reference in src, test and docs to a heading of docs/providers.md', () => {
    const reference = readFileSync(join(ROOT, 'docs/providers.md'), 'utf8');
    const sections = new Set<string>();
    for (const m of reference.matchAll(/^#{2,3} (\d+[a-z]?)\. /gm)) sections.add(m[1] ?? '');
    expect(sections.size).toBeGreaterThan(20);

    const unresolved: string[] = [];
    const mark = /\u00a7(\d+[a-z]?)/g;
    let seen = 0;
    for (const file of files.filter((f) => /^(src|test|docs|bench)\/|^README\.md$/.test(f))) {
      const text = textOf(file);
      if (text === undefined) continue;
      for (const m of text.matchAll(mark)) {
        seen += 1;
        if (!sections.has(m[1] ?? '')) unresolved.push(`${relative(ROOT, join(ROOT, file))}: \u00a7${m[1]}`);
      }
    }
    expect(seen).toBeGreaterThan(0);
    expect(unresolved).toEqual([]);
  });
});
