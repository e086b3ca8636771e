// `plan` and `explain`: a dry run through the run's own path (same listing, policy and valves), reported
// per task. Needs no Redis: a dry run opens no queue and meters calls in process (with P_AGE_FROM=observed
// it reads the first sightings real runs recorded, when Redis answers).
import { closeSync, openSync, writeSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Config } from './config.js';
import type { DecisionEvent } from './judging.js';
import { limiterFor } from './limiter.js';
import { createLogger } from './logger.js';
import { explainDecision, planRow, PlanTally, renderPlan, rowLine, type PlanRow } from './plan.js';
import type { ProviderName } from './providers/catalog.js';
import { createProviders } from './providers/registry.js';
import { runCleanup } from './run.js';
import { createShutdown } from './shutdown.js';

export const PLAN_HELP = `Usage: task-janitor plan [--json] [--output <file>] [--task <id>]

What a run would do, without doing it and without Redis (a provider with P_AGE_FROM=observed reads the first
sightings real runs recorded, when Redis answers, and says so): lists every provider as a run does and, for
every listed task, prints the decision and its reason in words (delete: Success, created 12d ago > 7d;
keep: state Running; keep: protected by IOTDA_EXCLUDE (...); keep: newest 5 kept ...). On a terminal:
totals per provider and project, totals by reason and a sample; the full list goes to --output <file>
(one tab-separated line per task, or JSON lines with --json). --json alone writes every task as a JSON
line to stdout, then one totals line. --task <id>: the full decision path of that task (as explain).
Exit codes as run: 0, 1 (a project cut short or not reached), 3 (a list API failed), 4 (format drift),
5 (a safety valve would refuse: over a deletion cap, or a provider's clock is off).`;

export const EXPLAIN_HELP = `Usage: task-janitor explain <provider> <task id>

Lists the provider as a run does and prints the full decision path of one task: every rule checked
(id, P_EXCLUDE/P_INCLUDE, state, age reference, age against the retention, P_KEEP_LATEST, clock, caps)
with its value, and the decision. Needs no Redis. Exit 0 when the task was listed, 1 when it was not,
2 on bad usage, 3 when the listing failed.`;

/** Writes lines to a file in 64 KiB chunks, synchronously: memory stays bounded whatever the number of rows. */
class LineFile {
  private buffer: string[] = [];
  private size = 0;

  constructor(private readonly fd: number) {}

  write(line: string): void {
    this.buffer.push(line);
    this.size += line.length + 1;
    if (this.size >= 65_536) this.flush();
  }

  flush(): void {
    if (this.buffer.length > 0) writeSync(this.fd, `${this.buffer.join('\n')}\n`);
    this.buffer = [];
    this.size = 0;
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

interface PlanOptions {
  readonly json: boolean;
  readonly output: string | undefined;
  /** explain / --task: the task looked for, and the provider when named. */
  readonly task: { readonly id: string; readonly provider?: ProviderName } | undefined;
}

function parse(command: 'plan' | 'explain', args: readonly string[], config: Config): PlanOptions | string {
  try {
    const { values, positionals } = parseArgs({
      args: [...args], strict: true, allowPositionals: command === 'explain',
      options: command === 'plan' ? { json: { type: 'boolean' }, output: { type: 'string' }, task: { type: 'string' } } : {},
    });
    if (command === 'explain') {
      const [provider, id, ...extra] = positionals;
      if (provider === undefined || id === undefined || extra.length > 0) return 'expected <provider> <task id>';
      if (!config.providers.some((p) => p.name === provider)) return `provider ${JSON.stringify(provider)} is not in JANITOR_PROVIDERS (${config.providers.map((p) => p.name).join(', ')})`;
      return { json: false, output: undefined, task: { id, provider: provider as ProviderName } };
    }
    const v = values as { json?: boolean; output?: string; task?: string };
    return { json: v.json === true, output: v.output, task: v.task === undefined ? undefined : { id: v.task } };
  } catch (err) {
    return (err as Error).message;
  }
}

/** Where `plan` and `explain` write: stdout (`write`, and `drained` resolving once it has room again) and stderr (`warn`). */
export interface PlanOutput {
  write(text: string): void;
  warn(text: string): void;
  readonly drained?: () => Promise<void>;
}

/** Runs `plan` or `explain`; returns the exit code. Output goes to `write` (stdout), problems to `warn` (stderr). */
export async function runPlanCommand(command: 'plan' | 'explain', args: readonly string[], loaded: Config, io: PlanOutput): Promise<number> {
  const options = parse(command, args, loaded);
  if (typeof options === 'string') {
    io.warn(`task-janitor ${command}: ${options}\n\n${command === 'plan' ? PLAN_HELP : EXPLAIN_HELP}\n`);
    return 2;
  }
  // A plan is a dry run whatever JANITOR_DRY_RUN says. One provider is enough to explain a task, unless
  // the run-wide cap needs every provider's count.
  const named = options.task?.provider;
  const config: Config = { ...loaded, dryRun: true, providers: named && !loaded.maxDeletes ? loaded.providers.filter((p) => p.name === named) : loaded.providers };
  let file: LineFile | undefined;
  if (options.output !== undefined) {
    try {
      file = new LineFile(openSync(options.output, 'w'));
    } catch (err) {
      io.warn(`task-janitor plan: --output: cannot open ${JSON.stringify(options.output)} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); expected a writable file path\n`);
      return 2;
    }
  }
  // The plan's own output says everything the log would (list failures, refusals, drift); logs only when debugging.
  const logger = createLogger(['debug', 'trace'].includes(loaded.logLevel) ? loaded.logLevel : 'silent');
  const shutdown = createShutdown(logger, { graceMs: config.shutdownGraceMs });
  const limiter = limiterFor(config);
  shutdown.onClose('call limiter', () => limiter.close());
  const retention = new Map(config.providers.map((p) => [p.name, p.retentionMs]));
  const tally = new PlanTally();
  const found: DecisionEvent[] = [];
  const onDecision = (event: DecisionEvent) => {
    if (options.task) {
      if (event.task.id === options.task.id && (named === undefined || event.provider === named)) found.push(event);
      return;
    }
    const row = planRow(event, retention.get(event.provider) ?? 0);
    tally.add(row);
    const line = options.json ? JSON.stringify({ kind: 'task', ...row } satisfies { kind: string } & PlanRow) : rowLine(row);
    if (file) file.write(line);
    else if (options.json) io.write(`${line}\n`);
  };
  const at = new Date();
  const providers = createProviders(config, undefined, undefined, limiter);
  let report;
  try {
    // Rows go out as pages are judged: a reader that cannot keep up holds the listing, so memory stays bounded.
    report = await runCleanup({ config, logger, providers, shutdown, onDecision, ...(io.drained ? { afterPage: io.drained } : {}) }, 'produce');
  } finally {
    await shutdown.close();
    file?.close();
  }
  if (options.task) {
    for (const event of found) io.write(`${explainDecision(config, event, providers.get(event.provider)?.serverClock?.skewMs())}\n`);
    if (found.length > 0) return report.exitCode === 3 ? 3 : 0;
    io.warn(`task-janitor ${command}: task ${options.task.id} was not listed by ${named ?? config.providers.map((p) => p.name).join(', ')}${report.exitCode === 3 ? ' (a listing failed)' : ''}\n`);
    return report.exitCode === 3 ? 3 : 1;
  }
  if (options.json) {
    io.write(`${JSON.stringify({
      kind: 'totals', at: at.toISOString(), exitCode: report.exitCode, byReason: Object.fromEntries(tally.byReason), ...(report.sightings ? { sightings: report.sightings } : {}),
      targets: report.stats.map((s) => ({
        provider: s.provider, target: s.target, listed: s.listed, candidates: s.candidates, delete: s.candidates - s.heldBack, skipped: s.skipped,
        ...(s.refused !== undefined ? { refused: s.refused } : {}), ...(s.capped !== undefined ? { capped: s.capped } : {}),
        ...(s.listError !== undefined ? { listError: s.listError } : {}), ...(s.formatDrift !== undefined ? { formatDrift: s.formatDrift } : {}),
      })),
    })}\n`);
  } else {
    io.write(`${renderPlan(config, report.stats, tally, { at, ...(options.output !== undefined ? { output: options.output } : {}), ...(report.sightings ? { sightings: report.sightings } : {}) })}\n`);
  }
  return report.exitCode;
}
