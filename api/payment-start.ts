import {
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
} from '@temporalio/client';
import type { SearchAttributePair, Workflow } from '@temporalio/common';
import type { Config } from '../lib/config.js';
import { operatorTiming } from '../lib/operators.js';
import {
  disbursementWorkflowInput,
  payinWorkflowInput,
  paymentWorkflowStart,
  workflowIdFor,
  type HostedPayinWorkflowInput,
  type StartablePayment,
  type TransferWorkflowInput,
} from '../lib/payment-workflows.js';
import {
  hostedPayin,
  startAttemptUpdate,
  startCardAttemptUpdate,
  type CardAttemptInput,
} from '../workflows/hosted-payin.js';
import { cardRefund } from '../workflows/card-refund.js';
import { payin } from '../workflows/payin.js';
import { payout } from '../workflows/payout.js';
import { refund } from '../workflows/refund.js';
import { initiationUpdate } from '../workflows/shared.js';
import { transfer } from '../workflows/transfer.js';

export type StartResult = 'initiated' | 'waiting' | 'unavailable';

/**
 * Starts a stored payin's workflow (lib/payment-workflows.ts builds its input and search
 * attributes from the row) and waits for its first step.
 */
export function startPayin(
  temporal: Client,
  config: Config,
  p: StartablePayment,
  routes?: readonly string[],
): Promise<StartResult> {
  const input = payinWorkflowInput(p, operatorTiming(config, p.operator, p.mode), routes);
  const start = startOptions(config, paymentWorkflowStart(startOf(p)));
  return startWithInitiation(
    temporal,
    config,
    new WithStartWorkflowOperation(payin, { ...start, args: [input] }),
  );
}

/** Starts a stored payout's or refund's workflow and waits for its first step. */
export function startDisbursement(
  temporal: Client,
  config: Config,
  p: StartablePayment,
): Promise<StartResult> {
  const input = disbursementWorkflowInput(p, operatorTiming(config, p.operator));
  const start = startOptions(config, paymentWorkflowStart(startOf(p)));
  return startWithInitiation(
    temporal,
    config,
    p.kind === 'refund'
      ? new WithStartWorkflowOperation(refund, { ...start, args: [input] })
      : new WithStartWorkflowOperation(payout, { ...start, args: [input] }),
  );
}

/** Starts a stored transfer's workflow (its legs are its children) and waits for the collection's first step. */
export function startTransfer(
  temporal: Client,
  config: Config,
  t: { id: string; merchantId: string },
  legs: { collection: StartablePayment; disbursementPaymentId: string },
  collectionRoutes?: readonly string[],
): Promise<StartResult> {
  const { collection } = legs;
  const input: TransferWorkflowInput = {
    transferId: t.id,
    merchantId: t.merchantId,
    collection: payinWorkflowInput(
      collection,
      operatorTiming(config, collection.operator, collection.mode),
      collectionRoutes,
    ),
    disbursementPaymentId: legs.disbursementPaymentId,
    refundRetrySeconds: config.TRANSFER_REFUND_RETRY_SECONDS,
    resolution: {
      everySeconds: config.TRANSFER_RESOLUTION_CHECK_SECONDS,
      maxWaitSeconds: config.TRANSFER_RESOLUTION_MAX_SECONDS,
    },
  };
  const start = startOptions(
    config,
    paymentWorkflowStart({
      kind: 'transfer',
      paymentId: t.id,
      merchantId: t.merchantId,
      operator: collection.operator,
      amount: collection.amount,
      transferId: t.id,
    }),
  );
  return startWithInitiation(
    temporal,
    config,
    new WithStartWorkflowOperation(transfer, { ...start, args: [input] }),
  );
}

/**
 * Starts a hosted payin's workflow (workflows/hosted-payin.ts). Nothing is sent to an operator
 * until the payer chooses on our page, so there is no first step to wait for. Safe to repeat.
 */
export async function startHostedPayin(
  temporal: Client,
  config: Config,
  p: StartablePayment & { deadlineAt: Date },
): Promise<'started' | 'unavailable'> {
  const start = startOptions(config, paymentWorkflowStart(startOf(p)));
  const input: HostedPayinWorkflowInput = {
    paymentId: p.id,
    merchantId: p.merchantId,
    amount: p.amount,
    currency: p.currency,
    deadlineAt: p.deadlineAt.toISOString(),
  };
  try {
    await temporal.connection.withDeadline(Date.now() + config.INITIATION_WAIT_SECONDS * 1000, () =>
      temporal.workflow.start(hostedPayin, { ...start, args: [input] }),
    );
    return 'started';
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return 'started';
    return (await workflowExists(temporal, start.workflowId)) ? 'started' : 'unavailable';
  }
}

/**
 * Hands a stored attempt of a hosted payin to that payin's workflow, which starts it as its child.
 * `refused`: the payin takes no more attempts (it succeeded, was cancelled or is past its deadline).
 */
export async function startCheckoutAttempt(
  temporal: Client,
  config: Config,
  intentId: string,
  attempt: StartablePayment,
  routes: readonly string[],
): Promise<'started' | 'refused' | 'unavailable'> {
  const input = payinWorkflowInput(attempt, operatorTiming(config, attempt.operator, attempt.mode), routes);
  try {
    await temporal.connection.withDeadline(Date.now() + config.INITIATION_WAIT_SECONDS * 1000, () =>
      temporal.workflow
        .getHandle(workflowIdFor('payin', intentId))
        .executeUpdate(startAttemptUpdate, { args: [input], updateId: `attempt:${attempt.id}` }),
    );
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) return 'refused';
    if (err instanceof WorkflowNotFoundError) return 'refused';
    return 'unavailable';
  }
  // Its first step (approve on the phone, the operator's page...), so that the page shows it at
  // once; bounded, and only a wait: the attempt goes on whatever this answers.
  try {
    await temporal.connection.withDeadline(Date.now() + config.INITIATION_WAIT_SECONDS * 1000, () =>
      temporal.workflow.getHandle(workflowIdFor('payin', attempt.id)).executeUpdate(initiationUpdate),
    );
  } catch {
    // The page follows the attempt's row instead.
  }
  return 'started';
}

/**
 * Starts a card refund's workflow (workflows/card-refund.ts). The create call answers 202: the
 * refund's row says how it goes (the hold first, then the rail's answer).
 */
export async function startCardRefund(
  temporal: Client,
  config: Config,
  p: StartablePayment,
): Promise<'waiting' | 'unavailable'> {
  try {
    await temporal.workflow.start(cardRefund, {
      ...startOptions(config, paymentWorkflowStart(startOf(p))),
      args: [{ paymentId: p.id, rail: p.operator === 'processor' ? 'processor' : 'gim' }],
    });
    return 'waiting';
  } catch {
    return 'unavailable';
  }
}

/** Starts a card attempt the page recorded, through its hosted payin's workflow. */
export async function startCardAttempt(
  temporal: Client,
  config: Config,
  intentId: string,
  attempt: CardAttemptInput,
): Promise<'started' | 'refused' | 'unavailable'> {
  try {
    await temporal.connection.withDeadline(Date.now() + config.INITIATION_WAIT_SECONDS * 1000, () =>
      temporal.workflow
        .getHandle(workflowIdFor('payin', intentId))
        .executeUpdate(startCardAttemptUpdate, { args: [attempt], updateId: `attempt:${attempt.paymentId}` }),
    );
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) return 'refused';
    if (err instanceof WorkflowNotFoundError) return 'refused';
    return 'unavailable';
  }
  return 'started';
}

function startOf(p: StartablePayment) {
  return {
    kind: p.kind,
    paymentId: p.id,
    merchantId: p.merchantId,
    operator: p.operator,
    amount: p.amount,
    transferId: p.transferId,
  };
}

/** Options every payment's start shares: reuse a running workflow, never re-run a closed one. */
function startOptions(
  config: Config,
  start: { workflowId: string; typedSearchAttributes: SearchAttributePair[] },
) {
  return {
    ...start,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    workflowIdConflictPolicy: 'USE_EXISTING' as const,
    workflowIdReusePolicy: 'REJECT_DUPLICATE' as const,
  };
}

/**
 * Starts a payment's workflow (an operation built from its function, so its arguments are
 * type-checked) and waits for its first step (update-with-start), so that the create call answers
 * with the outcome of that step. Safe to repeat for one payment: the workflow id comes from the
 * payment id, a running workflow is reused and a closed one is never re-run.
 */
async function startWithInitiation<W extends Workflow>(
  temporal: Client,
  config: Config,
  startWorkflowOperation: WithStartWorkflowOperation<W>,
): Promise<StartResult> {
  const { workflowId } = startWorkflowOperation.options;
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
