// `task-janitor simulate`: runs the provider simulator in the foreground and prints how to point at it.
import { parseArgs } from 'node:util';
import { PROVIDER_NAMES, type ProviderName } from '../providers/catalog.js';
import { simulatorEnvironment } from './env.js';
import { startSimulator } from './server.js';

export const SIMULATE_HELP = `Usage: task-janitor simulate [options]

Starts the local provider simulator (every supported provider API on one port, with signature
checks, paging, error bodies and throttling) and keeps it running until Ctrl-C.

Options:
  --port N          port to listen on (default 8787; 0 picks a free one)
  --host H          address to bind (default 127.0.0.1)
  --tasks N         seeded tasks per project (default 2000)
  --providers LIST  seed only these providers, comma list (default all; e.g. iotda at 1000000 tasks)
  --seed N          seed of the deterministic task generator (default 42)
  --latency MS      added latency per request (default 0)
  --error-rate R    probability 0..1 of a provider 5xx per request (default 0)
  --rate-limit N    requests per second per provider and API operation before throttling answers (default 0 = off)
  --clock-skew S    seconds the simulated providers' clock (HTTP Date header) is ahead, negative behind (default 0)`;

function number(name: string, raw: string | undefined, fallback: number, max: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || n > max) throw new Error(`--${name}: got ${JSON.stringify(raw)}; expected a number from 0 to ${max}`);
  return n;
}

function skewSeconds(raw: string | undefined): number {
  if (raw === undefined) return 0;
  const n = Number(raw);
  if (!/^-?\d{1,9}$/.test(raw.trim()) || !Number.isFinite(n)) throw new Error(`--clock-skew: got ${JSON.stringify(raw)}; expected whole seconds, negative for a clock behind`);
  return n;
}

function providerList(raw: string): ProviderName[] {
  const names = raw.split(',').map((p) => p.trim()).filter((p) => p !== '');
  const bad = names.filter((n) => !(PROVIDER_NAMES as readonly string[]).includes(n));
  if (names.length === 0 || bad.length > 0) throw new Error(`--providers: got ${JSON.stringify(raw)}; expected a comma list of ${PROVIDER_NAMES.join(', ')}`);
  return names as ProviderName[];
}

export async function runSimulatorCommand(args: readonly string[]): Promise<number> {
  let options;
  try {
    const { values } = parseArgs({
      args: [...args], strict: true,
      options: { port: { type: 'string' }, host: { type: 'string' }, tasks: { type: 'string' }, seed: { type: 'string' }, latency: { type: 'string' }, 'error-rate': { type: 'string' }, 'rate-limit': { type: 'string' }, 'clock-skew': { type: 'string' }, providers: { type: 'string' } },
    });
    options = {
      port: number('port', values.port, 8787, 65535), host: values.host ?? '127.0.0.1', tasksPerProject: number('tasks', values.tasks, 2000, 1_000_000),
      seed: number('seed', values.seed, 42, 2 ** 32), latencyMs: number('latency', values.latency, 0, 60_000),
      errorRate: number('error-rate', values['error-rate'], 0, 1), rateLimitPerSecond: number('rate-limit', values['rate-limit'], 0, 1_000_000),
      clockSkewMs: skewSeconds(values['clock-skew']) * 1000,
      ...(values.providers === undefined ? {} : { seededProviders: providerList(values.providers) }),
    };
  } catch (err) {
    process.stderr.write(`task-janitor simulate: ${(err as Error).message}\n\n${SIMULATE_HELP}\n`);
    return 2;
  }
  const sim = await startSimulator(options);
  const env = Object.entries({ JANITOR_PROVIDERS: PROVIDER_NAMES.join(','), ...simulatorEnvironment(sim.url, PROVIDER_NAMES) }).map(([name, value]) => `${name}=${value}`);
  process.stdout.write(`simulator listening on ${sim.url} (${options.tasksPerProject} tasks per project, seed ${options.seed})\nPoint task-janitor at it with:\n${env.map((e) => `  export ${e}`).join('\n')}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await sim.close();
  return 0;
}
