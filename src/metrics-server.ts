// The HTTP endpoint of long-running commands: /metrics (Prometheus), /healthz (alive), /readyz (Redis reachable).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from './logger.js';
import { withTimeout } from './metrics.js';

export interface MetricsServerOptions {
  readonly port: number;
  readonly registry: Registry;
  /** Resolves when the dependencies answer (Redis PING); rejects or hangs when they do not. */
  readonly ready: () => Promise<unknown>;
  readonly logger: Logger;
}

const READY_TIMEOUT_MS = 2_000;

/** Listens on every interface at `port` (0: a free one); resolves with the server once it listens. */
export async function startMetricsServer(options: MetricsServerOptions): Promise<{ server: Server; port: number; close: () => Promise<void> }> {
  const { registry, logger } = options;
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const reply = (status: number, body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, 'method not allowed\n');
    if (path === '/healthz') return reply(200, 'ok\n');
    if (path === '/readyz') {
      withTimeout(options.ready(), READY_TIMEOUT_MS).then(
        () => reply(200, 'ok\n'),
        (err: unknown) => reply(503, `not ready: Redis unreachable (${(err as Error).message})\n`),
      );
      return undefined;
    }
    if (path === '/metrics') {
      registry.metrics().then(
        (text) => reply(200, text, registry.contentType),
        (err: unknown) => {
          logger.warn({ err }, 'metrics collection failed');
          reply(500, 'metrics collection failed\n');
        },
      );
      return undefined;
    }
    return reply(404, 'not found: try /metrics, /healthz or /readyz\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, () => { server.off('error', reject); resolve(); });
  });
  const port = (server.address() as AddressInfo).port;
  logger.info({ port, paths: ['/metrics', '/healthz', '/readyz'] }, 'metrics server listening');
  return {
    server, port,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
