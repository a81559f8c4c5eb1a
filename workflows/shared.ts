import { defineSearchAttributeKey } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { SEND_ACTIVITY_TIMEOUT_MS, SEND_HEARTBEAT_TIMEOUT_MS } from '../lib/timeouts.js';
import type {
  NextAction,
  OperatorStatus,
  PaymentFailure,
  PaymentKind,
  PaymentStatus,
  PayinMode,
} from '../lib/payments.js';

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

export const PAYIN_WORKFLOW_TYPE = 'payin';
export const PAYOUT_WORKFLOW_TYPE = 'payout';
export const REFUND_WORKFLOW_TYPE = 'refund';
export const TRANSFER_WORKFLOW_TYPE = 'transfer';

export function transferWorkflowId(transferId: string): string {
  return `transfer-${transferId}`;
}

export interface TransferWorkflowInput {
  transferId: string;
  merchantId: string;
  collection: PayinWorkflowInput;
  disbursementPaymentId: string;
  /** Waits before each new refund after a failed one; when they are used up, the transfer needs review. */
  refundRetrySeconds: number[];
  /** A leg of unknown outcome is looked up every `everySeconds`, for at most `maxWaitSeconds`. */
  resolution: { everySeconds: number; maxWaitSeconds: number };
}

export interface TransferState {
  status: string;
  collection?: string;
  disbursement?: string;
  refunds: string[];
}

/** A payment's workflow id derives from its id: one workflow per payment, ever. */
export function workflowIdFor(kind: PaymentKind, paymentId: string): string {
  return `${kind}-${paymentId}`;
}

export function payinWorkflowId(paymentId: string): string {
  return workflowIdFor('payin', paymentId);
}

export interface DisbursementWorkflowInput {
  paymentId: string;
  merchantId: string;
  kind: 'payout' | 'refund';
  operator: string;
  amount: number;
  currency: string;
  /** After this (ISO 8601) a payout still pending is left `unknown` for reconciliation, its hold kept. */
  deadlineAt: string;
  poll: { initialSeconds: number; maxSeconds: number };
}

export interface PayinWorkflowInput {
  paymentId: string;
  merchantId: string;
  operator: string;
  mode: PayinMode;
  amount: number;
  currency: string;
  /** When we stop waiting for the payer (ISO 8601); per operator configuration. */
  deadlineAt: string;
  poll: { initialSeconds: number; maxSeconds: number };
  /**
   * Operators to try in order when one is down or refuses for reasons of its own, before anything
   * was sent that could charge the payer (failover). Absent: `operator` only.
   */
  routes?: string[];
}

/** Answer to the create call: what the payer must do next, or how the payin already ended. */
export interface InitiationView {
  status: PaymentStatus;
  nextAction: NextAction;
  failure?: PaymentFailure;
  /** Nothing sent yet: the payer gives their number on our page (`payerDetailsUpdate`) first. */
  awaitingPayer?: boolean;
}

/** A verified callback, handed to the workflow as a hint to check the status API now. */
export interface CallbackHint {
  callbackId: number;
  reportedStatus: OperatorStatus;
  amount?: number;
}

export interface PayinState {
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
export const payinStateQuery = defineQuery<PayinState>('payinState');

/** Custom search attributes, registered on the Temporal server at start (see workers/search-attributes.ts). */
export const SA = {
  paymentId: defineSearchAttributeKey('PaymentId', 'KEYWORD'),
  merchantId: defineSearchAttributeKey('MerchantId', 'KEYWORD'),
  kind: defineSearchAttributeKey('PaymentKind', 'KEYWORD'),
  operator: defineSearchAttributeKey('Operator', 'KEYWORD'),
  status: defineSearchAttributeKey('PaymentStatus', 'KEYWORD'),
  amount: defineSearchAttributeKey('AmountMinor', 'INT'),
  /** Set on a transfer and on each of its legs: one search finds them all. */
  transferId: defineSearchAttributeKey('TransferId', 'KEYWORD'),
} as const;
