// Every fake provider API the simulator serves, in routing order.
import type { ApiSim } from './api.js';
import { immSim } from './imm.js';
import { iotdaSim } from './iotda.js';
import { mpcSim } from './mpc.js';
import { viasSim } from './vias.js';
import { workspaceSim } from './workspace.js';

export const SIMULATED_APIS: readonly ApiSim[] = [immSim, iotdaSim, mpcSim, viasSim, workspaceSim];
