import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';

const DIR = new URL('../k8s/components/monitoring/', import.meta.url);
const read = (name: string) => readFileSync(new URL(name, DIR), 'utf8');

interface Rule { alert?: string; expr?: unknown; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }

describe('shipped monitoring (k8s/components/monitoring)', () => {
  it('is a kustomize Component whose every resource and dashboard file exists, and nothing in the folder is left out', () => {
    const kustomization = parse(read('kustomization.yaml')) as { kind: string; resources: string[]; configMapGenerator: { files: string[]; options: { labels: Record<string, string> } }[] };
    expect(kustomization.kind).toBe('Component');
    const listed = [...kustomization.resources, ...kustomization.configMapGenerator.flatMap((g) => g.files)];
    for (const file of listed) expect(existsSync(new URL(file, DIR)), file).toBe(true);
    expect(readdirSync(DIR).filter((f) => f !== 'kustomization.yaml').sort()).toEqual([...listed].sort());
    expect(kustomization.configMapGenerator[0]?.options.labels.grafana_dashboard).toBe('1');
  });

  it('every YAML file parses as exactly one document with apiVersion, kind and metadata.name', () => {
    for (const file of readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')) {
      const docs = parseAllDocuments(read(file));
      expect(docs, file).toHaveLength(1);
      expect(docs[0]?.errors, file).toEqual([]);
      const doc = docs[0]?.toJS() as { apiVersion?: string; kind?: string; metadata?: { name?: string } };
      expect(doc.apiVersion, file).toMatch(/^monitoring\.coreos\.com\/v1$/);
      expect(doc.kind, file).toMatch(/^(PrometheusRule|PodMonitor)$/);
      expect(doc.metadata?.name, file).toBe('task-janitor');
    }
  });

  it('alerts cover a missed run, failed deletions, long throttling and a growing backlog, each with severity and summary', () => {
    const rules = (parse(read('prometheusrule.yaml')) as { spec: { groups: { name: string; rules: Rule[] }[] } }).spec.groups.flatMap((g) => g.rules);
    expect(rules.map((r) => r.alert)).toEqual([
      'TaskJanitorNoSuccessfulRun', 'TaskJanitorRunFailedDeletions', 'TaskJanitorDeletionsFailing', 'TaskJanitorProviderThrottling', 'TaskJanitorBacklogGrowing',
    ]);
    for (const rule of rules) {
      expect(typeof rule.expr, rule.alert).toBe('string');
      expect(rule.labels?.severity, rule.alert).toMatch(/^(warning|critical)$/);
      expect(rule.annotations?.summary, rule.alert).toBeTruthy();
      if (rule.for !== undefined) expect(rule.for, rule.alert).toMatch(/^\d+[smh]$/);
      // Balanced brackets: a cheap guard against a broken PromQL edit.
      for (const [open, close] of [['(', ')'], ['{', '}'], ['[', ']']] as const) {
        expect(String(rule.expr).split(open).length, `${rule.alert} ${open}${close}`).toBe(String(rule.expr).split(close).length);
      }
    }
    expect(rules[0]?.expr).toContain('26 * 3600');
  });

  it('the Grafana dashboard is valid JSON with unique panel ids, a Prometheus data-source variable and a query per panel', () => {
    const dashboard = JSON.parse(read('task-janitor-dashboard.json')) as { uid: string; panels: { id: number; title: string; targets: { expr: string }[]; datasource: { uid: string } }[]; templating: { list: { name: string; query: string }[] } };
    expect(dashboard.uid).toBe('task-janitor');
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(dashboard.templating.list).toContainEqual(expect.objectContaining({ name: 'datasource', query: 'prometheus' }));
    for (const panel of dashboard.panels) {
      expect(panel.targets.length, panel.title).toBeGreaterThan(0);
      expect(panel.datasource.uid).toBe('${datasource}');
      for (const t of panel.targets) expect(t.expr, panel.title).toMatch(/janitor_/);
    }
  });
});
