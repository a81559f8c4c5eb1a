/**
 * Timeouts shared by the workflows (which set them on activities) and the worker (which checks
 * the operators' settings against them at start). Pure: workflow code imports it.
 */

/**
 * An activity that sends a payment to its operator may make three operator calls in a row (a
 * look-up by our reference, the send, a look-up after an unclear answer), each up to the
 * adapter's worst case (TMoney: token, call, renewed token, call). Its start-to-close timeout
 * is sized for that, and the worker refuses to start with operator timeouts that do not fit.
 */
export const SEND_ACTIVITY_TIMEOUT_MS = 5 * 60_000;
export const SEND_CALLS_PER_ACTIVITY = 3;

/**
 * A send activity heartbeats every second; a longer heartbeat timeout than the other
 * activities' (5 s) means a short stall (a busy event loop, a GC pause) does not time out a live
 * attempt whose call is in flight. Should one still time out, its retry waits on the send lease
 * and its call is aborted: never two sends at once.
 */
export const SEND_HEARTBEAT_TIMEOUT_MS = 15_000;

/**
 * Added to a send's worst case for its lease: the database and the process around the calls
 * (the default of SEND_LEASE_MARGIN_MS in lib/config.ts).
 */
export const SEND_LEASE_MARGIN_MS = 10_000;

/** How long one send holds its lease: its operator calls' worst case, plus the margin. */
export function sendLeaseMs(worstCaseCallMs: number, marginMs: number): number {
  return worstCaseCallMs * SEND_CALLS_PER_ACTIVITY + marginMs;
}
