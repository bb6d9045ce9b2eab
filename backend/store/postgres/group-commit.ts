import DataLoader from 'dataloader';

/** Rows per statement: a 10,000-device job's burst is 20 statements, each well within a parameter array's size. */
const MAX_BATCH = 500;
/** Batches being written at once; what arrives meanwhile waits and goes together in the next. */
const MAX_IN_FLIGHT = 4;

/**
 * Group commit for one kind of single-row write on PostgreSQL, where every statement costs a round
 * trip and every commit a WAL flush: the writes asked for in one turn of the event loop go as one
 * statement (`write`, which answers each key in order, an Error for one that failed). While
 * MAX_IN_FLIGHT such statements are out, new writes gather and go together when one returns, so a
 * burst (a thousand runs starting or ending) becomes a few statements instead of a thousand.
 */
export function groupCommit<K, V>(write: (keys: readonly K[]) => Promise<(V | Error)[]>): (key: K) => Promise<V> {
  let inFlight = 0;
  const waiting: (() => void)[] = [];
  const loader = new DataLoader<K, V>(
    async (keys) => {
      inFlight++;
      try {
        return await write(keys);
      } finally {
        inFlight--;
        waiting.shift()?.();
      }
    },
    {
      cache: false,
      maxBatchSize: MAX_BATCH,
      batchScheduleFn: (dispatch) => setImmediate(() => (inFlight < MAX_IN_FLIGHT ? dispatch() : waiting.push(dispatch))),
    },
  );
  return (key) => loader.load(key);
}
