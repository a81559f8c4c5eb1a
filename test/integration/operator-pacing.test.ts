import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reserveOperatorSlot } from '../../db/operator-pacing.js';
import { createPool, type Pool } from '../../db/pool.js';

/**
 * The database pacing behind every operator's rate limit (db/operator-pacing.ts): reservations
 * made at once from many connections (as from many workers) get slots one interval apart, none
 * shared, none skipped; an idle lane answers at once.
 */
let pools: Pool[];

beforeAll(() => {
  pools = Array.from({ length: 4 }, () => createPool(process.env.DATABASE_URL!, 5));
});
afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()));
});

describe('operator call pacing', () => {
  it('spaces reservations from many connections one interval apart', async () => {
    const lane = `test-${randomUUID()}:sends`;
    // Long enough that the reservations all arrive within one interval of the first, loaded or not.
    const intervalMs = 1_000;
    // Every connection open first: the reservations race on the row, not on connecting.
    await Promise.all(
      pools.flatMap((p) => Array.from({ length: 5 }, () => p.query('SELECT pg_sleep(0.05)'))),
    );
    const waits = await Promise.all(
      Array.from({ length: 20 }, (_, i) => reserveOperatorSlot(pools[i % pools.length]!, lane, intervalMs)),
    );
    waits.sort((a, b) => a - b);
    // The first is the lane's first call: no wait. Each next one waits one more interval, less the
    // time the reservations themselves took to arrive (they were made at once, not at the same
    // instant): so each wait lies within an interval of its place, and no two share a slot.
    expect(waits[0]).toBe(0);
    waits.forEach((wait, i) => {
      expect(wait).toBeLessThanOrEqual(i * intervalMs);
      expect(wait).toBeGreaterThan((i - 1) * intervalMs);
    });
    for (let i = 1; i < waits.length; i++) expect(waits[i]! - waits[i - 1]!).toBeGreaterThan(0);
  });

  it('answers at once on a lane that has been idle for an interval', async () => {
    const lane = `test-${randomUUID()}:polls`;
    expect(await reserveOperatorSlot(pools[0]!, lane, 1_000)).toBe(0);
    // Reserved just now: the next call waits for the rest of the interval.
    const next = await reserveOperatorSlot(pools[1]!, lane, 1_000);
    expect(next).toBeGreaterThan(0);
    expect(next).toBeLessThanOrEqual(1_000);
    // One interval after that slot, the lane is idle again.
    await new Promise((resolve) => setTimeout(resolve, next + 1_000 + 50));
    expect(await reserveOperatorSlot(pools[2]!, lane, 1_000)).toBe(0);
  });
});
