import {
  CancellationScope,
  condition,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { DisbursementActivities } from '../activities/disbursement-activities.js';
import { operatorPollingQueue, operatorQueue } from '../lib/task-queues.js';
import type { PaymentFailure, PaymentStatus } from '../lib/payments.js';
import { awaitOutcome, pollingActivityOptions, settleHints, type PollSchedule } from './await-outcome.js';
import { mirror } from './search.js';
import { decideDisbursement, decideDisbursementAtDeadline } from '../lib/payment-decisions.js';
import {
  ACTIVITY_OPTIONS,
  ACTIVITY_TIMEOUTS,
  SEND_ACTIVITY_OPTIONS,
  initiationUpdate,
  operatorCallbackSignal,
  paymentStateQuery,
  type CallbackHint,
  type InitiationView,
} from './shared.js';
import { SA, type DisbursementWorkflowInput } from '../lib/payment-workflows.js';

const { holdFunds, settleDisbursement, abandonDisbursement } =
  proxyActivities<DisbursementActivities>(ACTIVITY_OPTIONS);

/**
 * The calls to the operator, on its own task queues (lib/task-queues.ts) so that its rate limit
 * holds across all workers: the send and the checks a callback triggers on one, polls (as
 * retries of one activity, see the payin workflow) on another. A task queue is not part of what
 * a replay compares: payouts started before run on with these queues.
 */
function operatorCalls(operator: string) {
  const main = workflowInfo().taskQueue;
  const { initiateDisbursement } = proxyActivities<DisbursementActivities>({
    ...SEND_ACTIVITY_OPTIONS,
    taskQueue: operatorQueue(main, operator),
  });
  const { checkDisbursementStatus } = proxyActivities<DisbursementActivities>({
    ...ACTIVITY_OPTIONS,
    taskQueue: operatorQueue(main, operator),
  });
  const pollDisbursementUntilDefinite = (paymentId: string, schedule: PollSchedule) =>
    proxyActivities<DisbursementActivities>(
      pollingActivityOptions(ACTIVITY_TIMEOUTS, schedule, operatorPollingQueue(main, operator)),
    ).pollDisbursementUntilDefinite(paymentId);
  return { initiateDisbursement, checkDisbursementStatus, pollDisbursementUntilDefinite };
}

/** Sends that reached nobody (connection refused, or the operator confirmed it has no such request). */
const MAX_SEND_ATTEMPTS = 3;

export interface DisbursementOutcome {
  status: PaymentStatus;
  failure?: PaymentFailure;
}

/**
 * A payout or a refund, top to bottom: hold the funds, send once, wait for the callback or poll
 * until the deadline, confirm, then capture (success) or release (failure). An outcome that
 * cannot be established stays `unknown` with its hold, for reconciliation (DESIGN.md rule 2).
 */
export async function runDisbursement(input: DisbursementWorkflowInput): Promise<DisbursementOutcome> {
  let status: PaymentStatus = 'created';
  let accepted: InitiationView | undefined = undefined;
  let checks = 0;
  let callbacksReceived = 0;
  const hints: CallbackHint[] = [];

  setHandler(initiationUpdate, async () => {
    await condition(() => accepted !== undefined);
    return accepted!;
  });
  setHandler(operatorCallbackSignal, (hint) => {
    callbacksReceived++;
    hints.push(hint);
  });
  setHandler(paymentStateQuery, () => ({ status, checks, callbacksReceived }));
  const setStatus = (next: PaymentStatus) => {
    status = next;
    mirror([{ key: SA.status, value: next }]);
  };
  const end = (view: { status: PaymentStatus; failure?: PaymentFailure }): DisbursementOutcome => {
    setStatus(view.status);
    accepted ??= { status: view.status, nextAction: { type: 'none' }, failure: view.failure };
    log.info(`${input.kind} ended`, {
      paymentId: input.paymentId,
      status: view.status,
      checks,
      callbacksReceived,
    });
    return view;
  };

  const { initiateDisbursement, checkDisbursementStatus, pollDisbursementUntilDefinite } = operatorCalls(
    input.operator,
  );
  try {
    // 1. Hold the amount and fee on the merchant's balance.
    const held = await holdFunds(input.paymentId);
    if (held.status !== 'pending') return end(held);
    setStatus('pending');

    // 2. Send it, once.
    const sent = await sendOnce(input, initiateDisbursement);
    accepted = { status: sent.status, nextAction: { type: 'none' }, failure: sent.failure };
    if (sent.status !== 'pending') return end(sent);

    // 3. Wait for the operator's answer, confirmed by its status API.
    const { decision, observation } = await awaitOutcome({
      deadlineAt: input.deadlineAt,
      poll: input.poll,
      amount: input.amount,
      hints,
      check: () => checkDisbursementStatus(input.paymentId),
      decide: decideDisbursement,
      decideAtDeadline: decideDisbursementAtDeadline,
      onCheck: () => checks++,
      pollUntilDefinite: (schedule) => pollDisbursementUntilDefinite(input.paymentId, schedule),
    });

    // 4. Capture, release, or keep the hold for reconciliation.
    const observed = observation.reachable ? observation : undefined;
    const recorded = await settleDisbursement({
      paymentId: input.paymentId,
      step: decision.status === 'unknown' ? 'outcome_unknown' : 'final',
      to: decision.status,
      actor: 'status_check',
      reason: decision.reason,
      failure: decision.failure,
      operatorStatus: observed?.operatorStatus,
      operatorMessage: observed?.operatorMessage,
      operatorData: observed ? { status: observed.status, amount: observed.amount } : undefined,
    });
    // Callbacks that came while the end was being recorded are weighed too, not left `signalled`.
    if (hints.length && patched('settle-hints-after-the-end'))
      await settleHints(hints.splice(0), observation, input.amount);
    return end({ status: recorded, failure: decision.failure });
  } catch (err) {
    if (!isCancellation(err)) throw err;
    // Cancelled: settle what this payment holds before the cancellation ends the workflow.
    await CancellationScope.nonCancellable(async () => {
      setStatus(await abandonDisbursement(input.paymentId, 'cancelled by an operator or a client'));
    });
    throw err;
  }
}

async function sendOnce(
  input: DisbursementWorkflowInput,
  initiateDisbursement: DisbursementActivities['initiateDisbursement'],
): Promise<{ status: PaymentStatus; failure?: PaymentFailure }> {
  let detail = '';
  for (let attempt = 1; attempt <= MAX_SEND_ATTEMPTS; attempt++) {
    const result = await initiateDisbursement(input.paymentId, attempt);
    switch (result.kind) {
      case 'sent':
        return { status: 'pending' };
      case 'ended':
        return result;
      case 'ambiguous': {
        // Maybe executed, and the operator cannot tell us: never send again.
        const failure = {
          code: 'operator_outcome_unknown',
          message: 'The operator did not answer clearly; the hold is kept until reconciliation settles it',
        };
        const status = await settleDisbursement({
          paymentId: input.paymentId,
          step: 'outcome_unknown',
          to: 'unknown',
          actor: 'workflow',
          reason: `outcome unknown: ${result.detail}`,
          failure,
        });
        return { status, failure };
      }
      case 'unreachable':
        detail = result.detail;
        if (attempt < MAX_SEND_ATTEMPTS) await sleep(`${2 * attempt} seconds`);
    }
  }
  const failure = {
    code: 'operator_unavailable',
    message: `${input.operator} did not answer; nothing was paid out`,
  };
  const status = await settleDisbursement({
    paymentId: input.paymentId,
    step: 'final',
    to: 'failed',
    actor: 'workflow',
    reason: `operator unreachable: ${detail}`,
    failure,
  });
  return { status, failure };
}
