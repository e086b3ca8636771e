// Every fake provider API the simulator serves, in routing order.
import type { ApiSim } from './api.js';
import { iotdaSim } from './iotda.js';

export const SIMULATED_APIS: readonly ApiSim[] = [iotdaSim];
