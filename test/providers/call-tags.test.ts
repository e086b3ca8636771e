// Every provider call carries its operation (list, get, delete): the metrics count calls and
// throttled answers by it, a listing's call takes a P_LIST_CONCURRENCY place by it, and the server
// clock is read on list and get answers only. The tag travels with the call, not in an
// AsyncLocalStorage, so these pin down what the context used to give.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { ProviderCallObserver, ProviderOperation } from '../../src/providers/call-context.js';
import type { ProviderName } from '../../src/providers/catalog.js';
import { createProviders } from '../../src/providers/registry.js';
import { apigThrottled } from '../../src/simulator/api.js';
import { iotdaTime } from '../../src/simulator/iotda.js';
import { DEFAULT_SIM_PROJECTS } from '../../src/simulator/server.js';
import { simulatorEnv, useSimulators } from '../helpers/janitor.js';
import { listPages, providerErrorOf } from '../helpers/provider.js';

const DAY = 86_400_000;
const IOTDA = DEFAULT_SIM_PROJECTS.iotda[0] as string;
const MPC = DEFAULT_SIM_PROJECTS.mpc[0] as string;
const fixture = useSimulators('call-tags');

/** An observer that keeps what it was told, as `provider operation status`. */
function recorder() {
  const calls: string[] = [];
  const throttled: string[] = [];
  const observer: ProviderCallObserver = {
    called: (provider: ProviderName, operation: ProviderOperation, status) => calls.push(`${provider} ${operation} ${String(status)}`),
    throttled: (provider: ProviderName, operation: ProviderOperation) => throttled.push(`${provider} ${operation}`),
  };
  return { observer, calls, throttled };
}

describe('call tags', () => {
  it('counts each call and each throttled answer under the operation it served, and reads the clock on list and get answers', async () => {
    const sim = await fixture.start();
    const id = 'abcdef0123456789abcdef01';
    sim.put('iotda', IOTDA, { task_id: id, task_name: 't', task_type: 'createDevices', status: 'Success', create_time: iotdaTime(new Date(Date.now() - 30 * DAY)) });
    const config = loadConfig(simulatorEnv(sim, ['iotda', 'mpc'], fixture.prefix(), { IOTDA_TASK_TYPES: 'createDevices', JANITOR_DRY_RUN: 'true' }));
    const seen = recorder();
    const providers = createProviders(config, undefined, seen.observer);
    const iotda = providers.get('iotda');
    const mpc = providers.get('mpc');
    if (!iotda || !mpc) throw new Error('providers not built');

    // A throttled list page is retried by the adapter: counted as a throttled list call, then the page.
    sim.inject({ provider: 'iotda', op: 'list', times: 1, response: { ...apigThrottled('r1'), headers: { 'Retry-After': '0' } } });
    expect((await listPages(iotda, IOTDA)).flat().map((t) => t.id)).toEqual([id]);
    expect(seen.calls).toEqual(['iotda list 429', 'iotda list 200']);
    expect(seen.throttled).toEqual(['iotda list']);
    expect(iotda.serverClock?.skewMs()).toBeDefined();
    expect(iotda.serverClock?.readSkewMs?.()).toBeUndefined();

    // A throttled re-read fails the read: one throttled get, counted once.
    seen.calls.length = 0;
    sim.inject({ provider: 'iotda', op: 'get', taskId: id, times: 1, response: apigThrottled('r2') });
    expect(await providerErrorOf(iotda.getTask(IOTDA, { id }))).toMatchObject({ kind: 'throttled' });
    expect((await iotda.getTask(IOTDA, { id })).kind).toBe('found');
    expect(seen.calls).toEqual(['iotda get 429', 'iotda get 200']);
    expect(seen.throttled).toEqual(['iotda list', 'iotda get']);
    expect(iotda.serverClock?.readSkewMs?.()).toBeDefined();

    seen.calls.length = 0;
    expect((await iotda.deleteTasks(IOTDA, [id])).outcomes).toMatchObject([{ id, result: 'deleted' }]);
    expect(seen.calls).toEqual(['iotda delete 204']);

    // MPC's look-up after a MPC.10211 delete answer is a read made for the delete: counted as a delete call.
    seen.calls.length = 0;
    expect((await mpc.deleteTasks(MPC, ['999999'])).outcomes).toMatchObject([{ id: '999999', result: 'gone' }]);
    expect(seen.calls).toEqual(['mpc delete 403', 'mpc delete 200']);
    expect(seen.throttled).toEqual(['iotda list', 'iotda get']);
    expect(mpc.serverClock?.skewMs()).toBeUndefined();
  });
});
