// Static facts of each provider's API (state vocabulary, deletable states, endpoints) that config and
// policy need before any provider is built. Sources: docs/providers.md, sections named per entry.

/** The five supported delete targets, as named in JANITOR_PROVIDERS. */
export const PROVIDER_NAMES = ['imm', 'vias', 'iotda', 'mpc', 'workspace'] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];

/** Which cloud signs the provider's requests. */
export type Cloud = 'huawei' | 'alibaba';

export interface ProviderFacts {
  readonly cloud: Cloud;
  /** Every state value the list API documents; anything else is an unknown state and is never deleted. */
  readonly knownStates: readonly string[];
  /** States the delete API accepts; P_STATES must be a subset. */
  readonly deletableStates: readonly string[];
  /** States deleted when P_STATES is unset. */
  readonly defaultStates: readonly string[];
  /** Base URL for a region, used when P_ENDPOINT is unset. */
  readonly endpointFor: (region: string) => string;
  /** How many task ids one delete call takes (Workspace batch-delete takes 1 to 10). */
  readonly maxBatchSize: number;
}

const huaweiHost = (service: string) => (region: string) => `https://${service}.${region}.myhuaweicloud.com`;

// VIAS sub-task states (§2a); a batch is terminal when every non-zero count is in the selected set.
const VIAS_STATES = [
  'pending', 'recovering', 'starting', 'upgrading', 'create_failed', 'start_failed', 'running', 'stopping',
  'stopped', 'abnormal', 'succeeded', 'failed', 'deleting', 'freezing', 'frozen', 'stopped_no_service',
  'scheduling', 'lack_of_resources',
] as const;

export const PROVIDER_FACTS: Readonly<Record<ProviderName, ProviderFacts>> = {
  // §1: DeleteBatch accepts Ready, Failed, Suspended, Succeeded; Ready/Suspended are opt-in;
  // Failed and Suspended batches can be resumed (ResumeBatch), so every delete is preceded by GetBatch.
  imm: {
    cloud: 'alibaba',
    knownStates: ['Ready', 'Running', 'Failed', 'Suspended', 'Succeeded'],
    deletableStates: ['Ready', 'Failed', 'Suspended', 'Succeeded'],
    defaultStates: ['Succeeded', 'Failed'],
    endpointFor: (region) =>
      region === 'cn-beijing-gov-1' ? 'https://imm-vpc.cn-beijing-gov-1.aliyuncs.com' : `https://imm.${region}.aliyuncs.com`,
    maxBatchSize: 1,
  },
  // §2: deletable states are not documented; only sub-task states that can never run again are allowed.
  vias: {
    cloud: 'huawei',
    knownStates: VIAS_STATES,
    deletableStates: ['succeeded', 'failed', 'create_failed', 'start_failed', 'stopped'],
    defaultStates: ['succeeded', 'failed', 'create_failed', 'start_failed'],
    endpointFor: huaweiHost('vias'),
    maxBatchSize: 1,
  },
  // §3: only completed tasks are deletable.
  iotda: {
    cloud: 'huawei',
    knownStates: ['Initializing', 'Waitting', 'Processing', 'Success', 'Fail', 'PartialSuccess', 'Stopped', 'Stopping'],
    deletableStates: ['Success', 'Fail', 'PartialSuccess', 'Stopped'],
    defaultStates: ['Success', 'Fail', 'PartialSuccess', 'Stopped'],
    endpointFor: huaweiHost('iotda'),
    maxBatchSize: 1,
  },
  // §4: cn-north-1 is the legacy mts host.
  mpc: {
    cloud: 'huawei',
    knownStates: ['INIT', 'WAITING', 'PROCESSING', 'SUCCEED', 'FAILED', 'CANCELED'],
    deletableStates: ['SUCCEED', 'FAILED', 'CANCELED'],
    defaultStates: ['SUCCEED', 'FAILED', 'CANCELED'],
    endpointFor: (region) => (region === 'cn-north-1' ? 'https://mts.cn-north-1.myhuaweicloud.com' : huaweiHost('mpc')(region)),
    maxBatchSize: 1,
  },
  // §5: batch-delete takes 1 to 10 sub-job ids.
  workspace: {
    cloud: 'huawei',
    knownStates: ['WAITING', 'RUNNING', 'SUCCESS', 'FAILED'],
    deletableStates: ['SUCCESS', 'FAILED'],
    defaultStates: ['SUCCESS', 'FAILED'],
    endpointFor: huaweiHost('workspace'),
    maxBatchSize: 10,
  },
};

/**
 * IoTDA's ListBatchTasks requires task_type, so a client that wants every task lists each type: the
 * default walk is every value the API reference names (§3a), in its order. Four of them are not in
 * the official SDK's enum (moduleUpgrade, createMessages, updateDevices, changeGateway); an endpoint
 * that refuses one answers 400, and that type is a warning, not a failure: missing a documented type
 * would leave its tasks for ever.
 */
export const IOTDA_TASK_TYPES = [
  'softwareUpgrade', 'firmwareUpgrade', 'moduleUpgrade', 'createDevices', 'deleteDevices', 'freezeDevices', 'unfreezeDevices',
  'createCommands', 'createAsyncCommands', 'createMessages', 'updateDeviceShadows', 'updateDevices', 'changeGateway',
] as const;

/** Workspace sub-job types the batch-delete API refuses (§5b): never candidates. */
export const WORKSPACE_UNDELETABLE_TYPES = ['changeAccessVpc', 'cancelWorkspace', 'applyWorkspace'] as const;

/** Finds the catalog spelling of a state, comparing case-insensitively (VIAS docs use both cases). */
export function canonicalState(facts: ProviderFacts, state: string): string | undefined {
  const wanted = state.trim().toLowerCase();
  return facts.knownStates.find((known) => known.toLowerCase() === wanted);
}

/**
 * A state as an adapter reports it: the catalog's spelling when the API documents the value in any
 * letter case, else the value exactly as given, which the policy then keeps as an unknown state.
 */
export function canonicalSpelling(provider: ProviderName, state: string): string {
  // Case only (the VIAS docs use both cases); padding is not a documented spelling, so it stays unknown.
  const wanted = state.toLowerCase();
  return PROVIDER_FACTS[provider].knownStates.find((known) => known.toLowerCase() === wanted) ?? state;
}
