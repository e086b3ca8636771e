// Driving a provider adapter directly: read every page of a listing, and catch the ProviderError a call ends with.
import { ProviderError, type CloudTask, type Provider } from '../../src/providers/provider.js';
import type { Simulator } from '../../src/simulator/server.js';

/** Every page a listing yields, in order, each copied as it arrives. */
export async function listPages(provider: Provider, project: string): Promise<CloudTask[][]> {
  const pages: CloudTask[][] = [];
  for await (const page of provider.listTasks(project)) pages.push([...page]);
  return pages;
}

/** The ProviderError the promise rejects with; anything else (including success) fails the test. */
export async function providerErrorOf(promise: Promise<unknown>): Promise<ProviderError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  if (!(err instanceof ProviderError)) throw new Error(`expected a ProviderError, got ${String(err)}`);
  return err;
}

/** Every CancelRemuxTask request the simulator received for `project` (the janitor must send none). */
export function mpcCancelCalls(sim: Simulator, project: string): { project: string; taskId: string | undefined }[] {
  return sim.requests.filter((r) => r.provider === 'mpc' && r.op === 'cancel' && r.project === project).map((r) => ({ project, taskId: r.taskId }));
}

/** One Workspace batch-delete request as received: which ids, or which status, it asked to delete. */
export interface WorkspaceDeleteCall {
  readonly project: string;
  readonly jobIds?: readonly unknown[];
  readonly deleteByStatus?: unknown;
  readonly status: number;
}

/** Every batch-delete request with a JSON object body the simulator received for `project`, in order. */
export function workspaceDeleteCalls(sim: Simulator, project: string): WorkspaceDeleteCall[] {
  return sim.requests.filter((r) => r.provider === 'workspace' && r.op === 'delete' && r.project === project).flatMap((r) => {
    let body: unknown;
    try { body = JSON.parse(r.body); } catch { return []; }
    if (body === null || typeof body !== 'object') return [];
    const b = body as Record<string, unknown>;
    return [{
      project, status: r.status,
      ...('job_ids' in b ? { jobIds: Array.isArray(b.job_ids) ? b.job_ids : [b.job_ids] } : {}),
      ...('delete_by_status' in b ? { deleteByStatus: b.delete_by_status } : {}),
    }];
  });
}
