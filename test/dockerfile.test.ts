// The Dockerfile, read statically (no Docker engine runs here): a pinned maintained base, a numeric
// non-root user matching the pods, production code only, exec-form entrypoint.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { dockerfileInstructions, imageNodeMajor } from './helpers/dockerfile.js';
import { REPO } from './helpers/kustomize.js';
import type { PodSpec } from './helpers/pod-spec.js';

const instructions = dockerfileInstructions();
const of = (keyword: string) => instructions.filter((i) => i.keyword === keyword);
const runtimeStage = instructions.slice(instructions.map((i) => i.keyword).lastIndexOf('FROM'));

describe('Dockerfile', () => {
  it('builds every stage from a Node LTS slim image pinned by digest', () => {
    const froms = of('FROM');
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const from of froms) expect(from.args).toMatch(/^node:(22|24)-slim@sha256:[0-9a-f]{64} AS \w+$/);
    expect([22, 24]).toContain(imageNodeMajor());
  });

  it('runs as the numeric uid:gid the pods run as', () => {
    const users = runtimeStage.filter((i) => i.keyword === 'USER');
    expect(users).toHaveLength(1);
    const [uid, gid] = (users[0]?.args ?? '').split(':').map(Number);
    const cron = parse(readFileSync(join(REPO, 'k8s/base/cronjob.yaml'), 'utf8')) as { spec: { jobTemplate: { spec: { template: { spec: PodSpec } } } } };
    const security = cron.spec.jobTemplate.spec.template.spec.securityContext;
    expect(uid).toBeGreaterThan(0);
    expect([uid, gid]).toEqual([security?.runAsUser, security?.runAsGroup]);
  });

  it('starts `node dist/main.js` in exec form with `run` as the default command', () => {
    expect(runtimeStage.filter((i) => i.keyword === 'ENTRYPOINT').map((i) => JSON.parse(i.args) as unknown)).toEqual([['node', 'dist/main.js']]);
    expect(runtimeStage.filter((i) => i.keyword === 'CMD').map((i) => JSON.parse(i.args) as unknown)).toEqual([['run']]);
  });

  it('ships production dependencies and compiled code only: no tests, benchmarks, sources or manifests', () => {
    const copies = of('COPY').map((i) => i.args);
    for (const c of copies) expect(c).not.toMatch(/\b(test|bench|k8s|docs|\.ci)\b|^\. /);
    const runtimeCopies = runtimeStage.filter((i) => i.keyword === 'COPY').map((i) => i.args);
    expect(runtimeCopies.every((c) => c.includes('--from=build'))).toBe(true);
    expect(runtimeCopies.map((c) => c.split(' ').at(-2)).sort()).toEqual(['/app/dist', '/app/node_modules', '/app/package.json']);
    expect(of('RUN').some((r) => r.args.includes('npm prune --omit=dev'))).toBe(true);
    expect(runtimeStage.some((i) => i.keyword === 'ENV' && /NODE_ENV=production/.test(i.args))).toBe(true);
  });

  it('labels the image with the OCI annotations', () => {
    const labels = runtimeStage.filter((i) => i.keyword === 'LABEL').map((i) => i.args).join(' ');
    for (const key of ['title', 'description', 'version', 'revision', 'licenses', 'base.name']) expect(labels).toContain(`org.opencontainers.image.${key}=`);
  });

  it('sends only what the build reads as its context (.dockerignore is an allowlist)', () => {
    const rules = readFileSync(join(REPO, '.dockerignore'), 'utf8').split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    expect(rules[0]).toBe('*');
    expect(rules.slice(1).sort()).toEqual(['!package-lock.json', '!package.json', '!src/', '!tsconfig.build.json', '!tsconfig.json']);
  });
});
