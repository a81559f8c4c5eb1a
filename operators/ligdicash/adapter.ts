import type { z } from 'zod';
import { operationOf } from '../call-metrics.js';
import { parseMajorUnits } from '../../lib/money.js';
import type { NextAction, PaymentFailure, PayoutMethod } from '../../lib/payments.js';
import { statedAmount } from '../amounts.js';
import { httpRequest, httpStream, reportQuery, type HttpOutcome } from '../http.js';
import type {
  CallbackParseResult,
  DisbursementLookup,
  InitiationOutcome,
  OperatorAdapter,
  ParsedCallback,
  CallbackInput,
  CallbackPayment,
  PayinDraft,
  PayinRequest,
  CallbackPaymentRefs,
  PaymentLookup,
  PaymentRefs,
  PayoutRequest,
  ReportLine,
  ReportPeriod,
  StatusReport,
} from '../types.js';
import {
  DIRECT_PAYIN_NETWORKS,
  PAYOUT_LIMITS,
  isOperatorSidePayinCode,
  mapPayinStatus,
  mapPayoutStatus,
  payinFailure,
  payoutFailure,
  topUpWalletFlag,
} from './mapping.js';
import {
  LIGDICASH_PATHS,
  LIGDICASH_TEST_HOST,
  createInvoiceAnswer,
  customDataValue,
  invoiceStatusAnswer,
  ligdicashHeaders,
  payinCallbackBody,
  type LigdicashCredentials,
  type LigdicashInvoiceCommand,
  type LigdicashPayoutCommand,
} from './protocol.js';

export interface LigdicashOptions extends LigdicashCredentials {
  /** Ends with "/pay/v01/" (test.ligdicash.com, app.ligdicash.com, or the sandbox). */
  baseUrl: string;
  httpTimeoutMs: number;
  storeName: string;
  storeUrl: string;
}

const URL_PATTERN = /^https?:\/\/\S+$/i;

export class LigdicashOperator implements OperatorAdapter {
  readonly name = 'ligdicash' as const;

  /** One HTTP request per call. */
  get worstCaseCallMs(): number {
    return this.options.httpTimeoutMs;
  }

  constructor(private readonly options: LigdicashOptions) {}

  /**
   * LigdiCash's test platform (test.ligdicash.com) offers neither payouts ("Cette fonctionnalité
   * n'est pas disponible sur la plateforme de test", guide §1.1.6 and §1.1.7) nor direct payins.
   */
  private get onTestPlatform(): boolean {
    return new URL(this.options.baseUrl).hostname === LIGDICASH_TEST_HOST;
  }

  validatePayin(req: PayinDraft): PaymentFailure | undefined {
    // "la plateforme ne gère que la devise Franc CFA" (guide §1.8); amounts are whole francs.
    if (req.amount.currency !== 'XOF') {
      return { code: 'currency_not_supported', message: 'LigdiCash only takes XOF' };
    }
    if (req.mode === 'redirect') return undefined;
    if (this.onTestPlatform) return notOnTestPlatform('direct payins');
    if (!req.network) return { code: 'network_required', message: 'A direct payin needs the payer network' };
    const route = DIRECT_PAYIN_NETWORKS[req.network];
    if (!route) {
      return { code: 'network_not_supported', message: `LigdiCash has no direct payin for ${req.network}` };
    }
    if (req.amount.amount < route.min || req.amount.amount > route.max) {
      return {
        code: 'amount_out_of_range',
        message: `A direct payin on ${req.network} must be between ${route.min} and ${route.max} XOF`,
      };
    }
    if (!req.customer.phone)
      return { code: 'phone_required', message: 'A direct payin needs the payer number' };
    if (route.authorisation === 'otp' && !req.otp) {
      return {
        code: 'otp_required',
        message: `The payer first dials *144*4*6*${req.amount.amount}# to obtain the OTP, which the payin must carry`,
      };
    }
    return undefined;
  }

  private url(path: string): string {
    return new URL(path, this.options.baseUrl).toString();
  }

  private invoiceCommand(req: PayinRequest): LigdicashInvoiceCommand {
    const amount = req.amount.amount;
    return {
      commande: {
        invoice: {
          items: [
            {
              name: req.description,
              description: req.description,
              quantity: 1,
              unit_price: amount,
              total_price: amount,
            },
          ],
          total_amount: amount,
          devise: 'XOF',
          description: req.description,
          // A number here narrows the redirect page's methods, so the redirect payin sends "".
          customer: req.mode === 'direct' ? (req.customer.phone ?? '') : '',
          customer_firstname: req.customer.firstName ?? '',
          customer_lastname: req.customer.lastName ?? '',
          customer_email: req.customer.email ?? '',
          external_id: '',
          otp: req.mode === 'direct' ? (req.otp ?? '') : '',
        },
        store: { name: this.options.storeName, website_url: this.options.storeUrl },
        actions: {
          cancel_url: req.cancelUrl ?? '',
          return_url: req.returnUrl ?? '',
          callback_url: req.callbackUrl,
        },
        custom_data: { transaction_id: req.paymentId },
      },
    };
  }

  async initiatePayin(req: PayinRequest): Promise<InitiationOutcome> {
    const path = req.mode === 'redirect' ? LIGDICASH_PATHS.redirectPayin : LIGDICASH_PATHS.directPayin;
    const answer = await this.post(path, this.invoiceCommand(req));
    return readCreationAnswer(answer, payinFailure, isOperatorSidePayinCode, (token, body) => ({
      kind: 'accepted',
      operatorReference: token,
      ...this.nextStep(req, body.response_text, body.description),
      operatorStatus: 'response_code_00',
      operatorMessage: body.response_text ?? body.description,
      raw: answer.kind === 'answered' ? answer.body : undefined,
    }));
  }

  private post(path: string, body: unknown): Promise<HttpOutcome> {
    return httpRequest(this.url(path), {
      method: 'POST',
      headers: ligdicashHeaders(this.options),
      body: JSON.stringify(body),
      timeoutMs: this.options.httpTimeoutMs,
      label: { operator: this.name, operation: operationOf(path) },
    });
  }

  /** What the payer does next, by mode and network (complement: "Payin sans redirection"). */
  private nextStep(
    req: PayinRequest,
    responseText: string | undefined,
    description: string | undefined,
  ): { status: 'action_required' | 'pending'; nextAction: NextAction } {
    // Redirect payins (and Orange CI direct ones) carry the payment page in response_text.
    if (responseText && URL_PATTERN.test(responseText.trim())) {
      return { status: 'action_required', nextAction: { type: 'redirect', url: responseText.trim() } };
    }
    const route = req.network ? DIRECT_PAYIN_NETWORKS[req.network] : undefined;
    if (route?.authorisation === 'approval') {
      return {
        status: 'action_required',
        nextAction: {
          type: 'approve_on_phone',
          message: description || 'Approve the payment on your phone with your mobile money PIN',
        },
      };
    }
    // OTP mode: the payer already authorised with the OTP; the operator is processing.
    return { status: 'pending', nextAction: { type: 'wait', message: responseText || 'Payment processing' } };
  }

  async checkPayinStatus({ operatorReference }: PaymentRefs): Promise<StatusReport> {
    if (!operatorReference) return { reachable: false, detail: 'no invoice token' };
    return this.checkStatus(
      `${LIGDICASH_PATHS.payinStatus}?invoiceToken=${encodeURIComponent(operatorReference)}`,
      (b) => mapPayinStatus(b.status, b.response_text, b.description),
    );
  }

  validatePayout(req: {
    amount: { amount: number; currency: string };
    method: PayoutMethod;
  }): PaymentFailure | undefined {
    if (req.amount.currency !== 'XOF')
      return { code: 'currency_not_supported', message: 'LigdiCash only pays out XOF' };
    if (this.onTestPlatform) return notOnTestPlatform('payouts');
    if (req.amount.amount < PAYOUT_LIMITS.min) {
      return {
        code: 'amount_below_minimum',
        message: `A LigdiCash payout is at least ${PAYOUT_LIMITS.min} XOF`,
      };
    }
    if (req.method === 'mobile_money' && req.amount.amount > PAYOUT_LIMITS.merchantMax) {
      return {
        code: 'amount_above_maximum',
        message: `A LigdiCash mobile money payout is at most ${PAYOUT_LIMITS.merchantMax} XOF; above that it must go by bank transfer`,
      };
    }
    return undefined;
  }

  async initiatePayout(req: PayoutRequest): Promise<InitiationOutcome> {
    const client = req.method !== 'mobile_money';
    const command: LigdicashPayoutCommand = {
      commande: {
        amount: req.amount.amount,
        devise: 'XOF',
        description: req.description,
        customer: req.recipientPhone,
        callback_url: req.callbackUrl,
        custom_data: { transaction_id: req.paymentId },
        ...(req.method === 'mobile_money' ? {} : { top_up_wallet: topUpWalletFlag(req.method) }),
      },
    };
    const answer = await this.post(
      client ? LIGDICASH_PATHS.clientPayout : LIGDICASH_PATHS.merchantPayout,
      command,
    );
    return readCreationAnswer(
      answer,
      (text, description) => payoutFailure(client, text, description),
      () => false,
      (token, body) => ({
        kind: 'accepted',
        operatorReference: token,
        status: 'pending',
        nextAction: { type: 'none' },
        operatorStatus: 'response_code_00',
        operatorMessage: body.description ?? body.response_text,
        raw: answer.kind === 'answered' ? answer.body : undefined,
      }),
    );
  }

  async checkPayoutStatus({ operatorReference }: PaymentRefs, method: PayoutMethod): Promise<StatusReport> {
    if (!operatorReference) return { reachable: false, detail: 'no withdrawal token' };
    const client = method !== 'mobile_money';
    return this.checkStatus(
      `${LIGDICASH_PATHS.payoutStatus}?withdrawalToken=${encodeURIComponent(operatorReference)}`,
      (b) => mapPayoutStatus(b.status, client, b.response_text, b.description),
    );
  }

  /** LigdiCash answers status only by its own token: it cannot be asked about our reference. */
  findPayoutByReference(_payment: PaymentLookup): Promise<DisbursementLookup> {
    return Promise.resolve({
      kind: 'cannot_tell',
      detail: 'LigdiCash has no status call by our transaction id',
    });
  }

  /**
   * A payin callback may carry the invoice token (complement) or none (SDKs): when present it
   * must be ours. A payout callback's token differs from the creation token by design.
   */
  callbackReferenceMatches(payment: CallbackPaymentRefs, cb: ParsedCallback): boolean {
    if (payment.kind !== 'payin') return true;
    return (
      !cb.operatorReference ||
      !payment.operatorReference ||
      cb.operatorReference === payment.operatorReference
    );
  }

  private async checkStatus(
    pathAndQuery: string,
    map: (body: z.infer<typeof invoiceStatusAnswer>) => ReturnType<typeof mapPayinStatus>,
  ): Promise<StatusReport> {
    const answer = await httpRequest(this.url(pathAndQuery), {
      method: 'GET',
      headers: ligdicashHeaders(this.options),
      timeoutMs: this.options.httpTimeoutMs,
      label: { operator: this.name, operation: operationOf(pathAndQuery) },
    });
    if (answer.kind !== 'answered') return { reachable: false, detail: answer.detail };
    if (answer.status >= 500) return { reachable: false, detail: `HTTP ${answer.status}` };
    const parsed = invoiceStatusAnswer.safeParse(answer.body);
    if (!parsed.success)
      return { reachable: false, detail: `unreadable status answer (HTTP ${answer.status})` };
    const body = parsed.data;
    const mapped = map(body);
    const amountText = body.amount ?? body.montant;
    return {
      reachable: true,
      status: mapped.status,
      operatorStatus: body.status ?? `response_code_${body.response_code}`,
      operatorMessage: body.response_text ?? body.description,
      ...statedAmount(amountText, 'XOF'),
      // Invoices and payouts are created by our server with our amount, and looked up by the
      // token LigdiCash gave us for them.
      amountFixedByRequest: true,
      failure: mapped.failure,
      payerPhone: body.customer?.replace(/\D/g, '') || undefined,
      raw: answer.body,
    };
  }

  /**
   * The day's transactions as a CSV file (`;`-separated: date;token;transaction_id;type;montant;
   * devise;statut). LigdiCash's documents name no report call: this is the file a merchant
   * downloads from its back office, as the sandbox serves it (docs/reconciliation.md).
   */
  readonly settlementReport = {
    open: (period: ReportPeriod) =>
      httpStream(`${this.url('reports/transactions')}?${reportQuery(period)}`, {
        method: 'GET',
        headers: ligdicashHeaders(this.options),
        timeoutMs: this.options.httpTimeoutMs,
      }),
    reportStatus: (word: string, kind: 'payin' | 'payout') =>
      (kind === 'payout' ? mapPayoutStatus(word, false, undefined) : mapPayinStatus(word, undefined)).status,
    parseLine: (line: string): ReportLine | null | { error: string } => {
      if (!line.trim() || line.startsWith('date;')) return null;
      const [date, token, transactionId, type, montant, devise, statut] = line.split(';');
      if (!statut || !transactionId) return { error: 'expected 7 fields' };
      const amount = parseMajorUnits(montant ?? '', 'XOF');
      if (amount === undefined) return { error: `amount ${montant}` };
      const payout = type === 'payout';
      const mapped = payout ? mapPayoutStatus(statut, false, undefined) : mapPayinStatus(statut, undefined);
      return {
        ourReference: transactionId,
        operatorReference: token ?? '',
        kind: payout ? 'payout' : 'payin',
        amount,
        currency: devise || 'XOF',
        status: mapped.status,
        operatorStatus: statut,
        occurredAt: date ?? '',
      };
    },
  };

  /** LigdiCash has a status call for every payin (guide §1.1.5). */
  payinConfirmation(): 'status_api' {
    return 'status_api';
  }

  parseCallback(input: CallbackInput, payment?: CallbackPayment): CallbackParseResult {
    // LigdiCash posts its callbacks; a GET is not one of them.
    if (input.method !== 'POST')
      return { ok: false, reason: `method ${input.method} is not used by LigdiCash` };
    const fields = decodeBody(input.contentType, input.rawBody);
    if (!fields) return { ok: false, reason: 'body is neither JSON nor form-urlencoded' };
    const parsed = payinCallbackBody.safeParse(fields);
    if (!parsed.success)
      return { ok: false, reason: `unexpected fields: ${parsed.error.issues[0]?.message ?? ''}` };
    const body = parsed.data;
    // Payin callbacks carry an empty token: our reference comes back in custom_data.
    const paymentId = body.transaction_id || customDataValue(body.custom_data ?? [], 'transaction_id');
    if (!paymentId) return { ok: false, reason: 'no transaction_id in the callback' };
    if (!body.status) return { ok: false, reason: 'no status in the callback' };
    // A payout's callback uses the payout words (a failed payout is not a cancelled payin).
    const mapped =
      payment && payment.kind !== 'payin'
        ? mapPayoutStatus(body.status, payment.mode !== 'mobile_money', body.response_text)
        : mapPayinStatus(body.status, body.response_text);
    const amountText = body.montant ?? body.amount;
    const amount = amountText === undefined ? undefined : parseMajorUnits(amountText, 'XOF');
    return {
      ok: true,
      callback: {
        paymentId,
        operatorReference: body.token || undefined,
        reportedStatus: mapped.status,
        operatorStatus: body.status,
        operatorMessage: body.response_text,
        amount,
        currency: 'XOF',
        eventKey: `${paymentId}:${body.status.toLowerCase()}:${amountText ?? ''}`,
        fields,
      },
    };
  }
}

/** A refusal of what LigdiCash's test platform does not offer: a configuration error, not the payment's. */
function notOnTestPlatform(what: string): PaymentFailure {
  return {
    code: 'operator_configuration',
    message: `LIGDICASH_BASE_URL points at LigdiCash's test platform (${LIGDICASH_TEST_HOST}), which offers no ${what}: use app.ligdicash.com, or the sandbox`,
  };
}

/** Reads a creation answer (payin or payout): `response_code` "00" with a token, or a refusal. */
function readCreationAnswer(
  answer: HttpOutcome,
  failureOf: (responseText: string | undefined, description: string | undefined) => PaymentFailure,
  operatorSide: (responseText: string | undefined) => boolean,
  accepted: (token: string, body: z.infer<typeof createInvoiceAnswer>) => InitiationOutcome,
): InitiationOutcome {
  if (answer.kind !== 'answered') return answer;
  if (answer.status >= 500) return { kind: 'ambiguous', detail: `HTTP ${answer.status}` };
  const parsed = createInvoiceAnswer.safeParse(answer.body);
  if (!parsed.success) {
    return answer.status >= 400
      ? {
          kind: 'rejected',
          failure: { code: 'operator_error', message: `LigdiCash answered HTTP ${answer.status}` },
          operatorStatus: `http_${answer.status}`,
          raw: answer.text.slice(0, 2000),
          operatorSide: true,
        }
      : { kind: 'ambiguous', detail: `unreadable answer (HTTP ${answer.status})` };
  }
  const body = parsed.data;
  if (body.response_code !== '00') {
    return {
      kind: 'rejected',
      failure: failureOf(body.response_text, body.description),
      operatorStatus: `response_code_${body.response_code}`,
      operatorMessage: body.response_text ?? body.description,
      raw: answer.body,
      operatorSide: operatorSide(body.response_text),
    };
  }
  if (!body.token) return { kind: 'ambiguous', detail: 'response_code 00 without a token' };
  return accepted(body.token, body);
}

function decodeBody(contentType: string | undefined, raw: string): Record<string, unknown> | undefined {
  const type = (contentType ?? '').toLowerCase();
  const looksJson = raw.trimStart().startsWith('{');
  if (type.includes('json') || (!type.includes('form') && looksJson)) {
    try {
      const value: unknown = JSON.parse(raw);
      return value && typeof value === 'object' && !Array.isArray(value)
        ? (value as Record<string, unknown>)
        : undefined;
    } catch {
      return undefined;
    }
  }
  if (type.includes('x-www-form-urlencoded') || raw.includes('=')) {
    return Object.fromEntries(new URLSearchParams(raw));
  }
  return undefined;
}
