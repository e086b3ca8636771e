// Driving a provider adapter directly: read every page of a listing, and catch the ProviderError a call ends with.
import { ProviderError, type CloudTask, type Provider } from '../../src/providers/provider.js';

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
