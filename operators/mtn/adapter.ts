import {
  isCurrencyCode,
  parseMajorUnits,
  toMajorUnitString,
  type CurrencyCode,
  type Money,
} from '../../lib/money.js';
import type { Network } from '../../lib/networks.js';
import { MTN_COUNTRIES, type MtnNetwork, type MtnSettings } from '../../lib/operator-settings/mtn.js';
import type { OperatorStatus, PaymentFailure } from '../../lib/payments.js';
import { statedAmount } from '../amounts.js';
import { localRefusal } from '../outcomes.js';
import { BearerToken, streamWithBearer } from '../bearer-token.js';
import { readJsonCallback } from '../callback-body.js';
import { httpRequest, reportQuery, type HttpOutcome } from '../http.js';
import type {
  CallbackInput,
  CallbackParseResult,
  DisbursementLookup,
  InitiationOutcome,
  OperatorAdapter,
  OperatorBalance,
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
import { mapMtnStatus, mtnRefusal } from './mapping.js';
import {
  MTN_PATHS,
  balanceAnswer,
  errorAnswer,
  mtnReferenceId,
  tokenAnswer,
  transactionAnswer,
  type MtnProduct,
} from './protocol.js';

function isMtnNetwork(network: string | null | undefined): network is MtnNetwork {
  return typeof network === 'string' && Object.hasOwn(MTN_COUNTRIES, network);
}

/**
 * MTN Mobile Money Open API: collection's request to pay (the payer approves on the phone) and
 * disbursement's transfer, each by an `X-Reference-Id` derived from our payment id (a repeat is
 * a 409, never a second debit); status by GET on that reference, which is the truth: MTN's
 * callback is unsigned and sent once, a hint that makes us look sooner.
 */
export class MtnOperator implements OperatorAdapter {
  readonly name = 'mtn' as const;
  private readonly tokens: Record<MtnProduct, BearerToken>;

  /** A token, the call, a renewed token after a 401, the call again. */
  get worstCaseCallMs(): number {
    return 4 * this.settings.httpTimeoutMs;
  }

  constructor(private readonly settings: MtnSettings) {
    this.tokens = {
      collection: new BearerToken(() => this.fetchToken('collection')),
      disbursement: new BearerToken(() => this.fetchToken('disbursement')),
    };
  }

  private url(path: string): string {
    return new URL(path, this.settings.baseUrl).toString();
  }

  private async fetchToken(product: MtnProduct): Promise<{ value: string; expiresInSeconds: number }> {
    const credentials = this.settings[product];
    const basic = Buffer.from(`${credentials.apiUser}:${credentials.apiKey}`).toString('base64');
    const answer = await httpRequest(this.url(MTN_PATHS.token(product)), {
      method: 'POST',
      headers: {
        Authorization: `Basic ${basic}`,
        'Ocp-Apim-Subscription-Key': credentials.subscriptionKey,
        Accept: 'application/json',
      },
      timeoutMs: this.settings.httpTimeoutMs,
      label: { operator: this.name, operation: `${product}/token` },
    });
    if (answer.kind !== 'answered') throw new Error(answer.detail);
    const parsed = tokenAnswer.safeParse(answer.body);
    if (answer.status !== 200 || !parsed.success)
      throw new Error(`${product} token refused (HTTP ${answer.status})`);
    return { value: parsed.data.access_token, expiresInSeconds: parsed.data.expires_in };
  }

  /** A call of one product with its token, sent once more with a new token after a 401 (refused: nothing was done). */
  private async call(
    product: MtnProduct,
    method: 'GET' | 'POST',
    path: string,
    opts: { targetEnvironment: string; headers?: Record<string, string>; body?: unknown; operation: string },
  ): Promise<HttpOutcome> {
    for (let round = 0; ; round++) {
      let token: string;
      try {
        token = await this.tokens[product].get();
      } catch (err) {
        return { kind: 'unreachable', detail: `no MTN ${product} token: ${(err as Error).message}` };
      }
      const answer = await httpRequest(this.url(path), {
        method,
        headers: {
          Authorization: `Bearer ${token}`,
          'Ocp-Apim-Subscription-Key': this.settings[product].subscriptionKey,
          'X-Target-Environment': opts.targetEnvironment,
          Accept: 'application/json',
          ...(opts.body ? { 'Content-Type': 'application/json' } : {}),
          ...opts.headers,
        },
        body: opts.body ? JSON.stringify(opts.body) : undefined,
        timeoutMs: this.settings.httpTimeoutMs,
        label: { operator: this.name, operation: opts.operation },
      });
      if (answer.kind !== 'answered' || answer.status !== 401 || round === 1) return answer;
      this.tokens[product].invalidate(token);
    }
  }

  private checkMoney(
    amount: Money,
    network: Network | undefined,
    who: 'payer' | 'recipient',
  ): PaymentFailure | undefined {
    if (!isMtnNetwork(network)) {
      return network
        ? { code: 'network_not_supported', message: `MTN MoMo does not serve ${network}` }
        : { code: 'network_required', message: `MTN MoMo needs the ${who}'s MTN number` };
    }
    const country = MTN_COUNTRIES[network];
    if (amount.currency !== country.currency) {
      return {
        code: 'currency_not_supported',
        message: `MTN MoMo ${country.country} takes ${country.currency}, not ${amount.currency}`,
      };
    }
    if (amount.amount < country.min) {
      return {
        code: 'amount_below_minimum',
        message: `MTN MoMo ${country.country} takes at least ${toMajorUnitString({ amount: country.min, currency: country.currency })} ${country.currency}`,
      };
    }
    if (amount.amount > country.max) {
      return {
        code: 'amount_above_maximum',
        message: `MTN MoMo ${country.country} takes at most ${toMajorUnitString({ amount: country.max, currency: country.currency })} ${country.currency}`,
      };
    }
    return undefined;
  }

  validatePayin(req: PayinDraft): PaymentFailure | undefined {
    const refusal = this.checkMoney(req.amount, req.network, 'payer');
    if (refusal) return refusal;
    // A request to pay goes to a number: on the hosted page the payer gives it first.
    if (req.mode === 'direct' && !req.customer.phone)
      return { code: 'phone_required', message: "An MTN MoMo payin needs the payer's number" };
    return undefined;
  }

  payinConfirmation(): 'status_api' {
    return 'status_api';
  }

  async initiatePayin(req: PayinRequest): Promise<InitiationOutcome> {
    if (!req.customer.phone)
      return { kind: 'awaiting_payer', nextAction: { type: 'redirect', url: req.checkoutUrl } };
    return this.transact('collection', req, req.customer.phone, {
      status: 'action_required',
      nextAction: {
        type: 'approve_on_phone',
        message: 'Approve the payment on your phone with your MoMo PIN',
      },
    });
  }

  /**
   * A request to pay (collection, the payer's number) or a transfer (disbursement, the payee's)
   * under the reference derived from our payment id.
   */
  private async transact(
    product: MtnProduct,
    req: { paymentId: string; amount: Money; network?: Network; description: string; callbackUrl: string },
    party: string,
    accepted: Pick<Extract<InitiationOutcome, { kind: 'accepted' }>, 'status' | 'nextAction'>,
  ): Promise<InitiationOutcome> {
    if (!isMtnNetwork(req.network)) return localRefusal('network_required', 'no MTN network');
    const reference = mtnReferenceId(req.paymentId);
    const answer = await this.send(
      product,
      product === 'collection' ? MTN_PATHS.requestToPay : MTN_PATHS.transfer,
      reference,
      req.network,
      req.callbackUrl,
      {
        amount: toMajorUnitString(req.amount),
        currency: req.amount.currency,
        externalId: req.paymentId,
        [product === 'collection' ? 'payer' : 'payee']: { partyIdType: 'MSISDN', partyId: party },
        payerMessage: req.description.slice(0, 160),
        payeeNote: req.description.slice(0, 160),
      },
    );
    if (answer.kind !== 'accepted') return answer.outcome;
    return {
      kind: 'accepted',
      operatorReference: reference,
      ...accepted,
      operatorStatus: answer.repeat ? 'already_registered' : 'PENDING',
      raw: { referenceId: reference, httpStatus: answer.httpStatus },
    };
  }

  /**
   * POSTs a request to pay or a transfer: 202 accepted; 409 our reference is already there (an
   * earlier send we did not hear back from: the same request, never a second one).
   */
  private async send(
    product: MtnProduct,
    path: string,
    reference: string,
    network: MtnNetwork,
    callbackUrl: string,
    body: Record<string, unknown>,
  ): Promise<
    { kind: 'accepted'; repeat: boolean; httpStatus: number } | { kind: 'other'; outcome: InitiationOutcome }
  > {
    const answer = await this.call(product, 'POST', path, {
      targetEnvironment: MTN_COUNTRIES[network].targetEnvironment,
      headers: { 'X-Reference-Id': reference, 'X-Callback-Url': callbackUrl },
      body,
      operation: path,
    });
    if (answer.kind !== 'answered') return { kind: 'other', outcome: answer };
    if (answer.status === 202) return { kind: 'accepted', repeat: false, httpStatus: 202 };
    if (answer.status === 409) return { kind: 'accepted', repeat: true, httpStatus: 409 };
    if (answer.status >= 500 || answer.status < 400)
      return { kind: 'other', outcome: { kind: 'ambiguous', detail: `HTTP ${answer.status}` } };
    const error = errorAnswer.safeParse(answer.body ?? {});
    const code = error.success ? error.data.code : undefined;
    const message = error.success ? error.data.message : undefined;
    return {
      kind: 'other',
      outcome: {
        kind: 'rejected',
        ...mtnRefusal(answer.status, code, message),
        operatorStatus: code ?? `http_${answer.status}`,
        operatorMessage: message,
        raw: answer.body ?? null,
      },
    };
  }

  async checkPayinStatus(refs: PaymentRefs): Promise<StatusReport> {
    return this.reportOf(await this.lookup('collection', refs));
  }

  private reportOf(found: Awaited<ReturnType<MtnOperator['lookup']>>): StatusReport {
    if (found.kind === 'error') return { reachable: false, detail: found.detail };
    if (found.kind === 'absent')
      return { reachable: false, detail: 'MTN does not know this reference (404)' };
    return found.report;
  }

  /** GET on our reference: 200 (even for a failure) with the status, 404 for a reference MTN does not have. */
  private async lookup(
    product: MtnProduct,
    refs: PaymentLookup,
  ): Promise<
    | { kind: 'found'; report: Extract<StatusReport, { reachable: true }> }
    | { kind: 'absent' }
    | { kind: 'error'; detail: string }
  > {
    if (!isMtnNetwork(refs.network)) return { kind: 'error', detail: `no MTN country for ${refs.network}` };
    const reference = mtnReferenceId(refs.paymentId);
    const path =
      product === 'collection'
        ? MTN_PATHS.requestToPayStatus(reference)
        : MTN_PATHS.transferStatus(reference);
    const answer = await this.call(product, 'GET', path, {
      targetEnvironment: MTN_COUNTRIES[refs.network].targetEnvironment,
      operation:
        product === 'collection' ? 'collection/v1_0/requesttopay/:id' : 'disbursement/v1_0/transfer/:id',
    });
    if (answer.kind !== 'answered') return { kind: 'error', detail: answer.detail };
    if (answer.status === 404) return { kind: 'absent' };
    if (answer.status !== 200) return { kind: 'error', detail: `HTTP ${answer.status}` };
    const parsed = transactionAnswer.safeParse(answer.body);
    if (!parsed.success) return { kind: 'error', detail: 'unreadable status answer' };
    const t = parsed.data;
    const mapped = mapMtnStatus(t.status, t.reason);
    const party = product === 'collection' ? t.payer : t.payee;
    return {
      kind: 'found',
      report: {
        reachable: true,
        status: mapped.status,
        operatorStatus: t.reason ? `${t.status} ${t.reason}` : t.status,
        ...(t.financialTransactionId
          ? { operatorMessage: `financialTransactionId ${t.financialTransactionId}` }
          : {}),
        ...this.amountStated(t.amount, t.currency, refs.amount.currency),
        failure: mapped.failure,
        ...(product === 'collection' && party?.partyId && /^\d{8,15}$/.test(party.partyId)
          ? { payerPhone: party.partyId }
          : {}),
        raw: answer.body,
      },
    };
  }

  /** MTN states the amount in major units with its currency: another currency is an amount we cannot take as ours. */
  private amountStated(amount: string | undefined, currency: string | undefined, ours: CurrencyCode) {
    if (amount === undefined) return {};
    if (currency !== undefined && currency !== ours) return { amountUnreadable: `${amount} ${currency}` };
    return statedAmount(amount, ours);
  }

  validatePayout(req: PayoutDraft): PaymentFailure | undefined {
    if (req.method !== 'mobile_money')
      return { code: 'method_not_supported', message: 'MTN MoMo pays out to MTN MoMo wallets only' };
    return this.checkMoney(req.amount, req.network, 'recipient');
  }

  /** Payouts and refunds alike: a disbursement transfer to the number (MTN's collection has no refund in v1). */
  async initiatePayout(req: PayoutRequest): Promise<InitiationOutcome> {
    return this.transact('disbursement', req, req.recipientPhone, {
      status: 'pending',
      nextAction: { type: 'none' },
    });
  }

  async checkPayoutStatus(refs: PaymentRefs): Promise<StatusReport> {
    return this.reportOf(await this.lookup('disbursement', refs));
  }

  /**
   * GET transfer/{our reference}: MTN documents 404 as "resource not found", and a transfer it
   * accepted (202) is stored before it answers, so 404 means never received. Sending again is
   * safe in any case: the same reference would be a 409, never a second credit.
   */
  async findPayoutByReference(payment: PaymentLookup): Promise<DisbursementLookup> {
    const found = await this.lookup('disbursement', payment);
    if (found.kind === 'error') return { kind: 'cannot_tell', detail: found.detail };
    if (found.kind === 'absent') return { kind: 'absent' };
    return { kind: 'found', operatorReference: mtnReferenceId(payment.paymentId), report: found.report };
  }

  /** Both products' account balances in every country (the float payouts draw on is the disbursement one). */
  async balances(): Promise<OperatorBalance[]> {
    const out: OperatorBalance[] = [];
    for (const [network, country] of Object.entries(MTN_COUNTRIES)) {
      for (const product of ['collection', 'disbursement'] as const) {
        const answer = await this.call(product, 'GET', MTN_PATHS.balance(product), {
          targetEnvironment: country.targetEnvironment,
          operation: MTN_PATHS.balance(product),
        });
        if (answer.kind !== 'answered' || answer.status !== 200) {
          throw new Error(
            `MTN ${product} balance unavailable in ${country.country} (${answer.kind === 'answered' ? `HTTP ${answer.status}` : answer.detail})`,
          );
        }
        const parsed = balanceAnswer.parse(answer.body);
        const currency = parsed.currency ?? country.currency;
        const amount = isCurrencyCode(currency)
          ? parseMajorUnits(parsed.availableBalance ?? '', currency)
          : undefined;
        if (amount === undefined)
          throw new Error(`MTN ${product} balance unreadable: ${parsed.availableBalance}`);
        out.push({ network: `${network}:${product}`, amount, currency });
      }
    }
    return out;
  }

  /** The callback: PUT (or POST) of the same object the status GET answers; externalId is our payment id. */
  parseCallback(input: CallbackInput): CallbackParseResult {
    if (input.method !== 'PUT' && input.method !== 'POST')
      return { ok: false, reason: `MTN calls back with PUT or POST, not ${input.method}` };
    const parsed = readJsonCallback(input.rawBody, transactionAnswer);
    if (!parsed.ok) return parsed;
    const body = parsed.body;
    const t = parsed.data;
    if (!t.externalId) return { ok: false, reason: 'no externalId' };
    const mapped = mapMtnStatus(t.status, t.reason);
    const currency = t.currency && isCurrencyCode(t.currency) ? t.currency : undefined;
    return {
      ok: true,
      callback: {
        paymentId: t.externalId,
        operatorReference: t.financialTransactionId,
        reportedStatus: mapped.status,
        operatorStatus: t.reason ? `${t.status} ${t.reason}` : t.status,
        failure: mapped.failure,
        amount: currency && t.amount !== undefined ? parseMajorUnits(t.amount, currency) : undefined,
        currency: t.currency,
        eventKey: `${t.externalId}:${t.status}:${t.financialTransactionId ?? ''}`,
        fields: body,
      },
    };
  }

  /** The callback carries MTN's financial transaction id, not our reference: it names the payment by externalId. */
  callbackReferenceMatches(): boolean {
    return true;
  }

  /**
   * The transactions of a period as CSV
   * (`date,external_id,reference_id,financial_transaction_id,type,amount,currency,status`): our
   * reading (MTN has no report API; its partner portal exports statements: docs/mtn.md).
   */
  readonly settlementReport = {
    open: (period: ReportPeriod) =>
      streamWithBearer(
        this.tokens.collection,
        'MTN',
        `${this.url(MTN_PATHS.transactions)}?${reportQuery(period)}`,
        {
          headers: { 'Ocp-Apim-Subscription-Key': this.settings.collection.subscriptionKey },
          timeoutMs: this.settings.httpTimeoutMs,
        },
      ),
    reportStatus: (word: string): OperatorStatus => mapMtnStatus(word, undefined).status,
    parseLine: (line: string): ReportLine | null | { error: string } => {
      if (!line.trim() || line.startsWith('date,')) return null;
      const [date, externalId, referenceId, financialId, type, amountText, currency, status] =
        line.split(',');
      if (!status || !externalId) return { error: 'expected 8 fields' };
      if (!currency || !isCurrencyCode(currency)) return { error: `currency ${currency}` };
      const amount = parseMajorUnits(amountText ?? '', currency);
      if (amount === undefined) return { error: `amount ${amountText}` };
      return {
        ourReference: externalId,
        operatorReference: financialId || (referenceId ?? ''),
        kind: type === 'collection' ? 'payin' : 'payout',
        amount,
        currency,
        status: mapMtnStatus(status, undefined).status,
        operatorStatus: status,
        occurredAt: date ?? '',
      };
    },
  };
}
