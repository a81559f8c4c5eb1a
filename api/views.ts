export { paymentView } from '../db/resource-views.js';
import { Problem } from './problems.js';

import type { PageCursor as Cursor } from '../db/pagination.js';

/** A page of a newest-first list as the API answers it: the items, and where the next page starts. */
export function listAnswer<T>(data: T[], next: Cursor | undefined) {
  return {
    object: 'list' as const,
    data,
    has_more: next !== undefined,
    next_cursor: next ? encodeCursor(next) : null,
  };
}

export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify([c.createdAt, c.id])).toString('base64url');
}

export function decodeCursor(text: string): Cursor {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown[];
    if (typeof createdAt === 'string' && typeof id === 'string' && !Number.isNaN(Date.parse(createdAt))) {
      return { createdAt, id };
    }
  } catch {
    // fall through
  }
  throw new Problem('validation-error', 'cursor is not one we issued', {
    errors: [{ field: 'cursor', message: 'use next_cursor from the previous page' }],
  });
}
