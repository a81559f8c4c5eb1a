import {
  condition,
  getExternalWorkflowHandle,
  log,
  patched,
  proxyActivities,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { PayinActivities } from '../activities/payin-activities.js';
import { pollingQueue } from '../lib/task-queues.js';
import type { PaymentFailure, PaymentStatus } from '../lib/payments.js';
import { awaitOutcome, pollingActivityOptions, settleHints, type PollSchedule } from './await-outcome.js';
import { mirror } from './search.js';
import { decideAtDeadline, decideFromStatus } from './decisions.js';
import {
  ACTIVITY_OPTIONS,
  ACTIVITY_TIMEOUTS,
  SEND_ACTIVITY_OPTIONS,
  initiationUpdate,
  legInitiatedSignal,
  operatorCallbackSignal,
  payerDetailsUpdate,
  paymentStateQuery,
  type CallbackHint,
  type InitiationView,
} from './shared.js';
import { SA, type PayinWorkflowInput } from '../lib/payment-workflows.js';

const { checkPayinStatus, recordPayinTransition, switchPayinRoute } =
  proxyActivities<PayinActivities>(ACTIVITY_OPTIONS);
const { initiatePayin } = proxyActivities<PayinActivities>(SEND_ACTIVITY_OPTIONS);

/**
 * Polling a waiting payin as retries of one activity: the server runs the next check at the
 * backoff, and the workflow hears only the definite answer (or the deadline).
 */
const pollPayinUntilDefinite = (paymentId: string, schedule: PollSchedule) =>
  proxyActivities<PayinActivities>(
    pollingActivityOptions(ACTIVITY_TIMEOUTS, schedule, pollingQueue(workflowInfo().taskQueue)),
  ).pollPayinUntilDefinite(paymentId);

/** How many times an initiation that reached nobody (or a redirect payin's unclear one) is sent. */
const MAX_INITIATION_ATTEMPTS = 3;

export interface PayinOutcome {
  status: PaymentStatus;
  failure?: PaymentFailure;
}

/**
 * A payin, top to bottom: initiate through the operator, hand the payer's next action to the
 * API, wait for the callback or poll the status API until the deadline, confirm, end definite.
 */
export async function payin(input: PayinWorkflowInput): Promise<PayinOutcome> {
  let status: PaymentStatus = 'created';
  let initiation: InitiationView | undefined = undefined;
  let checks = 0;
  let callbacksReceived = 0;
  const pendingHints: CallbackHint[] = [];

  setHandler(initiationUpdate, async () => {
    await condition(() => initiation !== undefined);
    return initiation!;
  });
  setHandler(operatorCallbackSignal, (hint) => {
    callbacksReceived++;
    pendingHints.push(hint);
  });
  setHandler(paymentStateQuery, () => ({ status, checks, callbacksReceived }));

  const setStatus = (next: PaymentStatus) => {
    status = next;
    mirror([{ key: SA.status, value: next }]);
  };

  let payerGiven = false;
  let afterPayer: InitiationView | undefined = undefined;
  setHandler(
    payerDetailsUpdate,
    async () => {
      payerGiven = true;
      await condition(() => afterPayer !== undefined);
      return afterPayer!;
    },
    {
      validator: () => {
        if (!initiation?.awaitingPayer || payerGiven || status !== 'action_required') {
          throw new Error("this payin is not waiting for the payer's number");
        }
      },
    },
  );

  // 1. Initiate.
  let started = await initiateWithRetries(input);
  setStatus(started.status);
  initiation = started;
  if (started.awaitingPayer) {
    // 1b. Our page asks the payer for their number; nothing is sent before they give it.
    const given = await condition(() => payerGiven, Math.max(1, Date.parse(input.deadlineAt) - Date.now()));
    if (!given) {
      const status = await recordPayinTransition({
        paymentId: input.paymentId,
        step: 'final',
        to: 'expired',
        actor: 'workflow',
        reason: 'the payer never gave their number; nothing was sent to the operator',
        failure: { code: 'expired', message: 'The payer did not complete the payment in time' },
      });
      setStatus(status);
      return {
        status,
        failure: { code: 'expired', message: 'The payer did not complete the payment in time' },
      };
    }
    started = await sendAfterPayer(input);
    afterPayer = started;
    setStatus(started.status);
  }
  // As a transfer's collection leg: the transfer hands the sender's next action to its caller.
  const parent = workflowInfo().parent;
  if (parent) {
    // Best effort: a parent terminated or reset must not fail the payin after its push went out.
    try {
      await getExternalWorkflowHandle(parent.workflowId).signal(legInitiatedSignal, started);
    } catch (err) {
      log.warn("could not tell the transfer the payer's next action", { error: String(err) });
    }
  }
  if (started.status !== 'pending' && started.status !== 'action_required') {
    return { status: started.status, failure: started.failure };
  }

  // 2. Wait for a callback or the next poll, until the deadline; every answer is confirmed by the status API.
  const { decision: final, observation: lastObservation } = await awaitOutcome({
    deadlineAt: input.deadlineAt,
    poll: input.poll,
    amount: input.amount,
    hints: pendingHints,
    check: () => checkPayinStatus(input.paymentId),
    decide: decideFromStatus,
    decideAtDeadline,
    onCheck: () => checks++,
    pollUntilDefinite: (schedule) => pollPayinUntilDefinite(input.paymentId, schedule),
  });

  const observed = lastObservation.reachable ? lastObservation : undefined;
  const recorded = await recordPayinTransition({
    paymentId: input.paymentId,
    step: 'final',
    to: final.status,
    actor: 'status_check',
    reason: final.reason,
    failure: final.failure,
    operatorStatus: observed?.operatorStatus,
    operatorMessage: observed?.operatorMessage,
    operatorData: observed ? { status: observed.status, amount: observed.amount } : undefined,
  });
  setStatus(recorded);
  // Callbacks that came while the end was being recorded are weighed too, not left `signalled`.
  if (pendingHints.length && patched('settle-hints-after-the-end'))
    await settleHints(pendingHints.splice(0), lastObservation, input.amount);
  log.info('payin ended', { paymentId: input.paymentId, status: recorded, checks, callbacksReceived });
  return { status: recorded, failure: final.failure };
}

/** Attempt numbers of the send made after the payer gave their number (after the first ones). */
const PAYER_ATTEMPT_BASE = 100;

/** Sends the payin once the payer gave their number on our page (same rules as the first send). */
async function sendAfterPayer(input: PayinWorkflowInput): Promise<InitiationView> {
  let detail = '';
  for (let tries = 1; tries <= MAX_INITIATION_ATTEMPTS; tries++) {
    const result = await initiatePayin(input.paymentId, PAYER_ATTEMPT_BASE + tries, { payerGiven: true });
    if (result.kind === 'initiated') return result;
    detail = result.detail;
    if (result.kind === 'ambiguous') {
      return endInitiation(
        input,
        'unknown',
        `initiation outcome unknown: ${detail}`,
        {
          code: 'operator_outcome_unknown',
          message: 'The operator did not answer clearly; the payment is left for reconciliation',
        },
        'initiate:payer',
      );
    }
    if (result.kind !== 'unreachable') break;
    if (tries < MAX_INITIATION_ATTEMPTS) await sleep(`${2 * tries} seconds`);
  }
  return endInitiation(
    input,
    'failed',
    `operator unavailable: ${detail}`,
    { code: 'operator_unavailable', message: `${input.operator} did not answer; nothing was charged` },
    'initiate:payer',
  );
}

async function initiateWithRetries(input: PayinWorkflowInput): Promise<InitiationView> {
  const routes = input.routes ?? [input.operator];
  let attempt = 0;
  let detail = '';
  for (let r = 0; r < routes.length; r++) {
    const operator = routes[r]!;
    const more = r < routes.length - 1;
    if (r > 0) {
      // Failover: nothing reached the previous route that could charge the payer.
      await switchPayinRoute(input.paymentId, operator, detail);
      mirror([{ key: SA.operator, value: operator }]);
    }
    for (let tries = 1; tries <= MAX_INITIATION_ATTEMPTS; tries++) {
      attempt++;
      const result = more
        ? await initiatePayin(input.paymentId, attempt, { canFailOver: true })
        : await initiatePayin(input.paymentId, attempt);
      if (result.kind === 'initiated') return result;
      detail = routes.length > 1 ? `${operator}: ${result.detail}` : result.detail;
      // A direct payin that may have reached the operator is never sent again, nor elsewhere: the
      // payer could approve both. Its outcome is unknown until reconciliation (DESIGN.md rule 2).
      if (result.kind === 'ambiguous' && input.mode === 'direct') {
        return endInitiation(input, 'unknown', `initiation outcome unknown: ${detail}`, {
          code: 'operator_outcome_unknown',
          message: 'The operator did not answer clearly; the payment is left for reconciliation',
        });
      }
      if (result.kind === 'route_down' || result.kind === 'route_failed') break;
      if (tries < MAX_INITIATION_ATTEMPTS) await sleep(`${2 * tries} seconds`);
    }
  }
  return endInitiation(input, 'failed', `operator unavailable: ${detail}`, {
    code: 'operator_unavailable',
    message: `${routes.join(', ')} did not answer; nothing was charged`,
  });
}

async function endInitiation(
  input: PayinWorkflowInput,
  to: PaymentStatus,
  reason: string,
  failure: PaymentFailure,
  step = 'initiate',
): Promise<InitiationView> {
  const status = await recordPayinTransition({
    paymentId: input.paymentId,
    step,
    to,
    actor: 'workflow',
    reason,
    failure,
  });
  return { status, nextAction: { type: 'none' }, failure };
}
