/** Fixed, so the virtual list knows every row's offset without measuring. */
export const ROW_HEIGHT = 36;

/**
 * Rows for the first screen of a tall window (50 × 36 px fill a 1,800 px table): the table shows
 * them while the rest is fetched. No more: the page is parsed and validated before the console's
 * first render, and 100 rows took twice as long for rows nobody sees until the rest is in.
 */
export const FIRST_PAGE = 50;

/**
 * The first page for a window `viewportHeight` px tall: the rows its table can show (the table is
 * shorter than the window), at most FIRST_PAGE. The page is validated and its rows rendered
 * before the first paint (validating 50 devices took 20-60 ms in start-up profiles of a 900 px
 * window, whose table shows about 20), so a smaller window asks for fewer.
 */
export function firstPageSize(viewportHeight: number): number {
  return Math.min(FIRST_PAGE, Math.max(10, Math.ceil(viewportHeight / ROW_HEIGHT)));
}
/** The rest of the list per request: each answer parses in one short task and holds the backend briefly. */
export const LIST_PAGE = 2_000;
