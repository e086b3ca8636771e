// The operator's queue commands, `status [--json]` and `retry-failed [provider] [--json]`: they need
// Redis and the deployment's ConfigMap (not its credentials), and never talk to a provider.
import { Queue } from 'bullmq';
import { exitCodeForFailure } from './command-failure.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger } from './logger.js';
import { PROVIDER_NAMES, type ProviderName } from './providers/catalog.js';
import { queueNameFor, type DeleteJobData } from './queue.js';
import { renderRetryReport, retryFailed } from './retry-failed.js';
import { connectRedis } from './run.js';
import { createShutdown } from './shutdown.js';
import { readStatus, renderStatus } from './status.js';

export const QUEUE_COMMAND_HELP = {
  status: `Usage: task-janitor status [--json]\n\nReads the queues in Redis (REDIS_URL, JANITOR_QUEUE_PREFIX) for every provider in JANITOR_PROVIDERS:\njob counts per state, connected workers, the configured and the effective rate limit, the rate achieved in the last 5\nminutes, whether a provider is throttling us now, and the latest failures with the provider's code and\nmessage. Needs no cloud credentials; changes nothing.`,
  'retry-failed': `Usage: task-janitor retry-failed [provider] [--json]\n\nMoves the failed delete jobs (of one provider, or all in JANITOR_PROVIDERS) back to waiting with fresh\nattempts, after you fixed the cause. Running workers pick them up and re-check each task before\ndeleting it. A job whose task a later run queued again is left alone. Needs no cloud credentials.`,
} as const;

export type QueueCommand = keyof typeof QUEUE_COMMAND_HELP;

export async function runQueueCommand(command: QueueCommand, args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const json = args.includes('--json');
  const positional = args.filter((a) => a !== '--json');
  const usage = (problem: string) => {
    process.stderr.write(`task-janitor ${command}: ${problem}\n\n${QUEUE_COMMAND_HELP[command]}\n`);
    return 2;
  };
  if (positional.some((a) => a.startsWith('-'))) return usage(`unknown option ${JSON.stringify(positional.find((a) => a.startsWith('-')))}`);
  if (command === 'status' && positional.length > 0) return usage(`unexpected argument ${JSON.stringify(positional[0])}`);
  if (positional.length > 1) return usage(`unexpected argument ${JSON.stringify(positional[1])}`);

  let config: Config;
  try {
    config = loadConfig(env, undefined, { credentials: false });
  } catch (err) {
    if (err instanceof ConfigError) return usage(err.message);
    throw err;
  }
  const only = positional[0] as ProviderName | undefined;
  if (only !== undefined && !config.providers.some((p) => p.name === only)) {
    return usage(`provider ${JSON.stringify(only)} is not in JANITOR_PROVIDERS (${config.providers.map((p) => p.name).join(', ')})${PROVIDER_NAMES.includes(only) ? '' : `; known providers: ${PROVIDER_NAMES.join(', ')}`}`);
  }

  const logger = createLogger(config.logLevel);
  const shutdown = createShutdown(logger, { graceMs: config.shutdownGraceMs });
  try {
    const redis = await connectRedis(config, shutdown, logger);
    // Plain handles on the queues: unlike the workers' openQueues, these change no queue setting.
    const queues = new Map(config.providers.map((pc) => {
      const queue = new Queue<DeleteJobData>(queueNameFor(pc.name), { connection: redis, prefix: config.queuePrefix });
      // Its errors are the shared connection's, logged by connectRedis; without a listener BullMQ prints them raw.
      queue.on('error', () => undefined);
      shutdown.onClose(`queue ${pc.name}`, () => queue.close());
      return [pc.name, queue] as const;
    }));
    const output = command === 'status'
      ? await readStatus(config, redis, queues).then((report) => (json ? JSON.stringify(report, null, 2) : renderStatus(report)))
      : await retryFailed(config, redis, queues, only).then((report) => (json ? JSON.stringify(report, null, 2) : renderRetryReport(report)));
    await shutdown.close();
    process.stdout.write(`${output}\n`);
    return 0;
  } catch (err) {
    await shutdown.close();
    return exitCodeForFailure(err, config, logger);
  }
}
