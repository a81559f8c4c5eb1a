import {
  condition,
  getExternalWorkflowHandle,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { InitiationAttempt, PayinActivities } from '../activities/payin-activities.js';
import { operatorPollingQueue, operatorQueue, pollingQueue } from '../lib/task-queues.js';
import type { PaymentFailure, PaymentStatus } from '../lib/payments.js';
import {
  awaitEnd,
  awaitOutcome,
  pollingActivityOptions,
  settleHints,
  settleLateHints,
  type PollSchedule,
} from './await-outcome.js';
import { mirror } from './search.js';
import { decideAtDeadline, decideFromStatus } from '../lib/payment-decisions.js';
import {
  ACTIVITY_OPTIONS,
  ACTIVITY_TIMEOUTS,
  LOCAL_SEND_ACTIVITY_OPTIONS,
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

/**
 * The activities that call an operator, on its own task queues (lib/task-queues.ts), so that its
 * rate limit holds across all workers: the sends and confirmations on one, the polls on another.
 *
 * In shape 3 the send and the confirmation run as local activities instead, in the workflow task
 * that needs them: no activity task, no dispatch through the server, and the answer to the
 * create call one workflow task sooner. They pace themselves against the same limit on the
 * database (activities/operator-pacing.ts), which every worker shares.
 */
function operatorCalls(operator: string, local: boolean) {
  const main = workflowInfo().taskQueue;
  const queued = proxyActivities<PayinActivities>({
    ...SEND_ACTIVITY_OPTIONS,
    taskQueue: operatorQueue(main, operator),
  });
  const pollUntilEnded = (paymentId: string, schedule: PollSchedule) =>
    proxyActivities<PayinActivities>(
      pollingActivityOptions(ACTIVITY_TIMEOUTS, schedule, operatorPollingQueue(main, operator)),
    ).pollPayinUntilEnded(paymentId);
  if (!local) {
    return {
      initiatePayin: queued.initiatePayin,
      confirmPayinOutcome: queued.confirmPayinOutcome,
      pollUntilEnded,
    };
  }
  const { initiatePayinLocally, confirmPayinOutcomeLocally } =
    proxyLocalActivities<PayinActivities>(LOCAL_SEND_ACTIVITY_OPTIONS);
  return {
    initiatePayin: (...args: Parameters<PayinActivities['initiatePayin']>) =>
      initiatePayinLocally(operator, ...args),
    confirmPayinOutcome: (...args: Parameters<PayinActivities['confirmPayinOutcome']>) =>
      confirmPayinOutcomeLocally(operator, ...args),
    pollUntilEnded,
  };
}

/**
 * Payins started from this version on learn and record their end in one activity, and call their
 * operator on its own task queues (DESIGN.md "Temporal"; docs/BENCHMARKS.md, events per payin).
 * Checked once, in the first workflow task: payins started before keep their shape to the end.
 */
const ONE_STEP_END = 'payin-end-in-one-activity';

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
  // Shape 2 (every payin the API starts from this version on) ends in one activity and leaves its
  // search attributes as they were set at its start until it ends, then upserts them once: two
  // history events and two visibility writes fewer per payin than a patch marker and a mirror of
  // each step (docs/BENCHMARKS.md, events per payin). Earlier payins replay as they ran.
  // Shape 3 (from this version on) is shape 2 with its send and confirmation run as local
  // activities (operatorCalls). Shapes are never mixed within one payin.
  const shape2 = input.shape === 2 || input.shape === 3;
  const oneStepEnd = shape2 || patched(ONE_STEP_END);
  const state = { operator: input.operator };
  const outcome = await runPayin(input, oneStepEnd, shape2, input.shape === 3, state);
  if (shape2) {
    mirror([
      { key: SA.status, value: outcome.status },
      ...(state.operator !== input.operator ? [{ key: SA.operator, value: state.operator }] : []),
    ]);
  }
  return outcome;
}

async function runPayin(
  input: PayinWorkflowInput,
  oneStepEnd: boolean,
  shape2: boolean,
  local: boolean,
  state: { operator: string },
): Promise<PayinOutcome> {
  // The operator the payin is with (it changes when the payin fails over before any send).
  let operator = input.operator;
  const send: Send = (attempt, options) =>
    oneStepEnd
      ? operatorCalls(operator, local).initiatePayin(input.paymentId, attempt, options)
      : options
        ? initiatePayin(input.paymentId, attempt, options)
        : initiatePayin(input.paymentId, attempt);
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
    if (!shape2) mirror([{ key: SA.status, value: next }]);
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
  let started = await initiateWithRetries(input, send, (next) => {
    operator = next;
    state.operator = next;
    if (!shape2) mirror([{ key: SA.operator, value: next }]);
  });
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
    started = await sendAfterPayer(input, send);
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
  if (oneStepEnd) {
    // The activity that learns the definite answer records the end (and its ledger entry).
    const calls = operatorCalls(operator, local);
    const { ended, observation } = await awaitEnd({
      deadlineAt: input.deadlineAt,
      poll: input.poll,
      hints: pendingHints,
      confirm: (hints, atDeadline) => calls.confirmPayinOutcome(input.paymentId, hints, { atDeadline }),
      pollUntilEnded: (schedule) => calls.pollUntilEnded(input.paymentId, schedule),
      onCheck: () => checks++,
    });
    setStatus(ended.status);
    // Callbacks that came while the end was being recorded are weighed too, not left `signalled`.
    if (pendingHints.length) await settleLateHints(pendingHints.splice(0), observation, input.amount);
    log.info('payin ended', { paymentId: input.paymentId, status: ended.status, checks, callbacksReceived });
    return ended;
  }
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

/** One initiation attempt, through the payin's current operator. */
type Send = (
  attempt: number,
  options?: { canFailOver?: boolean; payerGiven?: boolean },
) => Promise<InitiationAttempt>;

/** Sends the payin once the payer gave their number on our page (same rules as the first send). */
async function sendAfterPayer(input: PayinWorkflowInput, send: Send): Promise<InitiationView> {
  let detail = '';
  for (let tries = 1; tries <= MAX_INITIATION_ATTEMPTS; tries++) {
    const result = await send(PAYER_ATTEMPT_BASE + tries, { payerGiven: true });
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

async function initiateWithRetries(
  input: PayinWorkflowInput,
  send: Send,
  switchedTo: (operator: string) => void,
): Promise<InitiationView> {
  const routes = input.routes ?? [input.operator];
  let attempt = 0;
  let detail = '';
  for (let r = 0; r < routes.length; r++) {
    const operator = routes[r]!;
    const more = r < routes.length - 1;
    if (r > 0) {
      // Failover: nothing reached the previous route that could charge the payer.
      await switchPayinRoute(input.paymentId, operator, detail);
      switchedTo(operator);
    }
    for (let tries = 1; tries <= MAX_INITIATION_ATTEMPTS; tries++) {
      attempt++;
      const result = more ? await send(attempt, { canFailOver: true }) : await send(attempt);
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
