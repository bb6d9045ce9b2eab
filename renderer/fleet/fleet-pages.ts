/**
 * Rows for the first screen of a tall window (50 × 36 px fill a 1,800 px table): the table shows
 * them while the rest is fetched. No more: the page is parsed and validated before the console's
 * first render, and 100 rows took twice as long for rows nobody sees until the rest is in.
 */
export const FIRST_PAGE = 50;
/** The rest of the list per request: each answer parses in one short task and holds the backend briefly. */
export const LIST_PAGE = 2_000;
