import type { z } from 'zod';

/**
 * A callback's JSON body read against its operator's schema: the parsed fields and the body as
 * sent (kept as the callback's `fields`), or why it cannot be read.
 */
export function readJsonCallback<S extends z.ZodType>(
  rawBody: string,
  schema: S,
): { ok: true; data: z.infer<S>; body: Record<string, unknown> } | { ok: false; reason: string } {
  let body: unknown;
  try {
    body = JSON.parse(rawBody);
  } catch {
    return { ok: false, reason: 'body is not JSON' };
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success)
    return { ok: false, reason: `unexpected fields: ${parsed.error.issues[0]?.path.join('.') ?? ''}` };
  return { ok: true, data: parsed.data, body: body as Record<string, unknown> };
}
