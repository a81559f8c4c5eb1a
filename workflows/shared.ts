import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { SEND_ACTIVITY_TIMEOUT_MS, SEND_HEARTBEAT_TIMEOUT_MS } from '../lib/timeouts.js';
import type { CallbackHint } from '../lib/payment-decisions.js';
import type { NextAction, PaymentFailure, PaymentStatus } from '../lib/payments.js';

/**
 * What the API, the callback intake and the worker share about the payin workflow: its input,
 * its messages and its search attributes. Pure definitions only.
 */

/** Timeouts every payment activity shares. */
export const ACTIVITY_TIMEOUTS = {
  // Operator HTTP calls time out well within this; database outages are retried until they end.
  startToCloseTimeout: '1 minute',
  // Activities heartbeat every second: a worker that dies mid-activity is noticed this fast.
  heartbeatTimeout: '5 seconds',
} as const;

/** Options of the payment activities other than polling: retried until they answer. */
export const ACTIVITY_OPTIONS = {
  ...ACTIVITY_TIMEOUTS,
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
} as const;

/**
 * Options of the activities that send a payment to its operator: a start-to-close timeout sized
 * from the operators' worst case (lib/timeouts.ts) and a heartbeat timeout that a short stall does
 * not reach; their sends are also under a database lease (activities/send-lease.ts).
 */
export const SEND_ACTIVITY_OPTIONS = {
  ...ACTIVITY_OPTIONS,
  startToCloseTimeout: SEND_ACTIVITY_TIMEOUT_MS,
  heartbeatTimeout: SEND_HEARTBEAT_TIMEOUT_MS,
} as const;

/**
 * Options of a send or confirmation run as a local activity (shape 3 payins): the send's timeout,
 * retried on the same backoff. A local activity has no heartbeat: a worker that dies mid-call is
 * noticed when its workflow task times out, and the next worker runs the call again under the
 * same send lease and attempt record (DESIGN.md rule 2).
 */
export const LOCAL_SEND_ACTIVITY_OPTIONS = {
  startToCloseTimeout: SEND_ACTIVITY_TIMEOUT_MS,
  retry: ACTIVITY_OPTIONS.retry,
} as const;

export interface TransferState {
  status: string;
  collection?: string;
  disbursement?: string;
  refunds: string[];
}

/** Answer to the create call: what the payer must do next, or how the payin already ended. */
export interface InitiationView {
  status: PaymentStatus;
  nextAction: NextAction;
  failure?: PaymentFailure;
  /** Nothing sent yet: the payer gives their number on our page (`payerDetailsUpdate`) first. */
  awaitingPayer?: boolean;
}

export type { CallbackHint } from '../lib/payment-decisions.js';

/** What a payment's workflow answers to the `paymentState` query (the Temporal UI's Queries tab). */
export interface PaymentState {
  status: PaymentStatus;
  checks: number;
  callbacksReceived: number;
}

export const initiationUpdate = defineUpdate<InitiationView>('initiation');
/**
 * The payer gave their number on our page (it is on the payment row, never in the history):
 * the payin is sent now; answers with the payer's next action (approve on the phone) or the end.
 */
export const payerDetailsUpdate = defineUpdate<InitiationView>('payerDetails');
/** A payin run as a transfer's collection leg tells its parent the payer's next action. */
export const legInitiatedSignal = defineSignal<[InitiationView]>('legInitiated');
export const transferStateQuery = defineQuery<TransferState>('transferState');
export const operatorCallbackSignal = defineSignal<[CallbackHint]>('operatorCallback');
export const paymentStateQuery = defineQuery<PaymentState>('paymentState');
