// A call is signed when it is sent, after it waited for its budget slot: a read may wait long behind
// throttling (a paused API, a lowered rate, the listing places), and both gateways refuse a signature
// dated more than 15 minutes from their clock (APIG's X-Sdk-Date, ACS3's x-acs-date).
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { CallBudget } from '../../src/limiter.js';
import { alibabaAuthFrom } from '../../src/providers/alibaba-api.js';
import { huaweiAuthFrom } from '../../src/providers/huawei-api.js';
import { createHttpClient } from '../../src/providers/http.js';
import { createImmProvider } from '../../src/providers/imm.js';
import { createMpcProvider } from '../../src/providers/mpc.js';
import { mpcTime } from '../../src/simulator/mpc.js';
import { DEFAULT_SIM_PROJECTS } from '../../src/simulator/server.js';
import { simulatorEnv, useSimulators } from '../helpers/janitor.js';

const DAY = 86_400_000;
const fixture = useSimulators('sign-at-send');
const http = createHttpClient({ timeoutMs: 5_000 });

/**
 * A clock 16 minutes behind until the call's slot is granted: as if the call had waited 16 minutes
 * for it. A signature made before the wait is then dated 16 minutes before the send.
 */
function slowSlot(): { now: () => Date; budget: CallBudget; waited: () => number } {
  let behindMs = 16 * 60_000;
  let waits = 0;
  return {
    now: () => new Date(Date.now() - behindMs),
    budget: {
      take: () => {
        waits += 1;
        behindMs = 0;
        return Promise.resolve(() => undefined);
      },
      throttled: () => Promise.resolve(0),
    },
    waited: () => waits,
  };
}

describe('signing at send time', () => {
  it('IMM: a GetBatch that waited 16 minutes for its slot is dated when it is sent (ACS3 x-acs-date)', async () => {
    const sim = await fixture.start();
    const project = DEFAULT_SIM_PROJECTS.imm[0] as string;
    sim.put('imm', project, { Id: 'batch-1', State: 'Succeeded', CreateTime: '2020-11-10T03:50:28Z', UpdateTime: '2020-11-10T03:50:28Z' });
    const config = loadConfig(simulatorEnv(sim, ['imm'], fixture.prefix()));
    const pc = config.providers[0];
    if (!pc) throw new Error('imm not configured');
    const clock = slowSlot();
    const provider = createImmProvider(pc, { http, auth: alibabaAuthFrom(config.alibabaAuth), now: clock.now, budget: clock.budget });
    expect((await provider.getTask(project, { id: 'batch-1' })).kind).toBe('found');
    expect(clock.waited()).toBe(1);
  });

  it('MPC: a look-up that waited 16 minutes for its slot is dated when it is sent (APIG X-Sdk-Date)', async () => {
    const sim = await fixture.start();
    const project = DEFAULT_SIM_PROJECTS.mpc[0] as string;
    const ended = new Date(Date.now() - 30 * DAY);
    sim.put('mpc', project, { task_id: '4242', status: 'SUCCEED', create_time: mpcTime(ended), start_time: mpcTime(ended), end_time: mpcTime(ended) });
    const config = loadConfig(simulatorEnv(sim, ['mpc'], fixture.prefix()));
    const pc = config.providers[0];
    if (!pc?.huaweiAuth) throw new Error('mpc not configured');
    const clock = slowSlot();
    const provider = createMpcProvider(pc, { http, auth: huaweiAuthFrom(pc.huaweiAuth), now: clock.now, budget: clock.budget });
    expect((await provider.getTask(project, { id: '4242' })).kind).toBe('found');
    expect(clock.waited()).toBe(1);
  });
});
