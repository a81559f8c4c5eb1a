import type { TmoneySettings } from '../../lib/operator-settings/tmoney.js';
import { operationOf } from '../call-metrics.js';
import { randomUUID } from 'node:crypto';
import { CURRENCIES, parseMajorUnits } from '../../lib/money.js';
import type {
  OperatorStatus,
  PayinMode,
  PaymentFailure,
  PaymentKind,
  PayoutMethod,
} from '../../lib/payments.js';
import { statedAmount } from '../amounts.js';
import { httpRequest, httpStream, reportQuery, type HttpOutcome } from '../http.js';
import type {
  CallbackInput,
  CallbackParseResult,
  DisbursementLookup,
  InitiationOutcome,
  OperatorAdapter,
  PayinDraft,
  PaymentLookup,
  PayinRequest,
  PayoutRequest,
  ReportLine,
  ReportPeriod,
  StatusReport,
} from '../types.js';
import { mapMbankingStatut, mapNotification, mbankingRefusal, sessionRefusal } from './mapping.js';
import {
  MBANKING_PATHS,
  MBANKING_V1_CREDIT_PATH,
  TMONEY_CURRENCY,
  TMONEY_ONLINE_PATH,
  mbankingAnswer,
  mbankingV1Answer,
  mbankingTokenAnswer,
  tmoneyNotification,
  type MbankingOrder,
  type TmoneyOrderForm,
} from './protocol.js';

/** What the adapter reads of TMoney's settings (lib/operator-settings/tmoney.ts). */
export type TmoneyOptions = Pick<
  TmoneySettings,
  'onlineBaseUrl' | 'merchantId' | 'brand' | 'mbankingBaseUrl' | 'username' | 'password' | 'httpTimeoutMs'
> &
  Partial<Pick<TmoneySettings, 'credit'>> & {
    /** Renew the MBANKING token this long before it expires. */
    tokenRenewMarginMs?: number;
  };

/** The order form's accepturl, declineurl and cancelurl are at most 150 characters. */
const TMONEY_RETURN_URL_MAX = 150;

/** TMoney collects and pays out on Togocel numbers only. */
const NETWORK = 'togocel_tg';

/** Markup and entities out, whitespace folded: TMoney takes plain text only. */
export function plainText(text: string): string {
  return text
    .replace(/<[^>]*>/g, ' ')
    .replace(/&(?:[a-z]+|#\d+);/gi, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * TMoney (Togocel): online payment (redirect with an order form, notification by GET, no status
 * call) and MBANKING (push-USSD debit for direct payins, credit for payouts, check-transaction).
 */
export class TmoneyOperator implements OperatorAdapter {
  readonly name = 'tmoney' as const;
  private token: { value: string; expiresAt: number } | undefined;
  private tokenRequest: Promise<string> | undefined;

  /** Token, call, renewed token on 401, call again. */
  get worstCaseCallMs(): number {
    return 4 * this.options.httpTimeoutMs;
  }

  constructor(private readonly options: TmoneyOptions) {}

  validatePayin(req: PayinDraft): PaymentFailure | undefined {
    if (req.amount.currency !== 'XOF')
      return { code: 'currency_not_supported', message: 'TMoney only takes XOF (952)' };
    // "Montant total de l'achat sans virgule ni point décimal ... 3 à 10 chiffres".
    if (req.amount.amount < 100 || req.amount.amount > 9_999_999_999) {
      return {
        code: 'amount_out_of_range',
        message: 'A TMoney payment is between 100 and 9,999,999,999 XOF',
      };
    }
    if (req.network && req.network !== NETWORK) {
      return { code: 'network_not_supported', message: `TMoney serves Togocel numbers, not ${req.network}` };
    }
    if (req.mode === 'direct' && !req.customer.phone)
      return { code: 'phone_required', message: 'A TMoney debit needs the payer number' };
    // "accepturl / declineurl / cancelurl ... jusqu'a 150 charactere": refused now, not when the
    // payer's browser posts the order form.
    for (const [field, value] of [
      ['return_url', req.returnUrl],
      ['cancel_url', req.cancelUrl],
    ] as const) {
      if (req.mode === 'redirect' && value && value.length > TMONEY_RETURN_URL_MAX) {
        return {
          code: 'url_too_long',
          message: `TMoney takes return URLs of at most ${TMONEY_RETURN_URL_MAX} characters; ${field} has ${value.length}`,
        };
      }
    }
    return undefined;
  }

  /**
   * The day's transactions as CSV (timestamp,payid,purchaseref,type,amount,currency,status), type
   * ONLINE, DEBIT or CREDIT. The document names no report call: this is the back-office export,
   * as the sandbox serves it (docs/reconciliation.md).
   */
  readonly settlementReport = {
    open: (period: ReportPeriod) =>
      httpStream(
        `${new URL('online/reports.php', this.options.onlineBaseUrl).toString()}?merchantid=${encodeURIComponent(this.options.merchantId)}&${reportQuery(period)}`,
        { method: 'GET', timeoutMs: this.options.httpTimeoutMs },
      ),
    // The online payment's words (OK, NOK) or MBANKING's (SUCCES, ECHEC, ...).
    reportStatus: (word: string): OperatorStatus => {
      const upper = word.trim().toUpperCase();
      return upper === 'OK' || upper === 'NOK'
        ? mapNotification(upper, upper === 'OK' ? undefined : 'PAYMENT_FAILED').status
        : mapMbankingStatut(upper).status;
    },
    parseLine: (line: string): ReportLine | null | { error: string } => {
      if (!line.trim() || line.startsWith('timestamp,')) return null;
      const [timestamp, payid, purchaseref, type, amountText, currency, status] = line.split(',');
      if (!status || !purchaseref) return { error: 'expected 7 fields' };
      const amount = parseMajorUnits(amountText ?? '', 'XOF');
      if (amount === undefined) return { error: `amount ${amountText}` };
      const mapped =
        type === 'ONLINE'
          ? mapNotification(status, status === 'OK' ? undefined : 'PAYMENT_FAILED')
          : mapMbankingStatut(status);
      return {
        ourReference: purchaseref,
        operatorReference: payid ?? '',
        kind: type === 'CREDIT' ? 'payout' : 'payin',
        amount,
        currency: currency === TMONEY_CURRENCY ? 'XOF' : (currency ?? ''),
        status: mapped.status,
        operatorStatus: status,
        occurredAt: timestamp ?? '',
      };
    },
  };

  payinConfirmation(mode: PayinMode): 'status_api' | 'callback' {
    // The online payment has no status call: its verified notification is the outcome.
    return mode === 'redirect' ? 'callback' : 'status_api';
  }

  async initiatePayin(req: PayinRequest): Promise<InitiationOutcome> {
    return req.mode === 'redirect' ? this.openOnlineSession(req) : this.pushDebit(req);
  }

  /** Online payment: ask a session id, then hand the payer's browser the order form. */
  private async openOnlineSession(req: PayinRequest): Promise<InitiationOutcome> {
    const url = `${new URL(TMONEY_ONLINE_PATH, this.options.onlineBaseUrl).toString()}?merchantid=${encodeURIComponent(this.options.merchantId)}`;
    const answer = await httpRequest(url, {
      method: 'GET',
      timeoutMs: this.options.httpTimeoutMs,
      label: { operator: this.name, operation: operationOf(TMONEY_ONLINE_PATH) },
    });
    // A session moves no money and cannot be found again: whatever became of a request for one,
    // asking for another is safe, so no answer here is ambiguous.
    if (answer.kind === 'ambiguous')
      return { kind: 'unreachable', detail: `session request: ${answer.detail}` };
    if (answer.kind !== 'answered') return answer;
    if (answer.status >= 500)
      return { kind: 'unreachable', detail: `session request: HTTP ${answer.status}` };
    const text = answer.text.trim();
    if (text.startsWith('NOK:')) {
      const refusal = sessionRefusal(text.slice(4));
      return { kind: 'rejected', ...refusal, operatorStatus: text, operatorMessage: text, raw: text };
    }
    const session = /^OK:(\S+)$/.exec(text)?.[1];
    // No session can be used twice or found again: asking for another one is harmless.
    if (!session) return { kind: 'unreachable', detail: `unexpected session answer: ${text.slice(0, 80)}` };
    const fields: TmoneyOrderForm = {
      sessionid: session,
      merchantid: this.options.merchantId,
      amount: String(req.amount.amount),
      currency: TMONEY_CURRENCY,
      purchaseref: req.paymentId,
      brand: this.options.brand.slice(0, 150),
      // "texte brut (pas de HTML)", shown in the payer's transaction log.
      description: plainText(req.description).slice(0, 255),
      // "Texte à afficher en haut de la page de paiement".
      text: plainText(req.description).slice(0, 250),
      // Accepted and declined payers go back to the merchant's return page, which reads the
      // outcome from us; only a payer who cancels goes to the cancel page.
      ...(req.returnUrl ? { accepturl: req.returnUrl, declineurl: req.returnUrl } : {}),
      ...(req.cancelUrl ? { cancelurl: req.cancelUrl } : {}),
      // The payer's language: TMoney's page offers fr and en only.
      language: req.customer.language ?? 'fr',
    };
    return {
      kind: 'accepted',
      operatorReference: session,
      status: 'action_required',
      nextAction: {
        type: 'form_post',
        url: new URL(TMONEY_ONLINE_PATH, this.options.onlineBaseUrl).toString(),
        fields: fields as unknown as Record<string, string>,
        redirect_url: req.checkoutUrl,
        // The payer's number pre-fills TMoney's page, but it is not stored with the action: our
        // page that posts the form adds it from the vault.
        ...(req.customer.phone ? { payer_number_field: 'phonennumber' } : {}),
      },
      operatorStatus: 'OK',
      operatorMessage: 'session opened (180 s)',
      raw: { session },
    };
  }

  /** MBANKING debit: TMoney pushes a USSD request to the payer, who approves with the PIN. */
  private async pushDebit(req: PayinRequest): Promise<InitiationOutcome> {
    const answer = await this.mbanking(
      MBANKING_PATHS.debit,
      this.order(req.requestId, req.paymentId, req.customer.phone!, req.amount.amount, req.description),
    );
    return this.readOrderAnswer(answer, {
      status: 'action_required',
      nextAction: {
        type: 'approve_on_phone',
        message: 'Approve the TMoney request on your phone with your PIN',
      },
    });
  }

  async checkPayinStatus(refs: {
    paymentId: string;
    operatorReference: string | null;
  }): Promise<StatusReport> {
    return this.checkTransaction(refs.paymentId);
  }

  validatePayout(req: {
    amount: { amount: number; currency: string };
    method: PayoutMethod;
    network?: string;
  }): PaymentFailure | undefined {
    if (req.amount.currency !== 'XOF')
      return { code: 'currency_not_supported', message: 'TMoney only pays out XOF' };
    if (req.method !== 'mobile_money')
      return { code: 'method_not_supported', message: 'TMoney pays out to mobile money only' };
    if (req.network && req.network !== NETWORK) {
      return { code: 'network_not_supported', message: `TMoney pays Togocel numbers, not ${req.network}` };
    }
    if (req.amount.amount < 100)
      return { code: 'amount_below_minimum', message: 'A TMoney credit is at least 100 XOF' };
    return undefined;
  }

  /** MBANKING credit (cash-in): from our partner account to the recipient's TMoney account. */
  async initiatePayout(req: PayoutRequest): Promise<InitiationOutcome> {
    const credit = this.options.credit;
    if (credit?.version === 'v1') return this.creditV1(credit, req);
    const answer = await this.mbanking(
      MBANKING_PATHS.credit,
      this.order(req.requestId, req.paymentId, req.recipientPhone, req.amount.amount, req.description),
    );
    return this.readOrderAnswer(answer, { status: 'pending', nextAction: { type: 'none' } });
  }

  async checkPayoutStatus(refs: {
    paymentId: string;
    operatorReference: string | null;
  }): Promise<StatusReport> {
    return this.checkTransaction(refs.paymentId);
  }

  /** check-transaction answers by our refCommande: TMoney can say whether it has our request. */
  async findPayoutByReference({ paymentId }: PaymentLookup): Promise<DisbursementLookup> {
    const answer = await this.mbanking(MBANKING_PATHS.checkTransaction, {
      idrequete: randomUUID(),
      refCommande: paymentId,
    });
    if (answer.kind !== 'answered' || answer.status >= 500) {
      return {
        kind: 'cannot_tell',
        detail: answer.kind === 'answered' ? `HTTP ${answer.status}` : answer.detail,
      };
    }
    const parsed = mbankingAnswer.safeParse(answer.body);
    if (!parsed.success) return { kind: 'cannot_tell', detail: 'unreadable check-transaction answer' };
    if (parsed.data.code === '404') return { kind: 'absent' };
    const report = this.statusReport(parsed.data, answer.body);
    if (!report.reachable || !parsed.data.refTmoney)
      return { kind: 'cannot_tell', detail: `code ${parsed.data.code}` };
    return { kind: 'found', operatorReference: parsed.data.refTmoney, report };
  }

  /** The notification is a GET with the payment in its query string (document, "notification url"). */
  parseCallback(input: CallbackInput): CallbackParseResult {
    if (input.method !== 'GET') return { ok: false, reason: `TMoney notifies by GET, not ${input.method}` };
    const parsed = tmoneyNotification.safeParse(input.query);
    if (!parsed.success)
      return { ok: false, reason: `missing ${parsed.error.issues.map((i) => i.path.join('.')).join(', ')}` };
    const n = parsed.data;
    const mapped = mapNotification(n.status, n.error);
    const currency =
      Object.entries(CURRENCIES).find(([, c]) => c.numeric === n.currency)?.[0] ?? `numeric:${n.currency}`;
    const amount = parseMajorUnits(n.amount, 'XOF');
    return {
      ok: true,
      callback: {
        paymentId: n.purchaseref,
        operatorReference: n.payid || undefined,
        reportedStatus: mapped.status,
        operatorStatus: n.error ? `${n.status}:${n.error}` : n.status,
        operatorMessage: n.error || undefined,
        ...(mapped.failure ? { failure: mapped.failure } : {}),
        amount,
        currency,
        eventKey: `${n.purchaseref}:${n.status}:${n.error ?? ''}:${n.amount}`,
        fields: input.query,
      },
    };
  }

  /** The notification names no session, and MBANKING has no callbacks: there is no reference to compare. */
  callbackReferenceMatches(_payment: { kind: PaymentKind; operatorReference: string | null }): boolean {
    return true;
  }

  // ------------------------------------------------------------------ MBANKING plumbing

  /** An MBANKING order; `idrequete` is the attempt's id, the same on every retry of it. */
  /**
   * MBANKING credit, version 1 ("ancienne version"): a GET whose query carries the agent's id
   * and password, `client, amount, currency, trxcode, type, description, referenceid, sms,
   * email`; the JSON answer echoes them with `result` and `transactionid`. The document names
   * the fields only: `result` "0" as accepted (as v2's `code`) is our reading (docs/tmoney.md).
   * The password rides in the query: our logs and details keep only the path.
   */
  private async creditV1(
    credit: Extract<NonNullable<TmoneyOptions['credit']>, { version: 'v1' }>,
    req: PayoutRequest,
  ): Promise<InitiationOutcome> {
    const url = new URL(MBANKING_V1_CREDIT_PATH, credit.baseUrl);
    const query: Record<string, string> = {
      agentid: credit.agentId,
      password: credit.password,
      client: req.recipientPhone,
      amount: String(req.amount.amount),
      currency: TMONEY_CURRENCY,
      trxcode: credit.trxcode,
      type: 'CREDIT',
      description: plainText(req.description).slice(0, 255),
      referenceid: req.paymentId,
      sms: '1',
      email: '',
    };
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    const answer = await httpRequest(url.toString(), {
      method: 'GET',
      timeoutMs: this.options.httpTimeoutMs,
      label: { operator: this.name, operation: operationOf(url.pathname) },
    });
    if (answer.kind !== 'answered') return answer;
    if (answer.status >= 500) return { kind: 'ambiguous', detail: `HTTP ${answer.status}` };
    const parsed = mbankingV1Answer.safeParse(answer.body);
    if (!parsed.success)
      return { kind: 'ambiguous', detail: `unreadable v1 credit answer (HTTP ${answer.status})` };
    const body = parsed.data;
    if (body.result !== '0') {
      return {
        kind: 'rejected',
        ...mbankingRefusal(body.result, body.message),
        operatorStatus: `result_${body.result}`,
        operatorMessage: body.message,
        raw: answer.body,
      };
    }
    if (!body.transactionid) return { kind: 'ambiguous', detail: 'result 0 without transactionid' };
    return {
      kind: 'accepted',
      operatorReference: body.transactionid,
      status: 'pending',
      nextAction: { type: 'none' },
      operatorStatus: 'result_0',
      operatorMessage: body.message,
      raw: answer.body,
    };
  }

  private order(
    requestId: string,
    paymentId: string,
    phone: string,
    amount: number,
    description: string,
  ): MbankingOrder {
    return {
      idrequete: requestId,
      numeroClient: phone,
      montant: amount,
      refCommande: paymentId,
      dateheureRequete: new Date().toISOString(),
      description: description.slice(0, 255),
    };
  }

  private readOrderAnswer(
    answer: HttpOutcome,
    accepted: Pick<Extract<InitiationOutcome, { kind: 'accepted' }>, 'status' | 'nextAction'>,
  ): InitiationOutcome {
    if (answer.kind !== 'answered') return answer;
    if (answer.status >= 500) return { kind: 'ambiguous', detail: `HTTP ${answer.status}` };
    const parsed = mbankingAnswer.safeParse(answer.body);
    if (!parsed.success)
      return { kind: 'ambiguous', detail: `unreadable MBANKING answer (HTTP ${answer.status})` };
    const body = parsed.data;
    if (body.code !== '0') {
      const refusal = mbankingRefusal(body.code, body.message);
      return {
        kind: 'rejected',
        ...refusal,
        operatorStatus: `code_${body.code}`,
        operatorMessage: body.message,
        raw: answer.body,
      };
    }
    if (!body.refTmoney) return { kind: 'ambiguous', detail: 'code 0 without refTmoney' };
    return {
      kind: 'accepted',
      operatorReference: body.refTmoney,
      ...accepted,
      operatorStatus: 'code_0',
      operatorMessage: body.message,
      raw: answer.body,
    };
  }

  private async checkTransaction(paymentId: string): Promise<StatusReport> {
    const answer = await this.mbanking(MBANKING_PATHS.checkTransaction, {
      idrequete: randomUUID(),
      refCommande: paymentId,
    });
    if (answer.kind !== 'answered') return { reachable: false, detail: answer.detail };
    if (answer.status >= 500) return { reachable: false, detail: `HTTP ${answer.status}` };
    const parsed = mbankingAnswer.safeParse(answer.body);
    if (!parsed.success) return { reachable: false, detail: 'unreadable check-transaction answer' };
    if (parsed.data.code === '404')
      return { reachable: true, status: 'unknown', operatorStatus: 'code_404', raw: answer.body };
    return this.statusReport(parsed.data, answer.body);
  }

  private statusReport(
    body: ReturnType<typeof mbankingAnswer.parse>,
    raw: unknown,
  ): Extract<StatusReport, { reachable: true }> {
    const mapped = mapMbankingStatut(body.statut, body.message);
    return {
      reachable: true,
      status: mapped.status,
      operatorStatus: body.statut ?? `code_${body.code}`,
      operatorMessage: body.message,
      ...statedAmount(body.montant, 'XOF'),
      // MBANKING orders are registered by our server alone (bearer token), at our amount.
      amountFixedByRequest: true,
      failure: mapped.failure,
      raw,
    };
  }

  /** A call with the bearer token: obtained and cached, renewed before expiry, retried once on 401. */
  private async mbanking(path: string, body: unknown): Promise<HttpOutcome> {
    const url = new URL(path, this.options.mbankingBaseUrl).toString();
    const send = async (token: string) =>
      httpRequest(url, {
        method: 'POST',
        label: { operator: this.name, operation: operationOf(path) },
        headers: {
          Authorization: `Bearer ${token}`,
          'Content-Type': 'application/json',
          Accept: 'application/json',
        },
        body: JSON.stringify(body),
        timeoutMs: this.options.httpTimeoutMs,
      });
    let token: string;
    try {
      token = await this.bearer();
    } catch (err) {
      return { kind: 'unreachable', detail: `no MBANKING token: ${(err as Error).message}` };
    }
    const first = await send(token);
    if (first.kind !== 'answered' || first.status !== 401) return first;
    // A 401 means the request was refused before anything was done: safe to send once more.
    this.token = undefined;
    try {
      token = await this.bearer();
    } catch (err) {
      return { kind: 'unreachable', detail: `no MBANKING token: ${(err as Error).message}` };
    }
    return send(token);
  }

  private async bearer(): Promise<string> {
    const margin = this.options.tokenRenewMarginMs ?? 30_000;
    if (this.token && this.token.expiresAt - margin > Date.now()) return this.token.value;
    // Concurrent calls share one token request.
    this.tokenRequest ??= this.fetchToken().finally(() => {
      this.tokenRequest = undefined;
    });
    return this.tokenRequest;
  }

  private async fetchToken(): Promise<string> {
    const answer = await httpRequest(new URL(MBANKING_PATHS.token, this.options.mbankingBaseUrl).toString(), {
      method: 'POST',
      label: { operator: this.name, operation: operationOf(MBANKING_PATHS.token) },
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ username: this.options.username, password: this.options.password }),
      timeoutMs: this.options.httpTimeoutMs,
    });
    if (answer.kind !== 'answered') throw new Error(answer.detail);
    const parsed = mbankingTokenAnswer.safeParse(answer.body);
    if (answer.status !== 200 || !parsed.success) throw new Error(`token refused (HTTP ${answer.status})`);
    this.token = { value: parsed.data.access_token, expiresAt: Date.now() + parsed.data.expires_in * 1000 };
    return this.token.value;
  }
}
