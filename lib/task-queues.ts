/**
 * The task queues of one deployment, derived from its main queue (TEMPORAL_TASK_QUEUE), so that
 * workflow code finds them from its own queue. Pure: workflow code imports it.
 *
 * - the main queue: every workflow, the initiations and sends, and the short database steps;
 * - `-polling`: status polls of payments waiting for their payer or operator (thousands at
 *   once, each mostly waiting on HTTP), and transfers' look-ups of legs of unknown outcome;
 * - `-reconciliation`: sweeps and settlement reports (a report streams for minutes and holds a
 *   database connection all along);
 * - `-webhooks`: deliveries to merchants' servers (each attempt may wait 15 s on a slow one).
 *
 * Each has its own activity slots and database pool on the worker, so that thousands of waiting
 * payins cannot starve the initiation a merchant waits for, nor a report the sweeps.
 */
export function pollingQueue(mainQueue: string): string {
  return `${mainQueue}-polling`;
}

export function reconciliationQueue(mainQueue: string): string {
  return `${mainQueue}-reconciliation`;
}

export function webhooksQueue(mainQueue: string): string {
  return `${mainQueue}-webhooks`;
}

/**
 * An operator's own task queues: every call to the operator runs on one of them, so that the
 * operator's rate limit (the operator table's `rateLimit`, set on the queue with
 * `maxTaskQueueActivitiesPerSecond`) holds across all workers together.
 *
 * - `-operator-<name>`: sends (payin initiations, payout and refund requests) and the
 *   confirmations a callback triggers, which a merchant or a payer waits for;
 * - `-operator-<name>-polling`: background polls of payments waiting for their payer, with a
 *   share of the limit of their own, so that thousands of waiting payins never hold a send back.
 */
export function operatorQueue(mainQueue: string, operator: string): string {
  return `${mainQueue}-operator-${operator}`;
}

export function operatorPollingQueue(mainQueue: string, operator: string): string {
  return `${operatorQueue(mainQueue, operator)}-polling`;
}
