// The local fake cloud: one HTTP server speaking every provider API, with signature checks,
// deterministic seeding, latency, error rate, provider-side throttling and scripted faults.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ProviderName } from '../providers/catalog.js';
import { huaweiError, ProjectStore, type ApiSim, type OperationKind, type SeedFact, type SimRequest, type SimResponse } from './api.js';
import { SIMULATED_APIS } from './apis.js';
import { RecentNonces, verifyAlibabaRequest } from './auth/alibaba-verify.js';
import { verifyHuaweiRequest } from './auth/huawei-verify.js';
import type { PagingFault } from './paging-fault.js';
import { seededRandom } from './random.js';

/** The fixed credentials the simulator accepts; tests and the demo sign with these. */
export const SIMULATOR_CREDENTIALS = {
  huawei: { accessKey: 'SIMULATORHUAWEIAK0001', secretKey: 'simulator-huawei-secret-key-0001', token: 'simulator-iam-token-0001' },
  alibaba: { accessKeyId: 'SIMULATORALIBABAAK01', accessKeySecret: 'simulator-alibaba-secret-0001' },
} as const;

export interface Knobs {
  /** Added delay per request, in ms. */
  latencyMs: number;
  /** Probability (0..1) that a request answers with the provider's 5xx. */
  errorRate: number;
  /**
   * Requests per second per provider and API operation (list, get, delete, ...) before answering
   * with the provider's throttling error; 0 = unlimited. Per operation, as the clouds meter each API
   * on its own: a delete's re-read does not eat the delete quota.
   */
  rateLimitPerSecond: number;
  /** How far the simulated provider's clock is off (ms, + ahead): shifts the HTTP Date header every answer carries. */
  clockSkewMs: number;
}

export interface SimulatorOptions extends Partial<Knobs> {
  readonly host?: string;
  readonly port?: number;
  readonly seed?: number;
  /** Seeded tasks per project (default 0: tests usually `put` their own). */
  readonly tasksPerProject?: number;
  /** Providers whose projects are seeded (default all); the others start empty, e.g. one provider at a million tasks. */
  readonly seededProviders?: readonly ProviderName[];
  /** Project ids (Huawei) or project names (IMM) per provider; default one project each. */
  readonly projects?: Partial<Record<ProviderName, readonly string[]>>;
  readonly now?: () => Date;
  /** Huawei signing schemes accepted (default both), to mimic endpoints that take only one. */
  readonly huaweiSchemes?: readonly ('SDK-HMAC-SHA256' | 'V11-HMAC-SHA256')[];
  /** IoTDA task types refused with 400 (default none), to mimic an endpoint that does not know them all. */
  readonly iotdaRefusedTaskTypes?: readonly string[];
  /** The region of this IoTDA endpoint (default cn-north-4, as simulatorEnvironment sets): a V11 signature must name it. */
  readonly iotdaRegion?: string;
}

/** A scripted fault: the next `times` matching requests get `response` instead of the real answer. */
export interface Fault {
  readonly provider: ProviderName;
  readonly op: OperationKind['op'];
  readonly taskId?: string;
  times: number;
  readonly response: SimResponse;
  /** The request is carried out first, then answered with `response` (the provider acted; its answer got lost or garbled). */
  readonly applied?: true;
}

/** Which requests a test hook waits for: the `nth` (default first) matching one. */
export interface RequestMatch {
  readonly provider: ProviderName;
  readonly op: OperationKind['op'];
  readonly taskId?: string;
  readonly nth?: number;
}

/** A request as the simulator received it, for tests that check exactly what the janitor sent. */
export interface ReceivedCall extends OperationKind {
  readonly method: string;
  readonly path: string;
  readonly rawQuery: string;
  readonly body: string;
  readonly status: number;
  /** IoTDA's `Instance-Id` header, when sent. */
  readonly instanceId?: string;
  /** How the call authenticated: the Authorization scheme (`SDK-HMAC-SHA256`, `V11-HMAC-SHA256`, `ACS3-HMAC-SHA256`), `token` (X-Auth-Token) or `none`. */
  readonly scheme: string;
}

export interface ProviderCounters {
  list: number;
  cancel: number;
  restart: number;
  delete: number;
  get: number;
  throttled: number;
  /** Throttled answers to delete calls alone (the rest were reads). */
  throttledDeletes: number;
  serverErrors: number;
  authFailures: number;
  inFlightDeletes: number;
  maxConcurrentDeletes: number;
  deleteTimes: number[];
}

export interface Simulator {
  readonly url: string;
  readonly knobs: Knobs;
  readonly counters: Record<ProviderName, ProviderCounters>;
  /** Every request routed to a provider API, in order, with the status it was answered. */
  readonly requests: ReceivedCall[];
  /** Every successful delete, in order. */
  readonly deleted: { provider: ProviderName; project: string; id: string }[];
  /** What the seeder created, so tests compute expected deletions without our policy code. */
  facts(provider: ProviderName, project: string): readonly SeedFact[];
  /** Ids a correct janitor deletes, from the seeder's facts alone (an oracle independent of our policy). */
  expectedDeletions(provider: ProviderName, project: string, states: readonly string[], retentionMs: number): string[];
  /** The records currently stored. */
  records(provider: ProviderName, project: string): readonly Record<string, unknown>[];
  /** Adds a record in the API's own shape (for tests that need exact tasks). */
  put(provider: ProviderName, project: string, record: Record<string, unknown>): void;
  /** Changes fields of a stored record, as the provider would when the task moves on. */
  update(provider: ProviderName, project: string, id: string, fields: Record<string, unknown>): void;
  /** Removes a record without a delete call (someone else deleted it). */
  remove(provider: ProviderName, project: string, id: string): void;
  /** Restarts a finished record exactly as the provider's restart API would; throws when refused. */
  restart(provider: ProviderName, project: string, id: string): void;
  /**
   * Runs `action` once, right after the simulator answers the matching request (before the client
   * sees the answer): how tests change a task between its listing, its re-read and its delete.
   */
  onAnswered(match: RequestMatch, action: () => void): void;
  inject(fault: Fault): void;
  /** Makes the provider's list cursor cycle or repeat (IoTDA marker, IMM NextToken) until set back to undefined. */
  pagingFault(provider: ProviderName, fault: PagingFault | undefined): void;
  close(): Promise<void>;
}

export const DEFAULT_SIM_PROJECTS: Record<ProviderName, readonly string[]> = {
  imm: ['media-archive'],
  vias: ['0a1b2c3d4e5f60718293a4b5c6d7e8f9'],
  iotda: ['1b2c3d4e5f60718293a4b5c6d7e8f90a'],
  mpc: ['2c3d4e5f60718293a4b5c6d7e8f90a1b'],
  workspace: ['3d4e5f60718293a4b5c6d7e8f90a1b2c'],
};

const newCounters = (): ProviderCounters => ({ list: 0, cancel: 0, restart: 0, delete: 0, get: 0, throttled: 0, throttledDeletes: 0, serverErrors: 0, authFailures: 0, inFlightDeletes: 0, maxConcurrentDeletes: 0, deleteTimes: [] });

/** How a request authenticated: its Authorization scheme, `token` for an X-Auth-Token, else `none`. */
function schemeOf(req: SimRequest): string {
  const authorization = req.headers.authorization;
  if (typeof authorization === 'string' && authorization !== '') return authorization.split(' ')[0] ?? '';
  return req.headers['x-auth-token'] !== undefined ? 'token' : 'none';
}

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const now = options.now ?? (() => new Date());
  const seed = options.seed ?? 42;
  // Each project gets its own stream, so adding a provider never changes another one's tasks.
  const streamFor = (label: string) => seededRandom([...label].reduce((h, c) => Math.imul(h ^ c.charCodeAt(0), 16_777_619) >>> 0, seed >>> 0));
  const random = streamFor('faults');
  const alibabaNonces = new RecentNonces();
  const knobs: Knobs = { latencyMs: options.latencyMs ?? 0, errorRate: options.errorRate ?? 0, rateLimitPerSecond: options.rateLimitPerSecond ?? 0, clockSkewMs: options.clockSkewMs ?? 0 };
  const stores = new Map<string, ProjectStore>();
  const facts = new Map<string, SeedFact[]>();
  const counters = Object.fromEntries(SIMULATED_APIS.map((a) => [a.provider, newCounters()])) as Record<ProviderName, ProviderCounters>;
  const deleted: Simulator['deleted'] = [];
  const requests: ReceivedCall[] = [];
  const faults: Fault[] = [];
  const hooks: { match: RequestMatch; seen: number; action: () => void }[] = [];
  const windows = new Map<string, { second: number; count: number }>();
  const pagingFaults = new Map<ProviderName, PagingFault>();
  const storeKey = (provider: ProviderName, project: string) => `${provider}/${project}`;

  for (const api of SIMULATED_APIS) {
    for (const project of options.projects?.[api.provider] ?? DEFAULT_SIM_PROJECTS[api.provider]) {
      const store = new ProjectStore();
      const projectRandom = streamFor(`${api.provider}/${project}`);
      const projectFacts: SeedFact[] = [];
      const seeded = options.seededProviders === undefined || options.seededProviders.includes(api.provider);
      for (let i = 0; i < (seeded ? options.tasksPerProject ?? 0 : 0); i++) {
        const { record, fact } = api.seedTask(projectRandom, now(), i);
        store.set(fact.id, record);
        projectFacts.push(fact);
      }
      stores.set(storeKey(api.provider, project), store);
      facts.set(storeKey(api.provider, project), projectFacts);
    }
  }

  async function answer(req: SimRequest, routed: { op?: OperationKind }): Promise<SimResponse & { requestId: string; api?: ApiSim }> {
    const requestId = randomUUID().replace(/-/g, '');
    // Introspection for humans and benchmarks; not part of any provider API.
    if (req.method === 'GET' && req.path === '/_sim/stats') return { status: 200, body: { counters, deleted: deleted.length }, requestId };
    let api: ApiSim | undefined;
    let op: OperationKind | undefined;
    for (const candidate of SIMULATED_APIS) {
      op = candidate.route(req);
      if (op) { api = candidate; break; }
    }
    if (!api || !op) return { ...huaweiError(404, 'APIGW.0101', 'The API does not exist or has not been published in the environment.', requestId), requestId };
    routed.op = op;
    const count = counters[api.provider];
    const auth = api.cloud === 'huawei'
      ? verifyHuaweiRequest(req, new Map([[SIMULATOR_CREDENTIALS.huawei.accessKey, SIMULATOR_CREDENTIALS.huawei.secretKey]]), now(), {
        iamToken: SIMULATOR_CREDENTIALS.huawei.token, ...(api.provider === 'iotda' ? { derivedServiceName: 'iotdm', regionId: options.iotdaRegion ?? 'cn-north-4' } : {}),
      })
      : verifyAlibabaRequest(req, new Map([[SIMULATOR_CREDENTIALS.alibaba.accessKeyId, SIMULATOR_CREDENTIALS.alibaba.accessKeySecret]]), now(), { seenNonce: alibabaNonces.check });
    const scheme = schemeOf(req);
    if (api.cloud === 'huawei' && api.authSchemes !== undefined && !api.authSchemes.includes(scheme === 'token' ? 'token' : 'aksk')) {
      count.authFailures += 1;
      return { ...huaweiError(401, 'APIGW.0301', 'Incorrect IAM authentication information: x-auth-token not found', requestId), requestId, api };
    }
    const schemeRefused = api.cloud === 'huawei' && options.huaweiSchemes !== undefined && scheme.endsWith('-HMAC-SHA256')
      && !(options.huaweiSchemes as readonly string[]).includes(scheme);
    if (schemeRefused) count.authFailures += 1;
    if (schemeRefused) return { ...huaweiError(401, 'APIGW.0301', 'Incorrect IAM authentication information: verify aksk signature fail', requestId), requestId, api };
    if (!auth.ok) {
      count.authFailures += 1;
      const body = api.cloud === 'huawei'
        ? { error_code: auth.code, error_msg: auth.message, request_id: requestId }
        : { RequestId: requestId, HostId: req.headers.host, Code: auth.code, Message: auth.message, Recommend: 'https://api.aliyun.com/troubleshoot' };
      return { status: auth.status, body, requestId, api };
    }
    if (knobs.rateLimitPerSecond > 0) {
      const second = Math.floor(Date.now() / 1000);
      const windowKey = `${api.provider} ${op.op}`;
      const window = windows.get(windowKey);
      const current = window && window.second === second ? window : { second, count: 0 };
      current.count += 1;
      windows.set(windowKey, current);
      if (current.count > knobs.rateLimitPerSecond) {
        count.throttled += 1;
        if (op.op === 'delete') count.throttledDeletes += 1;
        return { ...api.throttled(requestId), requestId, api };
      }
    }
    const fault = faults.find((f) => f.provider === op.provider && f.op === op.op && f.times > 0 && (f.taskId === undefined || f.taskId === op.taskId));
    // Counted as it is matched: requests arriving together during the latency do not all take it.
    if (fault) fault.times -= 1;
    count[op.op] += 1;
    const deleting = op.op === 'delete';
    if (deleting) {
      count.inFlightDeletes += 1;
      count.maxConcurrentDeletes = Math.max(count.maxConcurrentDeletes, count.inFlightDeletes);
      count.deleteTimes.push(Date.now());
    }
    try {
      if (knobs.latencyMs > 0) await sleep(knobs.latencyMs);
      const handle = (routedApi: ApiSim, routedOp: OperationKind) => routedApi.handle(req, routedOp, {
        now: now(),
        store: (project) => stores.get(storeKey(routedOp.provider, project)),
        onDeleted: (project, id) => deleted.push({ provider: routedOp.provider, project, id }),
        ...(pagingFaults.has(routedOp.provider) ? { pagingFault: pagingFaults.get(routedOp.provider) } : {}),
        ...(options.iotdaRefusedTaskTypes ? { iotdaRefusedTaskTypes: options.iotdaRefusedTaskTypes } : {}),
      });
      if (fault) {
        if (fault.applied) handle(api, op);
        return { ...fault.response, requestId, api };
      }
      if (knobs.errorRate > 0 && random() < knobs.errorRate) {
        count.serverErrors += 1;
        return { ...api.serverError(requestId), requestId, api };
      }
      return { ...handle(api, op), requestId, api };
    } finally {
      if (deleting) count.inFlightDeletes -= 1;
    }
  }

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      const raw = request.url ?? '/';
      const q = raw.indexOf('?');
      const sim: SimRequest = {
        method: request.method ?? 'GET', path: q < 0 ? raw : raw.slice(0, q), rawQuery: q < 0 ? '' : raw.slice(q + 1),
        query: new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)), headers: request.headers, body: Buffer.concat(chunks),
      };
      const routed: { op?: OperationKind } = {};
      answer(sim, routed).then((out) => {
        // Serialised before any hook runs: a hook changes the store, never an answer already given.
        const body = out.raw ? out.raw.text : out.body === undefined ? '' : JSON.stringify(out.body);
        const op = routed.op;
        for (const hook of op ? hooks.filter((h) => h.match.provider === op.provider && h.match.op === op.op && (h.match.taskId === undefined || h.match.taskId === op.taskId)) : []) {
          hook.seen += 1;
          if (hook.seen === (hook.match.nth ?? 1)) hook.action();
        }
        const instanceId = sim.headers['instance-id'];
        if (routed.op) {
          requests.push({
            ...routed.op, method: sim.method, path: sim.path, rawQuery: sim.rawQuery, body: sim.body.toString('utf8'), status: out.status,
            ...(typeof instanceId === 'string' ? { instanceId } : {}), scheme: schemeOf(sim),
          });
        }
        const headers: Record<string, string> = { ...out.headers };
        if (out.api?.cloud !== 'alibaba') headers['X-Request-Id'] = out.requestId;
        // Every HTTP/1.1 origin server sends Date (RFC 9110 §6.6.1), from its own clock.
        headers.Date = new Date(Date.now() + knobs.clockSkewMs).toUTCString();
        if (out.raw) headers['Content-Type'] = out.raw.contentType;
        else if (body) headers['Content-Type'] = 'application/json;charset=UTF-8';
        // A hanging answer is never written; close() ends its connection.
        if (!out.hang) response.writeHead(out.status, headers).end(body);
      }).catch((err: unknown) => {
        response.writeHead(500, { 'Content-Type': 'text/plain' }).end(`simulator error: ${(err as Error).message}`);
      });
    });
  });
  // Like an API gateway, keep idle connections a while: a client's keep-alive agent reuses them.
  // (At 1 s, Node's agents drop every socket at once: they subtract a second from the hint.)
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve));
  const address = server.address() as AddressInfo;

  return {
    url: `http://${options.host ?? '127.0.0.1'}:${address.port}`,
    knobs,
    counters,
    requests,
    deleted,
    facts: (provider, project) => facts.get(storeKey(provider, project)) ?? [],
    expectedDeletions: (provider, project, states, retentionMs) => {
      const selected = new Set(states.map((s) => s.toLowerCase()));
      return (facts.get(storeKey(provider, project)) ?? [])
        .filter((f) => !f.undeletable && f.ageMs !== undefined && f.ageMs > retentionMs && f.states.length > 0 && f.states.every((s) => selected.has(s.toLowerCase())))
        .map((f) => f.id)
        .sort();
    },
    records: (provider, project) => [...(stores.get(storeKey(provider, project))?.values() ?? [])],
    put(provider, project, record) {
      const key = storeKey(provider, project);
      const store = stores.get(key) ?? new ProjectStore();
      stores.set(key, store);
      const api = SIMULATED_APIS.find((a) => a.provider === provider);
      const idField = api ? api.idField : 'id';
      store.set(String(record[idField]), record);
    },
    update(provider, project, id, fields) {
      const record = stores.get(storeKey(provider, project))?.get(id);
      if (!record) throw new Error(`simulator: no ${provider} record ${id} in ${project}`);
      Object.assign(record, fields);
    },
    remove(provider, project, id) {
      stores.get(storeKey(provider, project))?.delete(id);
    },
    restart(provider, project, id) {
      const api = SIMULATED_APIS.find((a) => a.provider === provider);
      const record = stores.get(storeKey(provider, project))?.get(id);
      if (!api?.restart || !record) throw new Error(`simulator: cannot restart ${provider} record ${id} in ${project}`);
      const refused = api.restart(record, now());
      if (refused) throw new Error(`simulator: ${provider} refused to restart ${id}: ${JSON.stringify(refused.body)}`);
    },
    onAnswered(match, action) {
      hooks.push({ match, seen: 0, action });
    },
    inject: (fault) => { faults.push(fault); },
    pagingFault(provider, fault) {
      if (fault === undefined) pagingFaults.delete(provider);
      else pagingFaults.set(provider, fault);
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
