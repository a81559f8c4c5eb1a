import { Context } from '@temporalio/activity';
import { setTimeout as sleep } from 'node:timers/promises';
import { laneOf, reserveOperatorSlot, type OperatorLane, type PacedLane } from '../db/operator-pacing.js';
import type { Pool } from '../db/pool.js';

/** An operator's limit, in calls per second of each lane (the operator table's `rateLimit`). */
export interface RateLimit {
  sendsPerSecond: number;
  pollsPerSecond: number;
}

/**
 * Holds an operator's rate limit across every worker: each call first reserves its slot in the
 * operator's lane on the database (db/operator-pacing.ts), then waits for it. Calls that run on
 * an operator's task queue are also held by the queue's `maxTaskQueueActivitiesPerSecond`;
 * local activities, which bypass task queues, only by this.
 */
export interface OperatorPacer {
  /** The lane of an operator's calls, for a statement that reserves its slot with what it reads. */
  laneFor(operator: string, lane: OperatorLane): PacedLane;
  /** Reserves a slot on its own, and waits for it. */
  pace(operator: string, lane: OperatorLane): Promise<void>;
  /** Waits for a slot reserved by such a statement. */
  waitForSlot(waitMs: number): Promise<void>;
}

export function createOperatorPacer(pool: Pool, rateLimitOf: (operator: string) => RateLimit): OperatorPacer {
  const laneFor = (operator: string, lane: OperatorLane): PacedLane => {
    const limit = rateLimitOf(operator);
    const perSecond = lane === 'sends' ? limit.sendsPerSecond : limit.pollsPerSecond;
    return { lane: laneOf(operator, lane), intervalMs: 1000 / perSecond };
  };
  const waitForSlot = async (waitMs: number) => {
    if (waitMs > 0) await waitAlive(waitMs);
  };
  return {
    laneFor,
    waitForSlot,
    async pace(operator, lane) {
      const { lane: row, intervalMs } = laneFor(operator, lane);
      await waitForSlot(await reserveOperatorSlot(pool, row, intervalMs));
    },
  };
}

/**
 * Waits for a reserved slot, heartbeating (a wait longer than the heartbeat timeout is not a dead
 * worker) and ending early if the activity is cancelled. A local activity has no heartbeat
 * (activities/index.ts, withHeartbeats): it only waits.
 */
async function waitAlive(ms: number): Promise<void> {
  const context = Context.current();
  const until = Date.now() + ms;
  for (let left = ms; left > 0; left = until - Date.now()) {
    await sleep(Math.min(left, 1_000), undefined, { signal: context.cancellationSignal });
    if (!context.info.isLocal) context.heartbeat();
  }
}

/**
 * The activities of an operator's task queue, each paced in the operator's lane before it runs:
 * with the local activities that pace themselves, every call of the lane shares one limit.
 */
export function withOperatorPacing<T extends Record<string, (...args: never[]) => Promise<unknown>>>(
  activities: T,
  pacer: OperatorPacer,
  operator: string,
  lane: OperatorLane,
): T {
  return Object.fromEntries(
    Object.entries(activities).map(([name, fn]) => [
      name,
      async (...args: never[]) => {
        await pacer.pace(operator, lane);
        return fn(...args);
      },
    ]),
  ) as T;
}
