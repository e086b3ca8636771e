// An empty result may come without its array (absent or null) where the count says there is nothing:
// the documented envelopes show the array, but none promises it when there are no records.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { ProviderName } from '../../src/providers/catalog.js';
import type { Provider } from '../../src/providers/provider.js';
import { createProviders } from '../../src/providers/registry.js';
import { huaweiError, json } from '../../src/simulator/api.js';
import { DEFAULT_SIM_PROJECTS, type Simulator } from '../../src/simulator/server.js';
import { simulatorEnv, useSimulators } from '../helpers/janitor.js';
import { listPages } from '../helpers/provider.js';

const fixture = useSimulators('empty-lists');

function providerOf(s: Simulator, name: ProviderName): Provider {
  return createProviders(loadConfig(simulatorEnv(s, [name], 'jt-empty-lists'))).get(name) as Provider;
}

/** Each list API's empty answer, without its array and with it null, and the same envelope claiming records. */
const EMPTY: readonly { provider: 'iotda' | 'vias' | 'mpc' | 'workspace'; without: object; nulled: object; claiming: object }[] = [
  { provider: 'iotda', without: { page: { count: 0 } }, nulled: { batchtasks: null, page: { count: 0, marker: null } }, claiming: { page: { count: 3 } } },
  { provider: 'vias', without: { count: 0 }, nulled: { count: 0, batch_task_list: null }, claiming: { count: 3 } },
  { provider: 'mpc', without: { total: 0 }, nulled: { total: 0, tasks: null }, claiming: { total: 3 } },
  { provider: 'workspace', without: { total_count: 0 }, nulled: { total_count: 0, jobs: null }, claiming: { total_count: 3 } },
];

describe('list answers without their array', () => {
  for (const { provider: name, without, nulled, claiming } of EMPTY) {
    it(`${name}: an absent or null array with a count of 0 is an empty listing; with records counted it fails the listing`, async () => {
      const project = DEFAULT_SIM_PROJECTS[name][0] as string;
      // A simulator of its own for each answer: every list call of the walk gets it.
      const answering = async (body: object) => {
        const sim = await fixture.start({ tasksPerProject: 0 });
        sim.inject({ provider: name, op: 'list', times: 1_000, response: json(200, body) });
        return listPages(providerOf(sim, name), project);
      };
      for (const body of [without, nulled]) expect(await answering(body), JSON.stringify(body)).toEqual([]);
      await expect(answering(claiming)).rejects.toMatchObject({ kind: 'permanent', message: expect.stringMatching(/unexpected list response: no "\w+" array/) });
    });
  }

  it('mpc: a task_id look-up answered {"total": 0} is the record gone, for a re-read and after MPC.10211 on a delete', async () => {
    const sim = await fixture.start({ tasksPerProject: 0 });
    const project = DEFAULT_SIM_PROJECTS.mpc[0] as string;
    const provider = providerOf(sim, 'mpc');
    sim.inject({ provider: 'mpc', op: 'get', times: 1, response: json(200, { total: 0 }) });
    expect(await provider.getTask(project, { id: '123' })).toEqual({ kind: 'gone' });
    sim.inject({ provider: 'mpc', op: 'delete', times: 1, response: huaweiError(403, 'MPC.10211', 'Task status is not allowed to delete.') });
    sim.inject({ provider: 'mpc', op: 'get', times: 1, response: json(200, { total: 0 }) });
    expect((await provider.deleteTasks(project, ['123'])).outcomes).toMatchObject([{ id: '123', result: 'gone' }]);
  });
});
