import { operationOf } from '../call-metrics.js';
import { parseMajorUnits } from '../../lib/money.js';
import type { Network } from '../../lib/networks.js';
import type { OperatorStatus, PaymentFailure } from '../../lib/payments.js';
import { statedAmount } from '../amounts.js';
import { readJsonCallback } from '../callback-body.js';
import { httpRequest, httpStream, type HttpOutcome } from '../http.js';
import type {
  CallbackInput,
  CallbackParseResult,
  DisbursementLookup,
  InitiationOutcome,
  OperatorAdapter,
  OperatorBalance,
  ParsedCallback,
  PayinDraft,
  PayinRequest,
  CallbackPaymentRefs,
  PaymentLookup,
  PaymentRefs,
  PayoutDraft,
  PayoutRequest,
  ReportLine,
  ReportPeriod,
  StatusReport,
} from '../types.js';
import { mapPaymentCode, registrationRefusal } from './mapping.js';
import {
  PAYGATE_NETWORKS,
  PAYGATE_PATHS,
  REGISTRATION,
  balanceAnswer,
  disburseAnswer,
  payAnswer,
  paygateCallback,
  reportLine,
  statusAnswer,
} from './protocol.js';
export interface PaygateOptions {
  baseUrl: string;
  /** The e-commerce API key ("auth_token"). */
  authToken: string;
  httpTimeoutMs: number;
  /**
   * Send redirect payers to PayGateGlobal's own page (method 2). Off unless an operator opts in:
   * that page's URL carries our API key (which also authorises payouts) and an amount the payer
   * can edit. Off, a redirect payer gives their number on our page and pays by method 1.
   */
  unsafeHostedPage?: boolean;
}
function isPaygateNetwork(network: Network | undefined): network is keyof typeof PAYGATE_NETWORKS {
  return network === 'moov_tg' || network === 'togocel_tg';
}

/** National number: PayGateGlobal serves Togo only (8 digits after 228). */
function nationalNumber(international: string): string {
  return international.replace(/\D/g, '').replace(/^228/, '');
}

/**
 * PayGateGlobal: Flooz (Moov Togo) and TMoney (Togocel) through one API; direct payins by
 * `/api/v1/pay`, redirect payins through its hosted page, payouts by `/api/v1/disburse`, status
 * by its reference (v1) or by ours (v2), balances per network.
 */
export class PaygateOperator implements OperatorAdapter {
  readonly name = 'paygate' as const;

  /** /pay, then a v2 status when the identifier is already registered. */
  get worstCaseCallMs(): number {
    return 2 * this.options.httpTimeoutMs;
  }

  constructor(private readonly options: PaygateOptions) {}

  private url(path: string): string {
    return new URL(path, this.options.baseUrl).toString();
  }

  private post(path: string, body: Record<string, unknown>): Promise<HttpOutcome> {
    return httpRequest(this.url(path), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ auth_token: this.options.authToken, ...body }),
      timeoutMs: this.options.httpTimeoutMs,
      label: { operator: this.name, operation: operationOf(path) },
    });
  }

  /**
   * The day's transactions as JSON lines ({tx_reference, identifier, type, amount, network,
   * status, datetime}, status a payment code). Not in the document (its dashboard lists
   * transactions): this is our reading, as the sandbox serves it (docs/reconciliation.md).
   */
  readonly settlementReport = {
    open: (period: ReportPeriod) =>
      httpStream(this.url(PAYGATE_PATHS.transactions), {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({
          auth_token: this.options.authToken,
          from: period.from.toISOString(),
          to: period.to.toISOString(),
        }),
        timeoutMs: this.options.httpTimeoutMs,
      }),
    // The payment codes (0 paid, 2 pending, 4 expired, 6 cancelled); a disbursement's 200 is done.
    reportStatus: (word: string, kind: 'payin' | 'payout'): OperatorStatus => {
      const code = Number(word.trim());
      if (!Number.isInteger(code)) return 'unknown';
      if (kind === 'payout' && code === 200) return 'succeeded';
      return mapPaymentCode(code).status;
    },
    parseLine: (line: string): ReportLine | null | { error: string } => {
      if (!line.trim()) return null;
      let row: unknown;
      try {
        row = JSON.parse(line);
      } catch {
        return { error: 'not JSON' };
      }
      const parsed = reportLine.safeParse(row);
      if (!parsed.success) return { error: parsed.error.issues[0]?.message ?? 'unexpected fields' };
      const r = parsed.data;
      const amount = parseMajorUnits(r.amount, 'XOF');
      if (amount === undefined) return { error: `amount ${r.amount}` };
      return {
        ourReference: r.identifier,
        operatorReference: r.tx_reference,
        kind: r.type === 'disbursement' ? 'payout' : 'payin',
        amount,
        currency: 'XOF',
        status: mapPaymentCode(r.status).status,
        operatorStatus: `payment_${r.status}`,
        occurredAt: r.datetime ?? '',
      };
    },
  };

  validatePayin(req: PayinDraft): PaymentFailure | undefined {
    if (req.amount.currency !== 'XOF')
      return { code: 'currency_not_supported', message: 'PayGateGlobal only takes XOF (FCFA)' };
    if (req.network && !isPaygateNetwork(req.network)) {
      return {
        code: 'network_not_supported',
        message: `PayGateGlobal serves Flooz and TMoney (Togo), not ${req.network}`,
      };
    }
    if (req.mode === 'direct' && !req.customer.phone) {
      return { code: 'phone_required', message: 'A PayGateGlobal direct payin needs the payer number' };
    }
    if (req.mode === 'direct' && !isPaygateNetwork(req.network)) {
      return {
        code: 'network_required',
        message: 'A PayGateGlobal direct payin needs a Togolese number and its network',
      };
    }
    return undefined;
  }

  payinConfirmation(): 'status_api' {
    return 'status_api';
  }

  async initiatePayin(req: PayinRequest): Promise<InitiationOutcome> {
    if (req.mode === 'redirect' && this.options.unsafeHostedPage) {
      // Method 2, opted into: the payer goes to PayGateGlobal's page; nothing is sent from here.
      // Its URL carries our API key and an amount the payer can change (docs/paygate.md): the
      // status answers by identifier then fix no amount, and only the settlement report can.
      const page = new URL(PAYGATE_PATHS.page, this.options.baseUrl);
      page.searchParams.set('token', this.options.authToken);
      page.searchParams.set('amount', String(req.amount.amount));
      page.searchParams.set('description', req.description);
      page.searchParams.set('identifier', req.paymentId);
      if (req.returnUrl) page.searchParams.set('url', req.returnUrl);
      if (req.customer.phone) page.searchParams.set('phone', nationalNumber(req.customer.phone));
      if (isPaygateNetwork(req.network)) page.searchParams.set('network', PAYGATE_NETWORKS[req.network].page);
      return {
        kind: 'accepted',
        operatorReference: req.paymentId,
        status: 'action_required',
        nextAction: { type: 'redirect', url: page.toString() },
        operatorStatus: 'page',
        raw: { page: page.pathname },
      };
    }
    if (req.mode === 'redirect' && !(req.customer.phone && isPaygateNetwork(req.network))) {
      // Our page asks the payer for their number; then method 1 (`/api/v1/pay`), server to server.
      return { kind: 'awaiting_payer', nextAction: { type: 'redirect', url: req.checkoutUrl } };
    }
    if (!isPaygateNetwork(req.network))
      return {
        kind: 'rejected',
        failure: { code: 'network_required', message: 'no network' },
        operatorStatus: 'local',
        raw: null,
      };
    const answer = await this.post(PAYGATE_PATHS.pay, {
      phone_number: nationalNumber(req.customer.phone ?? ''),
      amount: req.amount.amount,
      description: req.description,
      identifier: req.paymentId,
      network: PAYGATE_NETWORKS[req.network].api,
    });
    if (answer.kind !== 'answered') return answer;
    if (answer.status >= 500) return { kind: 'ambiguous', detail: `HTTP ${answer.status}` };
    const parsed = payAnswer.safeParse(answer.body);
    if (!parsed.success) return { kind: 'ambiguous', detail: `unreadable answer (HTTP ${answer.status})` };
    const { status, tx_reference } = parsed.data;
    if (status === REGISTRATION.duplicate) {
      // Our identifier is already registered (an earlier send that we did not hear back from):
      // carry on with that transaction rather than registering another.
      const known = await this.statusByIdentifier(req.paymentId);
      if (known.kind === 'found') {
        return {
          kind: 'accepted',
          operatorReference: known.txReference ?? req.paymentId,
          status: 'action_required',
          nextAction: { type: 'approve_on_phone', message: 'Approve the payment on your phone' },
          operatorStatus: 'registration_6',
          raw: answer.body,
        };
      }
    }
    if (status !== REGISTRATION.registered || !tx_reference) {
      const refusal = registrationRefusal(status);
      return { kind: 'rejected', ...refusal, operatorStatus: `registration_${status}`, raw: answer.body };
    }
    return {
      kind: 'accepted',
      operatorReference: tx_reference,
      status: 'action_required',
      nextAction: { type: 'approve_on_phone', message: 'Approve the payment on your phone with your PIN' },
      operatorStatus: 'registration_0',
      raw: answer.body,
    };
  }

  /** Status by our identifier (v2): works for both payins and the redirect page, whose tx_reference we never get. */
  /**
   * Status by PayGateGlobal's tx_reference (v1) when we have it (direct payins), else by our
   * identifier (v2): the hosted page never tells us its tx_reference.
   */
  async checkPayinStatus(refs: PaymentRefs): Promise<StatusReport> {
    const byTx = refs.operatorReference && refs.operatorReference !== refs.paymentId;
    // v1 answers about the transaction our own `/api/v1/pay` registered (at our amount); v2 by
    // identifier may answer about one a payer registered on the hosted page at an amount of
    // their choosing, so only v1 fixes the amount.
    const found = byTx
      ? await this.status(
          PAYGATE_PATHS.statusByTxReference,
          { tx_reference: refs.operatorReference },
          { amountFixedByRequest: true },
        )
      : await this.statusByIdentifier(refs.paymentId);
    if (found.kind === 'error') return { reachable: false, detail: found.detail };
    if (found.kind === 'absent')
      return { reachable: true, status: 'pending', operatorStatus: 'not_registered_yet', raw: null };
    return found.report;
  }

  validatePayout(req: PayoutDraft): PaymentFailure | undefined {
    if (req.amount.currency !== 'XOF')
      return { code: 'currency_not_supported', message: 'PayGateGlobal only pays out XOF' };
    if (req.method !== 'mobile_money')
      return { code: 'method_not_supported', message: 'PayGateGlobal pays out to mobile money only' };
    if (!isPaygateNetwork(req.network)) {
      return {
        code: 'network_not_supported',
        message: `PayGateGlobal pays Flooz and TMoney numbers (Togo), not ${req.network ?? 'this number'}`,
      };
    }
    return undefined;
  }

  /** `/api/v1/disburse`: status 200 means accepted; a timeout or 5xx is an unknown outcome. */
  async initiatePayout(req: PayoutRequest): Promise<InitiationOutcome> {
    if (!isPaygateNetwork(req.network))
      return {
        kind: 'rejected',
        failure: { code: 'network_required', message: 'no network' },
        operatorStatus: 'local',
        raw: null,
      };
    const answer = await this.post(PAYGATE_PATHS.disburse, {
      phone_number: nationalNumber(req.recipientPhone),
      amount: req.amount.amount,
      reason: req.description,
      reference: req.paymentId,
      network: PAYGATE_NETWORKS[req.network].api,
    });
    if (answer.kind !== 'answered') return answer;
    if (answer.status >= 500) return { kind: 'ambiguous', detail: `HTTP ${answer.status}` };
    // A refused key (HTTP 401, or 403): nothing was executed, and the fault is ours or
    // PayGateGlobal's, not the payout's: operator-side, so it counts against the operator's health.
    if (answer.status === 401 || answer.status === 403) {
      return {
        kind: 'rejected',
        failure: {
          code: 'operator_authentication_failed',
          message: `PayGateGlobal refused our API key on /disburse (HTTP ${answer.status})`,
        },
        operatorStatus: `http_${answer.status}`,
        raw: answer.body,
        operatorSide: true,
      };
    }
    const parsed = disburseAnswer.safeParse(answer.body);
    if (!parsed.success) return { kind: 'ambiguous', detail: `unreadable answer (HTTP ${answer.status})` };
    if (parsed.data.status !== 200) {
      return {
        kind: 'rejected',
        failure: {
          code: 'operator_declined',
          message: `PayGateGlobal refused the payout (${parsed.data.status}${parsed.data.message ? `: ${parsed.data.message}` : ''})`,
        },
        operatorStatus: `disburse_${parsed.data.status}`,
        operatorMessage: parsed.data.message,
        raw: answer.body,
        operatorSide: parsed.data.status === 401 || parsed.data.status === 403,
      };
    }
    return {
      kind: 'accepted',
      operatorReference: parsed.data.tx_reference ?? req.paymentId,
      status: 'pending',
      nextAction: { type: 'none' },
      operatorStatus: 'disburse_200',
      raw: answer.body,
    };
  }

  async checkPayoutStatus(refs: PaymentRefs): Promise<StatusReport> {
    return this.checkPayinStatus(refs);
  }

  /**
   * v2 status by our reference. The document defines it for payments only: for a disbursement a
   * 404 is not a documented "we have no such request" (an index that lags would say the same), so
   * it never counts as absent, and a payout is never sent again on it (DESIGN.md rule 2).
   */
  async findPayoutByReference({ paymentId }: PaymentLookup): Promise<DisbursementLookup> {
    const found = await this.statusByIdentifier(paymentId);
    if (found.kind === 'error') return { kind: 'cannot_tell', detail: found.detail };
    if (found.kind === 'absent') {
      return {
        kind: 'cannot_tell',
        detail: 'PayGateGlobal v2 status does not know the reference (undefined for disbursements)',
      };
    }
    return { kind: 'found', operatorReference: found.txReference ?? paymentId, report: found.report };
  }

  async balances(): Promise<OperatorBalance[]> {
    const answer = await this.post(PAYGATE_PATHS.checkBalance, {});
    if (answer.kind !== 'answered' || answer.status !== 200) {
      throw new Error(
        `PayGateGlobal balance unavailable (${answer.kind === 'answered' ? `HTTP ${answer.status}` : answer.detail})`,
      );
    }
    const parsed = balanceAnswer.parse(answer.body);
    return [
      { network: 'moov_tg', amount: parsed.flooz, currency: 'XOF' },
      { network: 'togocel_tg', amount: parsed.tmoney, currency: 'XOF' },
    ];
  }

  /** The callback is an unsigned JSON POST saying a payment was made; the v2 status call confirms it. */
  parseCallback(input: CallbackInput): CallbackParseResult {
    if (input.method !== 'POST')
      return { ok: false, reason: `PayGateGlobal posts its callbacks, not ${input.method}` };
    const parsed = readJsonCallback(input.rawBody, paygateCallback);
    if (!parsed.ok) return parsed;
    const body = parsed.body;
    const cb = parsed.data;
    return {
      ok: true,
      callback: {
        paymentId: cb.identifier,
        operatorReference: cb.tx_reference,
        reportedStatus: 'succeeded',
        operatorStatus: 'paid',
        operatorMessage: cb.payment_reference,
        amount: parseMajorUnits(cb.amount, 'XOF'),
        currency: 'XOF',
        eventKey: `${cb.identifier}:${cb.tx_reference ?? ''}:paid`,
        fields: body,
      },
    };
  }

  /** A redirect payin is known by our identifier only; a direct one by its tx_reference, which the callback must carry. */
  callbackReferenceMatches(payment: CallbackPaymentRefs, cb: ParsedCallback): boolean {
    if (
      !payment.operatorReference ||
      payment.operatorReference === payment.paymentId ||
      !cb.operatorReference
    )
      return true;
    return cb.operatorReference === payment.operatorReference;
  }

  private statusByIdentifier(identifier: string) {
    return this.status(PAYGATE_PATHS.statusByIdentifier, { identifier });
  }

  private async status(
    path: string,
    query: Record<string, unknown>,
    opts: { amountFixedByRequest?: boolean } = {},
  ): Promise<
    | { kind: 'found'; txReference?: string; report: Extract<StatusReport, { reachable: true }> }
    | { kind: 'absent' }
    | { kind: 'error'; detail: string }
  > {
    const answer = await this.post(path, query);
    if (answer.kind !== 'answered') return { kind: 'error', detail: answer.detail };
    // A reference PayGateGlobal does not know answers 404 (our reading, docs/paygate.md).
    if (answer.status === 404) return { kind: 'absent' };
    if (answer.status !== 200) return { kind: 'error', detail: `HTTP ${answer.status}` };
    const parsed = statusAnswer.safeParse(answer.body);
    if (!parsed.success) return { kind: 'error', detail: 'unreadable status answer' };
    const mapped = mapPaymentCode(parsed.data.status);
    return {
      kind: 'found',
      txReference: parsed.data.tx_reference,
      report: {
        reachable: true,
        status: mapped.status,
        operatorStatus: `payment_${parsed.data.status}`,
        operatorMessage: parsed.data.payment_reference,
        ...statedAmount(parsed.data.amount, 'XOF'),
        ...(opts.amountFixedByRequest ? { amountFixedByRequest: true } : {}),
        failure: mapped.failure,
        raw: answer.body,
      },
    };
  }
}
