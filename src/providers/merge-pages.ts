// Walks several page sources side by side (IoTDA's task types, a provider's projects), a bounded
// number at a time, yielding each page as it arrives; each source keeps its own page order.

/**
 * Yields the pages of every source, with at most `concurrency` sources open at once. A source's
 * next page is asked for while the consumer handles the current one, so each open source is at most
 * one page ahead. The first failure ends the walk (the other open sources are closed) and is thrown.
 */
export async function* mergePages<T>(sources: readonly (() => AsyncIterable<T>)[], concurrency: number): AsyncGenerator<T> {
  const waiting = [...sources];
  const open = new Map<number, { iterator: AsyncIterator<T>; next: Promise<{ id: number; result: IteratorResult<T> }> }>();
  let ids = 0;
  const pull = (id: number, iterator: AsyncIterator<T>) => {
    const next = iterator.next().then((result) => ({ id, result }));
    // A prefetched page may fail while the consumer is still busy with the last one: marked handled
    // here (else Node reports an unhandled rejection, fatal by default), it is thrown by the race below.
    next.catch(() => undefined);
    open.set(id, { iterator, next });
  };
  const openMore = () => {
    while (open.size < Math.max(1, concurrency) && waiting.length > 0) {
      const source = waiting.shift() as () => AsyncIterable<T>;
      pull(ids++, source()[Symbol.asyncIterator]());
    }
  };
  try {
    openMore();
    while (open.size > 0) {
      const { id, result } = await Promise.race([...open.values()].map((o) => o.next));
      const entry = open.get(id);
      if (!entry) continue;
      if (result.done) {
        open.delete(id);
        openMore();
        continue;
      }
      pull(id, entry.iterator);
      yield result.value;
    }
  } finally {
    // Stopped early (consumer broke off, or a source failed): close what is still open.
    const closing = [...open.values()];
    open.clear();
    await Promise.all(closing.map(async (o) => {
      o.next.catch(() => undefined);
      await o.iterator.return?.().catch(() => undefined);
    }));
  }
}
