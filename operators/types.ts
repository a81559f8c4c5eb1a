import type { Money } from '../lib/money.js';
import type { Network } from '../lib/networks.js';
import type { NextAction, OperatorStatus, PayinMode, PaymentFailure } from '../lib/payments.js';

/** The operators Passerelle speaks to. */
export const OPERATORS = ['ligdicash'] as const;
export type OperatorName = (typeof OPERATORS)[number];

export interface PayinRequest {
  /** Our payment id: the operator echoes it back as its transaction reference. */
  paymentId: string;
  amount: Money;
  mode: PayinMode;
  network?: Network;
  customer: {
    /** International digits without "+", e.g. 22670123456. */
    phone?: string;
    firstName?: string;
    lastName?: string;
    email?: string;
  };
  otp?: string;
  description: string;
  returnUrl?: string;
  cancelUrl?: string;
  callbackUrl: string;
}

/** Operator-level answer to an initiation; infrastructure errors are thrown instead. */
export type InitiationOutcome =
  | {
      kind: 'accepted';
      operatorReference: string;
      status: OperatorStatus;
      nextAction: NextAction;
      operatorStatus: string;
      operatorMessage?: string;
      raw: unknown;
    }
  | {
      kind: 'rejected';
      failure: PaymentFailure;
      operatorStatus: string;
      operatorMessage?: string;
      raw: unknown;
    }
  /** Nothing reached the operator (connection refused): sending again is safe. */
  | { kind: 'unreachable'; detail: string }
  /** The request may have been processed (timeout, 5xx, unreadable answer): never simply re-send. */
  | { kind: 'ambiguous'; detail: string };

export type StatusReport =
  | {
      reachable: true;
      status: OperatorStatus;
      /** The operator's own status word, kept for the event log. */
      operatorStatus: string;
      operatorMessage?: string;
      /** Amount the operator holds for the transaction, in minor units, when it says. */
      amount?: number;
      failure?: PaymentFailure;
      raw: unknown;
    }
  | { reachable: false; detail: string };

/** An operator callback, read but not yet trusted. */
export interface ParsedCallback {
  /** Our payment id as the operator echoed it, when present. */
  paymentId?: string;
  operatorReference?: string;
  reportedStatus: OperatorStatus;
  operatorStatus: string;
  operatorMessage?: string;
  /** Amount in minor units as the callback states it. */
  amount?: number;
  currency?: string;
  /** Same for every delivery of the same operator event (both bodies, repeats). */
  eventKey: string;
  fields: Record<string, unknown>;
}

export type CallbackParseResult = { ok: true; callback: ParsedCallback } | { ok: false; reason: string };

/** What every operator adapter offers for payins. */
export interface PayinOperator {
  readonly name: OperatorName;
  /** Refuses early (before anything is sent) what the operator cannot do. */
  validatePayin(req: Omit<PayinRequest, 'paymentId' | 'callbackUrl'>): PaymentFailure | undefined;
  initiatePayin(req: PayinRequest): Promise<InitiationOutcome>;
  checkPayinStatus(operatorReference: string): Promise<StatusReport>;
  parseCallback(input: { contentType: string | undefined; rawBody: string }): CallbackParseResult;
}
