/** Rows for the first screen of a tall window: the table shows them while the rest is fetched. */
export const FIRST_PAGE = 100;
/** The rest of the list per request: each answer parses in one short task and holds the backend briefly. */
export const LIST_PAGE = 2_000;
