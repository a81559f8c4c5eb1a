import type { Money } from '../lib/money.js';
import type { OperatorName } from '../lib/operators.js';
import type { Network } from '../lib/networks.js';
import type {
  NextAction,
  PayerLanguage,
  OperatorStatus,
  PayinMode,
  PaymentFailure,
  PaymentKind,
  PayoutMethod,
} from '../lib/payments.js';

export interface PayinRequest {
  /** Our payment id: the operator echoes it back as its transaction reference. */
  paymentId: string;
  /** This send's id, the same for every retry of one attempt (lib/ids.ts `operatorRequestId`). */
  requestId: string;
  amount: Money;
  mode: PayinMode;
  network?: Network;
  customer: {
    /** International digits without "+", e.g. 22670123456. */
    phone?: string;
    firstName?: string;
    lastName?: string;
    email?: string;
    /** The payer's language on the operator's page, where it offers one. */
    language?: PayerLanguage;
  };
  otp?: string;
  description: string;
  returnUrl?: string;
  cancelUrl?: string;
  callbackUrl: string;
  /** Our page that posts an operator's form for the payer (TMoney online), when the operator needs one. */
  checkoutUrl: string;
}

/** A payin as validated before it exists (no id or URLs yet). */
export type PayinDraft = Omit<PayinRequest, 'paymentId' | 'requestId' | 'callbackUrl' | 'checkoutUrl'>;

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
      /**
       * A secret the operator handed out for this payment that its callbacks must carry (Orange's
       * `notif_token`): stored hashed, never in `raw`.
       */
      callbackSecret?: string;
    }
  | {
      kind: 'rejected';
      failure: PaymentFailure;
      operatorStatus: string;
      operatorMessage?: string;
      raw: unknown;
      /** The refusal is about the operator (credentials, configuration, outage), not the payment: another route may work. */
      operatorSide?: boolean;
    }
  /**
   * Nothing was sent: the payer must first give what the operator needs (their number) on our
   * own page, `nextAction`; the payin is sent once they have.
   */
  | { kind: 'awaiting_payer'; nextAction: NextAction }
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
      /** The operator stated an amount we cannot read: kept as text, never read as "no amount". */
      amountUnreadable?: string;
      /**
       * The transaction was registered by our own server-to-server request (at our amount) and
       * this answer is about that registration, by the reference the operator gave us for it.
       */
      amountFixedByRequest?: boolean;
      failure?: PaymentFailure;
      /** The payer's number as the operator knows it (international digits), when it says. */
      payerPhone?: string;
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
  /** The operator's failure, in our words, when the callback reports one. */
  failure?: PaymentFailure;
  /** Amount in minor units as the callback states it. */
  amount?: number;
  /**
   * The operator's callbacks state no amount at all (Orange's notification): no amount is
   * compared; the status call about the transaction our own request created (at our amount) decides.
   */
  amountNotStated?: boolean;
  /** The per-payment secret the callback carries (Orange's `notif_token`), compared with the one stored. */
  paymentSecret?: string;
  currency?: string;
  /** Same for every delivery of the same operator event (both bodies, repeats). */
  eventKey: string;
  fields: Record<string, unknown>;
}

/** A callback as received: operators call back with POST bodies (JSON, form) or GET query strings. */
export interface CallbackInput {
  method: string;
  query: Record<string, string>;
  contentType: string | undefined;
  rawBody: string;
}

/** The payment a callback names, as the adapter needs it to read the callback. */
export interface CallbackPayment {
  kind: PaymentKind;
  /** PayinMode or PayoutMethod. */
  mode: string;
}

export type CallbackParseResult = { ok: true; callback: ParsedCallback } | { ok: false; reason: string };

/** A payout as validated before it exists. */
export type PayoutDraft = Omit<PayoutRequest, 'paymentId' | 'requestId' | 'callbackUrl' | 'description'>;

/** Balances the operator holds for us, per network, when it reports them. */
export interface OperatorBalance {
  network: string;
  amount: number;
  currency: string;
}

export interface PayoutRequest {
  /** Our payout or refund id, echoed back by the operator. */
  paymentId: string;
  /** This send's id, the same for every retry of one attempt: the operator can tell a repeat. */
  requestId: string;
  amount: Money;
  method: PayoutMethod;
  /** International digits without "+". */
  recipientPhone: string;
  /** The recipient's network (PayGate needs it to pick FLOOZ or TMONEY). */
  network?: Network;
  description: string;
  callbackUrl: string;
  /** For a refund: the payin it gives back (operators with a refund call of their own need it). */
  refundOf?: { paymentId: string; operatorReference: string | null; amount: Money };
}

/**
 * How a payment is known: our id (which operators echo back), the operator's own reference, and
 * what some status calls must repeat (Orange asks for the amount; the country picks the path or
 * the target environment).
 */
export interface PaymentRefs {
  paymentId: string;
  operatorReference: string | null;
  amount: Money;
  network: string | null;
}

/** What a callback's reference is checked against. */
export interface CallbackPaymentRefs {
  paymentId: string;
  operatorReference: string | null;
  kind: PaymentKind;
}

/** A payment looked up by our own reference alone (a payout whose send was not answered). */
export type PaymentLookup = Omit<PaymentRefs, 'operatorReference'>;

/** Whether the operator holds a disbursement for our reference (DESIGN.md rule 2). */
export type DisbursementLookup =
  | { kind: 'found'; operatorReference: string; report: Extract<StatusReport, { reachable: true }> }
  | { kind: 'absent' }
  /** The operator cannot be asked by our reference (or did not answer): never send again. */
  | { kind: 'cannot_tell'; detail: string };

/** One line of an operator's settlement report, in our words. */
export interface ReportLine {
  /** Our payment id as the operator echoes it. */
  ourReference: string;
  operatorReference: string;
  kind: 'payin' | 'payout';
  /** Minor units. */
  amount: number;
  currency: string;
  status: OperatorStatus;
  operatorStatus: string;
  occurredAt: string;
}

/** The transactions created from `from` (included) to `to` (excluded). */
export interface ReportPeriod {
  from: Date;
  to: Date;
}

/**
 * An operator's report of its transactions for a period (usually a day), streamed: the file may have a million
 * lines, so it is read line by line and never held in memory.
 */
export interface SettlementReportSource {
  open(
    period: ReportPeriod,
  ): Promise<{ kind: 'ok'; body: import('node:stream').Readable } | { kind: 'unavailable'; detail: string }>;
  /** A data line in our words, `null` for a header or a blank line, or why it cannot be read. */
  parseLine(line: string): ReportLine | null | { error: string };
  /** A status word of the operator's back-office export (a file uploaded by operations), in our words. */
  reportStatus(word: string, kind: 'payin' | 'payout'): OperatorStatus;
}

/** What every operator adapter offers; an operator's quirks stay behind it. */
export interface OperatorAdapter {
  readonly name: OperatorName;
  /**
   * The longest one logical operator call can take (every HTTP request it may need: a token, a
   * renewal, a repeat on 401), from the adapter's own timeouts: send activities are sized on it.
   */
  readonly worstCaseCallMs: number;
  /** Refuses early (before anything is sent) what the operator cannot do. */
  validatePayin(req: PayinDraft): PaymentFailure | undefined;
  initiatePayin(req: PayinRequest): Promise<InitiationOutcome>;
  checkPayinStatus(refs: PaymentRefs): Promise<StatusReport>;
  validatePayout(req: PayoutDraft): PaymentFailure | undefined;
  initiatePayout(req: PayoutRequest): Promise<InitiationOutcome>;
  checkPayoutStatus(refs: PaymentRefs, method: PayoutMethod): Promise<StatusReport>;
  findPayoutByReference(payment: PaymentLookup, method: PayoutMethod): Promise<DisbursementLookup>;
  /** The operator's own balances, where it has such a call. */
  balances?(): Promise<OperatorBalance[]>;
  /** The operator's settlement report, for reconciliation. */
  readonly settlementReport: SettlementReportSource;
  /**
   * Reads a callback. `payment` is the payment it names, once known: the same operator may word
   * a payout's callback differently from a payin's (LigdiCash).
   */
  parseCallback(input: CallbackInput, payment?: CallbackPayment): CallbackParseResult;
  /**
   * Where a payin's outcome is confirmed: the operator's status API, or (TMoney online, which has
   * none) the verified callback itself.
   */
  payinConfirmation(mode: PayinMode): 'status_api' | 'callback';
  /** Whether a callback's own reference is consistent with the payment it names. */
  callbackReferenceMatches(payment: CallbackPaymentRefs, cb: ParsedCallback): boolean;
}
