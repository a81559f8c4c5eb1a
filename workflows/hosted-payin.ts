import {
  ChildWorkflowCancellationType,
  ParentClosePolicy,
  condition,
  defineQuery,
  defineSignal,
  defineUpdate,
  log,
  proxyActivities,
  setHandler,
  startChild,
} from '@temporalio/workflow';
import type { CheckoutActivities } from '../activities/checkout-activities.js';
import type { PaymentFailure, PaymentStatus } from '../lib/payments.js';
import {
  SA,
  paymentWorkflowStart,
  type HostedPayinWorkflowInput,
  type PayinWorkflowInput,
} from '../lib/payment-workflows.js';
import { cardPayin } from './card-payin.js';
import { cardProcessorPayin } from './card-processor-payin.js';
import { payin, type PayinOutcome } from './payin.js';
import { refund } from './refund.js';
import { mirror } from './search.js';
import { ACTIVITY_OPTIONS, legInitiatedSignal } from './shared.js';

const { recordCheckoutOutcome, createDuplicateAttemptRefund, attemptStatus } =
  proxyActivities<CheckoutActivities>(ACTIVITY_OPTIONS);

/** How many attempts may be in flight at once: the payer gave up on one and tries another way. */
export const MAX_OPEN_ATTEMPTS = 3;

/** The payer chose a network and a number on our page: the API stored the attempt, this starts it. */
export const startAttemptUpdate = defineUpdate<void, [PayinWorkflowInput]>('startAttempt');
/**
 * The payer typed a card on our page: the API vaulted it and recorded the attempt (a card payin of
 * the whole amount on one rail); this starts it. A card attempt runs alone: none starts while
 * another attempt is in flight, and no other starts while it runs, so a payer is never charged
 * twice through a card.
 */
export interface CardAttemptInput {
  paymentId: string;
  rail: 'gim' | 'processor';
  amount: number;
  /** The processor's rail: how long the payer has for the issuer's challenge. */
  challengeSeconds?: number;
}
export const startCardAttemptUpdate = defineUpdate<void, [CardAttemptInput]>('startCardAttempt');
/** The payer pressed "cancel" on our page. Attempts in flight still end as they end. */
export const cancelCheckoutSignal = defineSignal('cancelCheckout');
export interface CheckoutState {
  accepting: boolean;
  attempts: { id: string; status: PaymentStatus | 'running' }[];
  succeededThrough?: string;
}
export const checkoutStateQuery = defineQuery<CheckoutState>('checkoutState');

/**
 * A hosted payin (docs/checkout.md): the merchant's payment, paid on our page. Each network and
 * number the payer tries is an attempt, a payin of its own run as a child workflow (its own
 * operator transaction, callbacks, ledger credit). The hosted payin succeeds through at most one:
 * an attempt that succeeds after another did is refunded to its payer, as a step of this workflow.
 * It ends when no attempt runs and one succeeded, the payer cancelled, or its deadline passed.
 * It never moves money itself.
 */
export async function hostedPayin(input: HostedPayinWorkflowInput): Promise<PayinOutcome> {
  const deadline = Date.parse(input.deadlineAt);
  const attempts: { id: string; status: PaymentStatus | 'running'; card?: boolean }[] = [];
  const ended: { id: string; status: PaymentStatus; failure?: PaymentFailure }[] = [];
  let succeededThrough: string | undefined;
  let cancelRequested = false;

  const running = () => attempts.filter((a) => a.status === 'running').length;
  const cardRunning = () => attempts.some((a) => a.status === 'running' && a.card);
  const accepting = () => !succeededThrough && !cancelRequested && Date.now() < deadline;

  setHandler(
    startAttemptUpdate,
    async (attempt) => {
      const entry: (typeof attempts)[number] = { id: attempt.paymentId, status: 'running' };
      attempts.push(entry);
      const start = startChild(payin, {
        args: [attempt],
        ...paymentWorkflowStart({
          kind: 'payin',
          paymentId: attempt.paymentId,
          merchantId: input.merchantId,
          operator: attempt.operator,
          amount: attempt.amount,
        }),
        // An attempt is money in flight: it runs to its end whatever becomes of this workflow.
        parentClosePolicy: ParentClosePolicy.ABANDON,
        cancellationType: ChildWorkflowCancellationType.ABANDON,
      });
      const child = await start.catch((err: unknown) => {
        attempts.splice(attempts.indexOf(entry), 1);
        throw err;
      });
      void child.result().then(
        (outcome) => ended.push({ id: entry.id, status: outcome.status, failure: outcome.failure }),
        // Failed or terminated: its row says how far the money went.
        async (err: unknown) => {
          log.warn('attempt workflow failed', { attemptId: entry.id, error: String(err) });
          ended.push({ id: entry.id, status: await attemptStatus(entry.id) });
        },
      );
    },
    {
      validator: (attempt: PayinWorkflowInput) => {
        if (!accepting()) throw new Error('This payin takes no more attempts');
        if (running() >= MAX_OPEN_ATTEMPTS) throw new Error('Too many attempts in flight');
        if (cardRunning()) throw new Error('A card payment is in flight');
        if (attempts.some((a) => a.id === attempt.paymentId)) throw new Error('Attempt already started');
        if (attempt.amount !== input.amount) throw new Error('An attempt is for the whole amount');
      },
    },
  );
  setHandler(
    startCardAttemptUpdate,
    async (attempt) => {
      const entry: (typeof attempts)[number] = { id: attempt.paymentId, status: 'running', card: true };
      attempts.push(entry);
      const options = {
        ...paymentWorkflowStart({
          kind: 'payin',
          paymentId: attempt.paymentId,
          merchantId: input.merchantId,
          operator: attempt.rail,
          amount: attempt.amount,
        }),
        parentClosePolicy: ParentClosePolicy.ABANDON,
        cancellationType: ChildWorkflowCancellationType.ABANDON,
      };
      const start =
        attempt.rail === 'processor'
          ? startChild(cardProcessorPayin, {
              args: [{ paymentId: attempt.paymentId, challengeSeconds: attempt.challengeSeconds ?? 600 }],
              ...options,
            })
          : startChild(cardPayin, { args: [{ paymentId: attempt.paymentId }], ...options });
      const child = await start.catch((err: unknown) => {
        attempts.splice(attempts.indexOf(entry), 1);
        throw err;
      });
      // A card payin answers in its own words; its row says how it ended.
      void child.result().then(
        async () => ended.push({ id: entry.id, status: await attemptStatus(entry.id) }),
        async (err: unknown) => {
          log.warn('card attempt workflow failed', { attemptId: entry.id, error: String(err) });
          ended.push({ id: entry.id, status: await attemptStatus(entry.id) });
        },
      );
    },
    {
      validator: (attempt: CardAttemptInput) => {
        if (!accepting()) throw new Error('This payin takes no more attempts');
        if (running() > 0) throw new Error('Another attempt is in flight');
        if (attempts.some((a) => a.id === attempt.paymentId)) throw new Error('Attempt already started');
        if (attempt.amount !== input.amount) throw new Error('An attempt is for the whole amount');
      },
    },
  );
  setHandler(cancelCheckoutSignal, () => {
    cancelRequested = true;
  });
  // An attempt tells its parent its first step, as a transfer's collection does; the page reads it from its row.
  setHandler(legInitiatedSignal, () => undefined);
  setHandler(checkoutStateQuery, () => ({
    accepting: accepting(),
    attempts: attempts.map((a) => ({ id: a.id, status: a.status })),
    ...(succeededThrough ? { succeededThrough } : {}),
  }));

  let lastFailure: PaymentFailure | undefined;
  let unknownAttempt: string | undefined;
  for (;;) {
    while (ended.length > 0) {
      const e = ended.shift()!;
      const entry = attempts.find((a) => a.id === e.id)!;
      entry.status = e.status;
      if (e.status === 'succeeded') {
        if (!succeededThrough) {
          succeededThrough = e.id;
          await recordCheckoutOutcome({
            paymentId: input.paymentId,
            to: 'succeeded',
            attemptId: e.id,
            reason: `paid through attempt ${e.id}`,
          });
        } else {
          // The payer paid twice (two attempts in flight both went through): the later one goes back.
          const refundInput = await createDuplicateAttemptRefund(e.id);
          await startChild(refund, {
            args: [refundInput],
            ...paymentWorkflowStart({
              kind: 'refund',
              paymentId: refundInput.paymentId,
              merchantId: input.merchantId,
              operator: refundInput.operator,
              amount: refundInput.amount,
            }),
            parentClosePolicy: ParentClosePolicy.ABANDON,
            cancellationType: ChildWorkflowCancellationType.ABANDON,
          });
        }
      } else if (e.status === 'unknown') {
        unknownAttempt = e.id;
      } else {
        lastFailure = e.failure;
      }
    }
    const closing = succeededThrough !== undefined || cancelRequested || Date.now() >= deadline;
    if (closing && running() === 0) break;
    // Open: until an attempt ends, the payer cancels, or the deadline. Closing: until the
    // attempts still in flight end.
    if (!closing) await condition(() => ended.length > 0 || cancelRequested, deadline - Date.now());
    else await condition(() => ended.length > 0);
  }

  const end = async (to: 'expired' | 'cancelled' | 'unknown', reason: string, failure?: PaymentFailure) => {
    const status = await recordCheckoutOutcome({ paymentId: input.paymentId, to, reason, failure });
    return { status, ...(failure ? { failure } : {}) };
  };
  let outcome: PayinOutcome;
  if (succeededThrough) outcome = { status: 'succeeded' };
  else if (unknownAttempt) {
    // Reconciliation settles the attempt; its books are the attempt's.
    outcome = await end('unknown', `attempt ${unknownAttempt} has an unknown outcome`);
  } else if (cancelRequested) outcome = await end('cancelled', 'the payer cancelled on the payment page');
  else {
    outcome = await end(
      'expired',
      attempts.length
        ? 'no attempt succeeded before the deadline'
        : 'the payer did not pay before the deadline',
      lastFailure ?? { code: 'checkout_expired', message: 'The payer did not pay before the deadline' },
    );
  }
  mirror([{ key: SA.status, value: outcome.status }]);
  return outcome;
}
