/** Where the next page of a newest-first list starts: the last row's (created_at, id). */
export interface PageCursor {
  createdAt: string;
  id: string;
}

export interface Page<T> {
  items: T[];
  next?: PageCursor;
}

/**
 * A page of a keyset-paginated list read with `LIMIT limit + 1`: the extra row only says that
 * there is more, and the last row kept gives the cursor (its `cursor_ts` keeps the microseconds).
 */
export function keysetPage<R extends { id: string; cursor_ts: string }, T>(
  rows: R[],
  limit: number,
  toItem: (row: R) => T,
): Page<T> {
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    items: page.map(toItem),
    next: rows.length > limit && last ? { createdAt: last.cursor_ts, id: last.id } : undefined,
  };
}
