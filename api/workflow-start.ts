import {
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  type Client,
} from '@temporalio/client';
import type { Config } from '../lib/config.js';
import type { PaymentKind } from '../lib/payments.js';
import { SA, initiationUpdate, transferWorkflowId, workflowIdFor } from '../workflows/shared.js';

export type StartResult = 'initiated' | 'waiting' | 'unavailable';

/**
 * Starts a payment's workflow and waits for its first step (update-with-start), so that the
 * create call answers with the outcome of that step. Safe to repeat for one payment: the workflow
 * id comes from the payment id, a running workflow is reused and a closed one is never re-run.
 */
export async function startPaymentWorkflow(
  temporal: Client,
  config: Config,
  p: {
    kind: PaymentKind | 'transfer';
    paymentId: string;
    merchantId: string;
    operator: string;
    amount: number;
    input: unknown;
    /** A transfer's id, searchable on the transfer (and on each leg, which the transfer starts). */
    transferId?: string;
  },
): Promise<StartResult> {
  const workflowId =
    p.kind === 'transfer' ? transferWorkflowId(p.paymentId) : workflowIdFor(p.kind, p.paymentId);
  const startWorkflowOperation = new WithStartWorkflowOperation(p.kind, {
    workflowId,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    args: [p.input],
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'REJECT_DUPLICATE',
    typedSearchAttributes: [
      { key: SA.paymentId, value: p.paymentId },
      { key: SA.merchantId, value: p.merchantId },
      { key: SA.kind, value: p.kind },
      { key: SA.operator, value: p.operator },
      { key: SA.status, value: 'created' },
      { key: SA.amount, value: p.amount },
      ...(p.transferId ? [{ key: SA.transferId, value: p.transferId }] : []),
    ],
  });
  // The call is bounded: after INITIATION_WAIT_SECONDS the API answers 202 and the client stops
  // re-sending the update and polling for its outcome (a worker outage must not leave one poll
  // loop per create in this process). The workflow goes on; the payment row tells where it is.
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), config.INITIATION_WAIT_SECONDS * 1000);
  pendingInitiationWaits++;
  const update = temporal.connection
    .withAbortSignal(controller.signal, () =>
      temporal.workflow.executeUpdateWithStart(initiationUpdate, {
        startWorkflowOperation,
        updateId: 'initiation',
      }),
    )
    .finally(() => {
      pendingInitiationWaits--;
    });
  try {
    await update;
    return 'initiated';
  } catch (err) {
    // The workflow already ran to its end: the payment row tells how it ended.
    if (err instanceof WorkflowExecutionAlreadyStartedError) return 'initiated';
    if (await workflowExists(temporal, workflowId)) return 'waiting';
    return 'unavailable';
  } finally {
    clearTimeout(timer);
  }
}

/** Create calls still waiting on Temporal in this process (a test shows none outlive their answer). */
let pendingInitiationWaits = 0;
export function initiationWaitsInFlight(): number {
  return pendingInitiationWaits;
}

async function workflowExists(temporal: Client, workflowId: string): Promise<boolean> {
  try {
    await temporal.connection.withDeadline(Date.now() + 5_000, () =>
      temporal.workflow.getHandle(workflowId).describe(),
    );
    return true;
  } catch {
    return false;
  }
}
