export interface EarlyFetchOptions {
  /** Bound on each early request, as the API client puts on its own. */
  timeoutMs?: number;
  /** An early answer not taken by then is dropped: it is a head start, not a cache. */
  maxAgeMs?: number;
}

/**
 * Starts same-origin GETs for `urls` now and returns a fetch that hands each answer to the first
 * GET of the same URL, once; every other call, and any after `maxAgeMs`, goes to `fetch`.
 *
 * The page's entry (boot.ts) uses it for the answers the first screen waits for, so they travel
 * while the console's code is downloaded and evaluated instead of after it. No zod and no
 * protocol import here: this module is in the entry's own small chunk.
 */
export function createEarlyFetch(fetch: typeof globalThis.fetch, urls: readonly string[], options: EarlyFetchOptions = {}): typeof globalThis.fetch {
  const early = new Map<string, Promise<Response>>();
  for (const url of urls) {
    const answer = fetch(url, {
      method: 'GET',
      credentials: 'same-origin',
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
    });
    // The GET that takes the answer sees a failure; one nobody takes fails quietly.
    answer.catch(() => undefined);
    early.set(url, answer);
  }
  const expiry = setTimeout(() => {
    for (const answer of early.values()) void answer.then((response) => response.body?.cancel()).catch(() => undefined);
    early.clear();
  }, options.maxAgeMs ?? 10_000);

  return (input, init) => {
    const answer = typeof input === 'string' && (init?.method ?? 'GET') === 'GET' ? early.get(input) : undefined;
    if (typeof input !== 'string' || answer === undefined) return fetch(input, init);
    early.delete(input);
    if (early.size === 0) clearTimeout(expiry);
    return answer;
  };
}
