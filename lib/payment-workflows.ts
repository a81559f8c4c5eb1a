import { defineSearchAttributeKey, type SearchAttributePair } from '@temporalio/common';
import type { OperatorTiming } from './operators.js';
import type { PaymentKind, PayinMode } from './payments.js';

/**
 * How a payment's workflow is named, found and started: its id, its search attributes, its input
 * and its deadline, built here for every way a payment starts (the API's create calls, a
 * transfer's legs, the refunds reconciliation decides). Pure: workflow code imports it too.
 */

/** A payment's workflow id derives from its id: one workflow per payment, ever. */
export function workflowIdFor(kind: PaymentKind, paymentId: string): string {
  return `${kind}-${paymentId}`;
}

export function payinWorkflowId(paymentId: string): string {
  return workflowIdFor('payin', paymentId);
}

export function transferWorkflowId(transferId: string): string {
  return `transfer-${transferId}`;
}

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
  /**
   * The workflow's shape, fixed at its start (workflows/payin.ts): 3 for every payin started from
   * this version on (its send and confirmation run as local activities), 2 for those started
   * before. Absent in payins older still. Each replays as it ran.
   */
  shape?: 2 | 3;
}

/** A hosted payin (workflows/hosted-payin.ts): the payer's attempts come through its page. */
export interface HostedPayinWorkflowInput {
  paymentId: string;
  merchantId: string;
  amount: number;
  currency: string;
  /** After this (ISO 8601) no new attempt starts; the payin ends once those in flight have. */
  deadlineAt: string;
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

/** What a payment's workflow start needs of its stored row (db/payments.ts PaymentRecord is one). */
export interface StartablePayment {
  id: string;
  merchantId: string;
  kind: PaymentKind;
  operator: string;
  mode: string;
  amount: number;
  currency: string;
  deadlineAt: Date | null;
  transferId?: string | null;
}

/** When a new payment stops waiting: its operator's deadline for its kind (and payin mode), from `now`. */
export function paymentDeadline(timing: OperatorTiming, kind: PaymentKind, now: Date = new Date()): Date {
  const seconds = kind === 'payin' ? timing.payinDeadlineSeconds : timing.payoutDeadlineSeconds;
  return new Date(now.getTime() + seconds * 1000);
}

export function payinWorkflowInput(
  p: StartablePayment,
  timing: OperatorTiming,
  routes?: readonly string[],
): PayinWorkflowInput {
  return {
    paymentId: p.id,
    merchantId: p.merchantId,
    operator: p.operator,
    mode: p.mode as PayinMode,
    amount: p.amount,
    currency: p.currency,
    deadlineAt: deadlineOf(p).toISOString(),
    poll: timing.poll,
    // Only a payin never sent anywhere fails over (the workflow checks each step).
    ...(routes && routes.length > 1 ? { routes: [...routes] } : {}),
    shape: 3,
  };
}

export function disbursementWorkflowInput(
  p: StartablePayment,
  timing: OperatorTiming,
): DisbursementWorkflowInput {
  return {
    paymentId: p.id,
    merchantId: p.merchantId,
    kind: p.kind === 'refund' ? 'refund' : 'payout',
    operator: p.operator,
    amount: p.amount,
    currency: p.currency,
    deadlineAt: deadlineOf(p).toISOString(),
    poll: timing.poll,
  };
}

/** The id and search attributes every payment's workflow starts with (the Temporal UI's columns). */
export function paymentWorkflowStart(p: {
  kind: PaymentKind | 'transfer';
  paymentId: string;
  merchantId: string;
  operator: string;
  amount: number;
  /** A transfer's leg (or the transfer itself) is found by its transfer's id too. */
  transferId?: string | null;
}): { workflowId: string; typedSearchAttributes: SearchAttributePair[] } {
  return {
    workflowId: p.kind === 'transfer' ? transferWorkflowId(p.paymentId) : workflowIdFor(p.kind, p.paymentId),
    typedSearchAttributes: [
      { key: SA.paymentId, value: p.paymentId },
      { key: SA.merchantId, value: p.merchantId },
      { key: SA.kind, value: p.kind },
      { key: SA.operator, value: p.operator },
      { key: SA.status, value: 'created' },
      { key: SA.amount, value: p.amount },
      ...(p.transferId ? [{ key: SA.transferId, value: p.transferId }] : []),
    ],
  };
}

function deadlineOf(p: StartablePayment): Date {
  if (!p.deadlineAt) throw new Error(`payment ${p.id} has no deadline`);
  return p.deadlineAt;
}
