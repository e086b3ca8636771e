#!/usr/bin/env node
// CLI entry and composition root: parse argv, load config, wire providers, queues and workers, exit.
import { once } from 'node:events';
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { checkExitCode, checkTargets, renderCheck } from './check.js';
import { describeFailure, exitCodeForFailure } from './command-failure.js';
import { loadConfig, ConfigError, redactedConfig, type Config } from './config.js';
import { scheduleProduce } from './daemon.js';
import { limiterFor } from './limiter.js';
import { createLogger } from './logger.js';
import { startObservability } from './observability.js';
import { QUEUE_COMMAND_HELP, runQueueCommand } from './queue-commands.js';
import { createProviders } from './providers/registry.js';
import { connectRedis, openQueues, runCleanup, startWorkers, type RunReport } from './run.js';
import { redactText } from './redact.js';
import { EXPLAIN_HELP, PLAN_HELP, runPlanCommand } from './plan-command.js';
import { createShutdown } from './shutdown.js';
import { renderSummary } from './summary.js';

const USAGE = `Usage: task-janitor <command> [--help]

Deletes stale, finished batch-task records from cloud providers. Configured by environment
variables (see README). JANITOR_DRY_RUN defaults to true: nothing is deleted unless you set it to false.

Commands:
  run        produce, then work until every job of this run settled or JANITOR_MAX_RUNTIME; print a summary
  produce    list providers and enqueue delete jobs, then exit
  work       run delete workers until SIGTERM (scale-out Deployment)
  daemon     produce on JANITOR_SCHEDULE (cron) and run workers, in one long-running process
  plan       what a run would do, per task with its reason in words, totals and a sample; needs no Redis
  explain <provider> <task id>  the full decision path of one task
  check      prove each provider's endpoint, region, project and credentials with one read, and Redis
  config     print the effective configuration, defaults filled in, secrets redacted
  status     queue counts, rate, throttling and the latest failures per provider (--json)
  retry-failed [provider]  re-enqueue failed deletions after the cause is fixed
  simulate   start the local provider simulator in the foreground

Every command also takes --version.

Exit codes: 0 every candidate seen is gone (or kept by the re-read before its delete), 1 some deletion failed or is still pending (or a project was cut
short or not reached), 2 bad configuration or usage, 3 a dependency unreachable, 4 format drift (most records of
a project could not be judged: has the API changed?), 5 a safety valve refused to delete (more candidates than
JANITOR_MAX_DELETES / P_MAX_DELETES, or a provider's clock is off by more than JANITOR_MAX_CLOCK_SKEW, when
listing or at a worker's re-read).`;

const COMMAND_HELP: Record<string, string> = {
  ...QUEUE_COMMAND_HELP,
  plan: PLAN_HELP,
  explain: EXPLAIN_HELP,
  run: `Usage: task-janitor run\n\nLists every provider in JANITOR_PROVIDERS, enqueues the stale terminal tasks, deletes them with\nin-process workers, waits until every candidate it found has settled, including those an earlier or\nsimultaneous run had already queued (or JANITOR_MAX_RUNTIME), prints a summary and exits 0 (every candidate\nit saw is gone, or kept by the re-read before its delete), 1 (a deletion failed or is still pending, or a project was cut short or not reached),\n2 (bad configuration), 3 (Redis or a list API unreachable), 4 (format drift: most records of a project could\nnot be judged), 5 (a safety valve refused: over a deletion cap, or a provider's clock is off, when listing or at a worker's re-read). With JANITOR_DRY_RUN=true (the default) it only reports what would be deleted.`,
  produce: `Usage: task-janitor produce\n\nLists providers and enqueues delete jobs for stale terminal tasks, then exits. Jobs are processed by\n'task-janitor work'. A task already queued by an earlier run is not enqueued again.`,
  work: `Usage: task-janitor work\n\nRuns one BullMQ worker per provider in JANITOR_PROVIDERS until SIGTERM/SIGINT, then lets in-flight\ndeletes finish (JANITOR_SHUTDOWN_GRACE) and exits. Refuses to start while JANITOR_DRY_RUN=true.`,
  check: `Usage: task-janitor check\n\nFor every provider in JANITOR_PROVIDERS and each of its projects, makes one cheap authenticated read\n(the first page of the list API), and pings Redis. Deletes nothing. Exits 0 when all answered, 2 when\ncredentials, a project, a region or an endpoint were refused (a configuration problem, named per line),\n3 when something could not be reached (an outage).`,
  config: `Usage: task-janitor config\n\nPrints the effective configuration as JSON: every default filled in, secrets shown only as the variable\nor file they come from. Warnings about unknown variables go to stderr. Exits 0, or 2 on bad configuration.`,
  daemon: `Usage: task-janitor daemon\n\nOne long-running process: produces on the cron schedule JANITOR_SCHEDULE (a firing while the previous\nproduce is still running is skipped) and runs the workers. Stops on SIGTERM/SIGINT. With JANITOR_DRY_RUN=true\n(the default) it opens no queue and starts no worker: each firing only logs what would be deleted.`,
};

/** The package version, read once from package.json (beside dist/ and src/ alike). */
const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [command, ...rest] = argv;
  if (argv.includes('--version') || argv.includes('-V')) {
    process.stdout.write(`task-janitor ${VERSION}\n`);
    return 0;
  }
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined ? 2 : 0;
  }
  // The simulator is loaded only for its own command: the production path never imports it.
  if (command === 'simulate') {
    const simulator = await import('./simulator/cli.js');
    if (rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(`${simulator.SIMULATE_HELP}\n`);
      return 0;
    }
    return simulator.runSimulatorCommand(rest);
  }
  if (!(command in COMMAND_HELP)) {
    process.stderr.write(`task-janitor: unknown command ${JSON.stringify(command)}; expected one of ${[...Object.keys(COMMAND_HELP), 'simulate'].join(', ')}\n\n${USAGE}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${COMMAND_HELP[command]}\n`);
    return 0;
  }
  if (command === 'status' || command === 'retry-failed') return runQueueCommand(command, rest, env);
  const takesArguments = command === 'plan' || command === 'explain';
  if (rest.length > 0 && !takesArguments) {
    process.stderr.write(`task-janitor ${command}: unexpected argument ${JSON.stringify(rest[0])}; configuration comes from environment variables (see --help)\n`);
    return 2;
  }

  let config: Config;
  try {
    config = loadConfig(env);
    if (command === 'daemon' && config.schedule === undefined) throw new ConfigError(['JANITOR_SCHEDULE: is required for the daemon command; expected a cron expression like "0 3 * * *"']);
    if (command === 'work' && config.dryRun) throw new ConfigError(['JANITOR_DRY_RUN: is true, and workers only delete; set JANITOR_DRY_RUN=false to run them (a dry run is `task-janitor run`)']);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`task-janitor: ${err.message}\n`);
      return 2;
    }
    throw err;
  }

  if (command === 'config') {
    for (const warning of config.warnings) process.stderr.write(`task-janitor: warning: ${warning}\n`);
    process.stdout.write(`${JSON.stringify(redactedConfig(config), null, 2)}\n`);
    return 0;
  }

  if (command === 'plan' || command === 'explain') {
    for (const warning of config.warnings) process.stderr.write(`task-janitor: warning: ${warning}\n`);
    // `plan --json | head` closes the pipe early: that is the reader being done, not a failure.
    process.stdout.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(0);
    });
    try {
      return await runPlanCommand(command, rest, config, {
        write: (text) => process.stdout.write(text),
        warn: (text) => process.stderr.write(text),
        drained: async () => { if (process.stdout.writableNeedDrain) await once(process.stdout, 'drain'); },
      });
    } catch (err) {
      process.stderr.write(`task-janitor: unexpected failure: ${redactText((err as Error).message)}\n`);
      return 1;
    }
  }

  const logger = createLogger(config.logLevel);
  for (const warning of config.warnings) logger.warn({ problem: warning }, 'configuration warning');
  const shutdown = createShutdown(logger, { graceMs: config.shutdownGraceMs });
  try {
    if (command === 'check') {
      // Deletes nothing and serves nothing: no metrics server, no queues.
      const results = await checkTargets(config, createProviders(config));
      await shutdown.close();
      process.stdout.write(`${renderCheck(results)}\n`);
      return checkExitCode(results);
    }
    // Registered first, so it closes last: after the workers whose calls draw on it.
    const limiter = limiterFor(config);
    shutdown.onClose('call limiter', () => limiter.close());
    const observability = startObservability({ config, logger, shutdown, limiter, version: VERSION, longRunning: command === 'work' || command === 'daemon', tty: process.stderr.isTTY ? process.stderr : undefined });
    const providers = createProviders(config, undefined, observability.providerCalls, limiter);
    // A second signal or a hung shutdown still prints what the run did so far.
    const onRunStarted = (snapshot: () => RunReport) => shutdown.onForcedExit(() => {
      const report = snapshot();
      observability.progress.finish();
      // Cut short: never 0, whatever had settled.
      const exitCode = report.exitCode === 0 ? 1 : report.exitCode;
      process.stdout.write(`${renderSummary(report.stats, { dryRun: config.dryRun, produced: command === 'produce', run: { runId: report.runId, exitCode } })}\n`);
      return exitCode;
    });
    const deps = { config, logger, providers, shutdown, observer: observability.observer, onProgress: observability.progress.update,
      ...(command === 'run' || command === 'produce' ? { onRunStarted } : {}) };
    if (command === 'run' || command === 'produce') {
      let report: RunReport;
      try {
        report = await runCleanup(deps, command);
      } catch (err) {
        // It could not run at all (Redis unreachable or refusing): the operator's channels still hear of it.
        observability.progress.finish();
        const code = exitCodeForFailure(err, config, logger);
        await observability.afterFailedRun(command, code, describeFailure(err, config).text);
        await shutdown.close();
        return code;
      }
      observability.progress.finish();
      // Before the close: the pushed queue depth is read from the still-open queues.
      await observability.afterRun(report, command);
      await shutdown.close();
      process.stdout.write(`${renderSummary(report.stats, { dryRun: config.dryRun, produced: command === 'produce', run: { runId: report.runId, exitCode: report.exitCode } })}\n`);
      return report.exitCode;
    }
    if (config.dryRun) {
      // Only `daemon` gets here (`work` refuses a dry run): it reports on schedule and opens no queue.
      logger.warn({ command, schedule: config.schedule }, 'dry run: reports what would be deleted on schedule; touches no queue and deletes nothing');
      process.stderr.write('task-janitor daemon: DRY RUN (JANITOR_DRY_RUN=true): reports what would be deleted on schedule; touches no queue, deletes nothing\n');
      await observability.serve();
      scheduleProduce(deps);
    } else {
      const redis = await connectRedis(config, shutdown, logger);
      const queues = await openQueues(config, redis, shutdown, logger);
      await observability.serve(redis);
      startWorkers(deps, queues);
      // Registered after the workers so that shutdown stops the schedule first.
      if (command === 'daemon') scheduleProduce(deps, { redis, queues });
    }
    logger.info({ command, dryRun: config.dryRun, providers: config.providers.map((p) => p.name) }, 'started');
    await shutdown.signalled;
    await shutdown.close();
    return 0;
  } catch (err) {
    await shutdown.close();
    return exitCodeForFailure(err, config, logger);
  }
}

// Run only as the entry point, not when imported by tests.
if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  // Exit explicitly once everything is closed: a CronJob pod must not linger on a stray handle.
  main(process.argv.slice(2), process.env).then((code) => {
    process.stdout.write('', () => process.exit(code));
  }, (err: unknown) => {
    process.stderr.write(`task-janitor: ${redactText((err as Error).message)}\n`, () => process.exit(1));
  });
}
