import { isCurrencyCode, parseMajorUnits, toMajorUnitString, type Money } from '../../lib/money.js';
import type { Network } from '../../lib/networks.js';
import {
  ORANGE_COUNTRIES,
  type OrangeNetwork,
  type OrangeSettings,
} from '../../lib/operator-settings/orange.js';
import type { OperatorStatus, PaymentFailure } from '../../lib/payments.js';
import { BearerToken, streamWithBearer } from '../bearer-token.js';
import { localRefusal } from '../outcomes.js';
import { operationOf } from '../call-metrics.js';
import { readJsonCallback } from '../callback-body.js';
import { httpRequest, reportQuery, type HttpOutcome } from '../http.js';
import type {
  CallbackInput,
  CallbackParseResult,
  DisbursementLookup,
  InitiationOutcome,
  OperatorAdapter,
  PayinDraft,
  PayinRequest,
  PaymentLookup,
  PaymentRefs,
  PayoutDraft,
  PayoutRequest,
  ReportLine,
  ReportPeriod,
  StatusReport,
} from '../types.js';
import { mapOrangeStatus, orangeRefusal } from './mapping.js';
import {
  ORANGE_DEV,
  ORANGE_PATHS,
  errorAnswer,
  orangeNotification,
  statusAnswer,
  tokenAnswer,
  transferAnswer,
  webpaymentAnswer,
} from './protocol.js';

function isOrangeNetwork(network: string | null | undefined): network is OrangeNetwork {
  return typeof network === 'string' && Object.hasOwn(ORANGE_COUNTRIES, network);
}

/**
 * Orange Money WebPay: the payer pays on Orange's page (`webpayment` → `payment_url`); the
 * notification is authentic only with the `notif_token` Orange gave us for that payment, and is
 * confirmed by `transactionstatus`. Cash-in payouts and refunds follow our reading of the
 * integration specification (docs/orange.md): Orange publishes no such API.
 */
export class OrangeOperator implements OperatorAdapter {
  readonly name = 'orange' as const;
  private readonly token: BearerToken;

  /** A token, the call, a renewed token after a 401, the call again. */
  get worstCaseCallMs(): number {
    return 4 * this.settings.httpTimeoutMs;
  }

  constructor(private readonly settings: OrangeSettings) {
    this.token = new BearerToken(() => this.fetchToken());
  }

  private url(path: string): string {
    return new URL(path, this.settings.baseUrl).toString();
  }

  /** The country path and currency word of a network (Orange's development environment: `dev`, `OUV`). */
  private countryOf(network: OrangeNetwork): { path: string; currency: string } {
    return this.settings.development ? ORANGE_DEV : ORANGE_COUNTRIES[network];
  }

  private async fetchToken(): Promise<{ value: string; expiresInSeconds: number }> {
    const basic = Buffer.from(`${this.settings.clientId}:${this.settings.clientSecret}`).toString('base64');
    const answer = await httpRequest(this.url(ORANGE_PATHS.token), {
      method: 'POST',
      headers: {
        Authorization: `Basic ${basic}`,
        'Content-Type': 'application/x-www-form-urlencoded',
        Accept: 'application/json',
      },
      body: 'grant_type=client_credentials',
      timeoutMs: this.settings.httpTimeoutMs,
      label: { operator: this.name, operation: ORANGE_PATHS.token },
    });
    if (answer.kind !== 'answered') throw new Error(answer.detail);
    const parsed = tokenAnswer.safeParse(answer.body);
    if (answer.status !== 200 || !parsed.success) throw new Error(`token refused (HTTP ${answer.status})`);
    return { value: parsed.data.access_token, expiresInSeconds: parsed.data.expires_in };
  }

  /** A JSON call with the bearer token, sent once more with a new token after a 401 (refused, so nothing was done). */
  private async call(
    method: 'GET' | 'POST',
    path: string,
    body?: Record<string, unknown>,
  ): Promise<HttpOutcome> {
    const send = (token: string) =>
      httpRequest(this.url(path), {
        method,
        headers: {
          Authorization: `Bearer ${token}`,
          Accept: 'application/json',
          ...(body ? { 'Content-Type': 'application/json' } : {}),
        },
        body: body ? JSON.stringify(body) : undefined,
        timeoutMs: this.settings.httpTimeoutMs,
        label: {
          operator: this.name,
          operation: operationOf(path).replace(/^orange-money-webpay\/\w+\//, ''),
        },
      });
    for (let round = 0; ; round++) {
      let token: string;
      try {
        token = await this.token.get();
      } catch (err) {
        return { kind: 'unreachable', detail: `no Orange token: ${(err as Error).message}` };
      }
      const answer = await send(token);
      if (answer.kind !== 'answered' || answer.status !== 401 || round === 1) return answer;
      this.token.invalidate(token);
    }
  }

  private checkMoney(
    amount: Money,
    network: Network | undefined,
    direction: 'payin' | 'payout',
  ): PaymentFailure | undefined {
    if (!isOrangeNetwork(network)) {
      return network
        ? { code: 'network_not_supported', message: `Orange Money WebPay does not serve ${network}` }
        : {
            code: 'network_required',
            message: `An Orange Money ${direction} needs the number (or network) of an Orange wallet: its country picks the API`,
          };
    }
    const country = ORANGE_COUNTRIES[network];
    if (amount.currency !== country.currency) {
      return {
        code: 'currency_not_supported',
        message: `Orange Money ${country.country} takes ${country.currency}, not ${amount.currency}`,
      };
    }
    if (amount.amount < country.min) {
      return {
        code: 'amount_below_minimum',
        message: `Orange Money ${country.country} takes at least ${country.min} ${country.currency}`,
      };
    }
    if (amount.amount > country.max) {
      return {
        code: 'amount_above_maximum',
        message: `Orange Money ${country.country} takes at most ${country.max} ${country.currency}`,
      };
    }
    return undefined;
  }

  validatePayin(req: PayinDraft): PaymentFailure | undefined {
    return this.checkMoney(req.amount, req.network, 'payin');
  }

  payinConfirmation(): 'status_api' {
    return 'status_api';
  }

  /** Orange's notification names no payment: the URL we give it does (the notif_token authenticates it). */
  private notificationUrl(callbackUrl: string, paymentId: string): string {
    const url = new URL(callbackUrl);
    url.searchParams.set('order_id', paymentId);
    return url.toString();
  }

  /** Amount as Orange takes it: whole units (its currencies have no minor unit). */
  private amountOf(m: Money): number {
    return Number(toMajorUnitString(m));
  }

  async initiatePayin(req: PayinRequest): Promise<InitiationOutcome> {
    if (!isOrangeNetwork(req.network)) {
      return localRefusal('network_required', 'no Orange network');
    }
    const country = this.countryOf(req.network);
    const returnUrl = req.returnUrl ?? this.settings.storeWebsiteUrl;
    const answer = await this.call('POST', ORANGE_PATHS.webpayment(country.path), {
      merchant_key: this.settings.merchantKey,
      currency: country.currency,
      order_id: req.paymentId,
      amount: this.amountOf(req.amount),
      return_url: returnUrl,
      cancel_url: req.cancelUrl ?? returnUrl,
      notif_url: this.notificationUrl(req.callbackUrl, req.paymentId),
      lang: req.customer.language === 'en' ? 'en' : 'fr',
      reference: this.settings.storeName.slice(0, 30),
    });
    if (answer.kind !== 'answered') return answer;
    if (answer.status >= 500) return { kind: 'ambiguous', detail: `HTTP ${answer.status}` };
    if (answer.status >= 400) return this.refused(answer);
    const parsed = webpaymentAnswer.safeParse(answer.body);
    if (!parsed.success) return { kind: 'ambiguous', detail: `unreadable answer (HTTP ${answer.status})` };
    const { pay_token, payment_url, notif_token, status } = parsed.data;
    return {
      kind: 'accepted',
      operatorReference: pay_token,
      status: 'action_required',
      nextAction: { type: 'redirect', url: payment_url },
      operatorStatus: 'INITIATED',
      // The notif_token authenticates the notification: it is stored hashed, never in the event log.
      raw: { status, pay_token, payment_url },
      callbackSecret: notif_token,
    };
  }

  private refused(answer: Extract<HttpOutcome, { kind: 'answered' }>): InitiationOutcome {
    const body = errorAnswer.safeParse(answer.body ?? {});
    const code = body.success ? (body.data.code ?? body.data.error) : undefined;
    const message = body.success ? (body.data.message ?? body.data.error_description) : undefined;
    return {
      kind: 'rejected',
      ...orangeRefusal(answer.status, code, message),
      operatorStatus: code ?? `http_${answer.status}`,
      operatorMessage: message,
      raw: answer.body ?? null,
    };
  }

  checkPayinStatus(refs: PaymentRefs): Promise<StatusReport> {
    return this.status(refs);
  }

  /**
   * transactionstatus repeats our order id and amount with Orange's pay_token: the answer is about
   * the transaction our own request created at our amount.
   */
  private async status(refs: PaymentRefs): Promise<StatusReport> {
    if (!isOrangeNetwork(refs.network))
      return { reachable: false, detail: `no Orange country for ${refs.network}` };
    const found = await this.transactionStatus(refs, refs.operatorReference ?? undefined);
    if (found.kind === 'error') return { reachable: false, detail: found.detail };
    if (found.kind === 'absent') return { reachable: false, detail: 'Orange does not know this transaction' };
    return found.report;
  }

  private async transactionStatus(
    refs: PaymentLookup,
    payToken: string | undefined,
  ): Promise<
    | { kind: 'found'; report: Extract<StatusReport, { reachable: true }>; txnid?: string }
    | { kind: 'absent' }
    | { kind: 'error'; detail: string }
  > {
    if (!isOrangeNetwork(refs.network))
      return { kind: 'error', detail: `no Orange country for ${refs.network}` };
    const answer = await this.call(
      'POST',
      ORANGE_PATHS.transactionStatus(this.countryOf(refs.network).path),
      {
        order_id: refs.paymentId,
        amount: this.amountOf(refs.amount),
        ...(payToken ? { pay_token: payToken } : {}),
      },
    );
    if (answer.kind !== 'answered') return { kind: 'error', detail: answer.detail };
    if (answer.status === 404) return { kind: 'absent' };
    if (answer.status !== 200 && answer.status !== 201)
      return { kind: 'error', detail: `HTTP ${answer.status}` };
    const parsed = statusAnswer.safeParse(answer.body);
    if (!parsed.success) return { kind: 'error', detail: 'unreadable status answer' };
    const mapped = mapOrangeStatus(parsed.data.status);
    return {
      kind: 'found',
      txnid: parsed.data.txnid,
      report: {
        reachable: true,
        status: mapped.status,
        operatorStatus: parsed.data.status,
        ...(parsed.data.txnid ? { operatorMessage: `txnid ${parsed.data.txnid}` } : {}),
        amountFixedByRequest: true,
        failure: mapped.failure,
        raw: answer.body,
      },
    };
  }

  validatePayout(req: PayoutDraft): PaymentFailure | undefined {
    if (req.method !== 'mobile_money')
      return { code: 'method_not_supported', message: 'Orange Money pays out to Orange Money wallets only' };
    return this.checkMoney(req.amount, req.network, 'payout');
  }

  /**
   * A refund of an Orange payin goes back through Orange's refund call (naming the payment's
   * pay_token); any other payout is a cash-in to the number. Both are our reading (docs/orange.md).
   */
  async initiatePayout(req: PayoutRequest): Promise<InitiationOutcome> {
    if (!isOrangeNetwork(req.network)) {
      return localRefusal('network_required', 'no Orange network');
    }
    const country = this.countryOf(req.network);
    const common = {
      merchant_key: this.settings.merchantKey,
      order_id: req.paymentId,
      amount: this.amountOf(req.amount),
      currency: country.currency,
      notif_url: this.notificationUrl(req.callbackUrl, req.paymentId),
    };
    const refund = req.refundOf?.operatorReference;
    const answer = refund
      ? await this.call('POST', ORANGE_PATHS.refund(country.path), {
          ...common,
          pay_token: refund,
          reason: req.description.slice(0, 100),
        })
      : await this.call('POST', ORANGE_PATHS.cashin(country.path), {
          ...common,
          msisdn: req.recipientPhone,
          reference: this.settings.storeName.slice(0, 30),
        });
    if (answer.kind !== 'answered') return answer;
    if (answer.status >= 500) return { kind: 'ambiguous', detail: `HTTP ${answer.status}` };
    if (answer.status === 409) {
      // Our order id is already there: an earlier send we did not hear back from. Carry on with it.
      const known = await this.findPayoutByReference({
        paymentId: req.paymentId,
        amount: req.amount,
        network: req.network ?? null,
      });
      if (known.kind === 'found') {
        return {
          kind: 'accepted',
          operatorReference: known.operatorReference,
          status: 'pending',
          nextAction: { type: 'none' },
          operatorStatus: known.report.operatorStatus,
          raw: answer.body ?? null,
        };
      }
      return { kind: 'ambiguous', detail: 'Orange already has this order id and cannot say more' };
    }
    if (answer.status >= 400) return this.refused(answer);
    const parsed = transferAnswer.safeParse(answer.body);
    if (!parsed.success) return { kind: 'ambiguous', detail: `unreadable answer (HTTP ${answer.status})` };
    return {
      kind: 'accepted',
      operatorReference: parsed.data.pay_token,
      status: 'pending',
      nextAction: { type: 'none' },
      operatorStatus: parsed.data.status ?? 'PENDING',
      raw: { status: parsed.data.status, order_id: parsed.data.order_id, pay_token: parsed.data.pay_token },
      callbackSecret: parsed.data.notif_token,
    };
  }

  /**
   * By our order id and amount alone: a cash-in found after a lost answer is known by its txnid,
   * not by the pay_token its answer would have carried.
   */
  async checkPayoutStatus(refs: PaymentRefs): Promise<StatusReport> {
    const found = await this.transactionStatus(refs, undefined);
    if (found.kind === 'error') return { reachable: false, detail: found.detail };
    if (found.kind === 'absent') return { reachable: false, detail: 'Orange does not know this order' };
    return found.report;
  }

  /**
   * transactionstatus by our order id and amount without a pay_token (our reading): a 404 is
   * Orange saying it has no such order, so a lost cash-in may be sent again (with the same order
   * id, which Orange refuses to register twice).
   */
  async findPayoutByReference(payment: PaymentLookup): Promise<DisbursementLookup> {
    const found = await this.transactionStatus(payment, undefined);
    if (found.kind === 'error') return { kind: 'cannot_tell', detail: found.detail };
    if (found.kind === 'absent') return { kind: 'absent' };
    return { kind: 'found', operatorReference: found.txnid ?? payment.paymentId, report: found.report };
  }

  /** The notification: `{status, notif_token, txnid}` POSTed to the notif_url (which names our payment). */
  parseCallback(input: CallbackInput): CallbackParseResult {
    if (input.method !== 'POST')
      return { ok: false, reason: `Orange posts its notifications, not ${input.method}` };
    const parsed = readJsonCallback(input.rawBody, orangeNotification);
    if (!parsed.ok) return parsed;
    const paymentId = input.query.order_id;
    if (!paymentId) return { ok: false, reason: 'the notification URL names no order' };
    const { notif_token, ...fields } = parsed.data;
    const mapped = mapOrangeStatus(parsed.data.status);
    return {
      ok: true,
      callback: {
        paymentId,
        operatorReference: parsed.data.txnid,
        reportedStatus: mapped.status,
        operatorStatus: parsed.data.status,
        failure: mapped.failure,
        amountNotStated: true,
        paymentSecret: notif_token,
        eventKey: `${paymentId}:${parsed.data.status}:${parsed.data.txnid ?? ''}`,
        fields,
      },
    };
  }

  /** The notif_token authenticates the notification; its txnid is one we have not seen before. */
  callbackReferenceMatches(): boolean {
    return true;
  }

  /**
   * The transactions of a period as CSV (`date,order_id,txnid,type,amount,currency,status`): our
   * reading of Orange's merchant portal export (docs/orange.md, docs/reconciliation.md).
   */
  readonly settlementReport = {
    open: (period: ReportPeriod) =>
      streamWithBearer(
        this.token,
        'Orange',
        `${this.url(ORANGE_PATHS.transactions)}?${reportQuery(period)}`,
        {
          timeoutMs: this.settings.httpTimeoutMs,
        },
      ),
    reportStatus: (word: string): OperatorStatus => mapOrangeStatus(word).status,
    parseLine: (line: string): ReportLine | null | { error: string } => {
      if (!line.trim() || line.startsWith('date,')) return null;
      const [date, orderId, txnid, type, amountText, currencyWord, status] = line.split(',');
      if (!status || !orderId) return { error: 'expected 7 fields' };
      const currency = currencyWord === ORANGE_DEV.currency ? 'XOF' : (currencyWord ?? '');
      if (!isCurrencyCode(currency)) return { error: `currency ${currencyWord}` };
      const amount = parseMajorUnits(amountText ?? '', currency);
      if (amount === undefined) return { error: `amount ${amountText}` };
      return {
        ourReference: orderId,
        operatorReference: txnid ?? '',
        kind: type === 'webpayment' ? 'payin' : 'payout',
        amount,
        currency,
        status: mapOrangeStatus(status).status,
        operatorStatus: status,
        occurredAt: date ?? '',
      };
    },
  };
}
