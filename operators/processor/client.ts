import { callDeadline } from '../../lib/cancellation.js';
import type { Logger } from '../../lib/logger.js';
import {
  MESSAGE_VERSION,
  PROCESSOR_CURRENCIES,
  PROCESSOR_PATHS,
  aresAnswer,
  authenticationAnswer,
  captureAnswer,
  errorAnswer,
  isProcessorCurrency,
  paymentAnswer,
  paymentListAnswer,
  refundAnswer,
  refundListAnswer,
  tokenAnswer,
  voidAnswer,
  type Ares,
  type AuthenticationState,
  type ProcessorCapture,
  type ProcessorCurrency,
  type ProcessorPayment,
  type ProcessorRefund,
  type ProcessorVoid,
  type TransStatus,
} from './protocol.js';
import { purchaseDate } from './three-ds.js';
import { NOT_SENT_CODES, errorCode } from '../http.js';

/**
 * The client of the Visa/Mastercard card processor (docs/card-processor.md): tokens, EMV 3-D
 * Secure 2 authentication, authorisation, capture, void, refund and their look-ups.
 *
 * No method throws for anything the processor answers, or fails to answer: each returns a
 * discriminated union, and throws only when called wrongly (a programming error). Three words
 * matter to a caller:
 * - `refused`: the processor answered 4xx, which per the document created nothing; the request
 *   may be corrected and sent again (with the same idempotency key).
 * - `ambiguous` (money-moving calls): sent, outcome unknown (timeout, connection lost, 5xx, an
 *   unreadable 2xx). The object may exist: look it up by our reference (or replay with the same
 *   key and body) before anything else (DESIGN.md rule 2).
 * - `unavailable` (reads, tokens, authentications): nothing to fear from repeating the call.
 *
 * Card numbers, security codes, token ids and authentication values never reach the log: it gets
 * brands, last four digits, our references, the processor's payment ids and its error codes.
 */

export interface CardProcessorClientOptions {
  /** e.g. `http://127.0.0.1:4000/processor`: every path of the document is relative to it. */
  baseUrl: string;
  apiKey: string;
  /** Per call; a money-moving call that takes longer is `ambiguous`. */
  timeoutMs: number;
  logger: Logger;
}

export interface CardDetails {
  /** 13 to 19 digits. */
  number: string;
  /** `"01"` to `"12"`. */
  expiryMonth: string;
  /** Four digits. */
  expiryYear: string;
  /** 3 or 4 digits. */
  securityCode: string;
}

export interface Refusal {
  kind: 'refused';
  /** The processor's error word (`invalid_card`, `token_used`, `payment_captured`, …), or `http_<status>`. */
  code: string;
  message: string;
  /** HTTP status of the refusal. */
  status: number;
  /** What is at fault, when the processor says (`card.number`, `Idempotency-Key`, …). */
  field?: string;
}

export type TokeniseOutcome =
  | {
      kind: 'token';
      /** `tok_…`: good for one authentication and one payment, until `expiresAt`. Not to be logged. */
      token: string;
      brand: 'visa' | 'mastercard';
      last4: string;
      /** ISO 8601. */
      expiresAt: string;
    }
  | Refusal
  | { kind: 'unavailable'; reason: string };

export interface AuthenticateRequest {
  /** Ours, a UUID; the idempotency key of the authentication. */
  threeDSServerTransID: string;
  token: string;
  /** Minor units. */
  amount: number;
  currency: ProcessorCurrency;
  /** 1 to 40 characters, shown on the challenge page. */
  merchantName: string;
  /** Four digits. */
  mcc: string;
  acquirerMerchantID: string;
  /** Where the payer's browser posts the CRes. */
  notificationURL: string;
  /** Where the processor posts the RReq. */
  threeDSServerURL: string;
  browser: { acceptHeader: string; userAgent: string; language: string; ip?: string };
  /**
   * When the purchase was made. A retry must pass the same date: the processor answers a repeated
   * threeDSServerTransID with its first ARes only when the body is the same (else `409 conflict`).
   */
  purchaseDate: Date;
}

export type AuthenticateOutcome =
  | { kind: 'ares'; ares: Ares }
  | Refusal
  /** Repeating the same request (same threeDSServerTransID, same body) is safe: it is idempotent. */
  | { kind: 'unavailable'; reason: string };

export type AuthenticationLookup =
  | { kind: 'found'; authentication: AuthenticationState }
  | { kind: 'not_found' }
  | { kind: 'unavailable'; reason: string };

export interface AuthoriseRequest {
  /** The `Idempotency-Key`: the same for every send of this payment, and only of it. */
  idempotencyKey: string;
  /** Ours, 1 to 64 characters: what `findPaymentsByReference` looks up after an ambiguous answer. */
  reference: string;
  /** Minor units; must be the authentication's amount. */
  amount: number;
  currency: ProcessorCurrency;
  token: string;
  /** As the processor gave it (ARes, or GET after a challenge); only `Y` and `A` with eci and value are approved. */
  authentication: {
    threeDSServerTransID: string;
    dsTransID: string;
    transStatus: TransStatus;
    eci?: string;
    authenticationValue?: string;
    messageVersion: string;
  };
}

/** Sent; whether it took effect is unknown (timeout, connection lost, 5xx, unreadable answer). */
export interface Ambiguous {
  kind: 'ambiguous';
  reason: string;
}

export type AuthoriseOutcome = { kind: 'payment'; payment: ProcessorPayment } | Refusal | Ambiguous;
export type CaptureOutcome = { kind: 'capture'; capture: ProcessorCapture } | Refusal | Ambiguous;
export type VoidOutcome = { kind: 'void'; void: ProcessorVoid } | Refusal | Ambiguous;
export type RefundOutcome = { kind: 'refund'; refund: ProcessorRefund } | Refusal | Ambiguous;

export type PaymentLookup =
  | { kind: 'found'; payment: ProcessorPayment }
  | { kind: 'not_found' }
  | { kind: 'unavailable'; reason: string };
export type PaymentsLookup =
  { kind: 'found'; payments: ProcessorPayment[] } | { kind: 'unavailable'; reason: string };
export type RefundLookup =
  | { kind: 'found'; refund: ProcessorRefund }
  | { kind: 'not_found' }
  | { kind: 'unavailable'; reason: string };
export type RefundsLookup =
  { kind: 'found'; refunds: ProcessorRefund[] } | { kind: 'unavailable'; reason: string };

/** What one HTTP exchange gave: an answer (any status), or none. */
type Exchange =
  | { kind: 'answered'; status: number; body: unknown }
  /** Refused before a byte left (connection refused, no such host): nothing was sent. */
  | { kind: 'not_sent'; reason: string }
  /** Sent, or maybe sent, and no complete answer. */
  | { kind: 'no_answer'; reason: string };

/** The document's rule for an Idempotency-Key is 1 to 255 printable ASCII characters; we send no spaces. */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A payment's `amount`: 1 to 10^12. */
const MAX_PAYMENT_AMOUNT = 1_000_000_000_000;
/** The AReq's `purchaseAmount` is 1 to 12 digits: one less than a payment may be. */
const MAX_PURCHASE_AMOUNT = 999_999_999_999;

/** Our own mistakes (a caller's), not the processor's answer: thrown. */
function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new TypeError(`CardProcessorClient: ${message}`);
}

function checkAmount(amount: number, max = MAX_PAYMENT_AMOUNT): void {
  check(
    Number.isSafeInteger(amount) && amount >= 1 && amount <= max,
    `the amount must be an integer of minor units from 1 to ${max}`,
  );
}

function checkIdempotencyKey(key: string): void {
  check(
    IDEMPOTENCY_KEY.test(key),
    'the idempotency key must be 1 to 255 printable ASCII characters, no spaces',
  );
}

function checkReference(reference: string): void {
  check(reference.length >= 1 && reference.length <= 64, 'a reference is 1 to 64 characters');
}

export class CardProcessorClient {
  private readonly base: string;
  private readonly log: Logger;

  constructor(private readonly options: CardProcessorClientOptions) {
    check(/^https?:\/\//.test(options.baseUrl), 'baseUrl must be an http(s) URL');
    check(options.apiKey.length > 0, 'apiKey is required');
    check(Number.isFinite(options.timeoutMs) && options.timeoutMs > 0, 'timeoutMs must be positive');
    this.base = options.baseUrl.replace(/\/+$/, '');
    this.log = options.logger.child({ operator: 'processor' });
  }

  // ---------------------------------------------------------------- tokens

  /** `POST /v1/tokens`: the only call that carries the card number and security code. */
  async tokenise(card: CardDetails): Promise<TokeniseOutcome> {
    const answer = await this.send('POST', PROCESSOR_PATHS.tokens, { card });
    if (answer.kind !== 'answered') return this.unavailable('tokenise', answer.reason);
    if (answer.status === 201) {
      const parsed = tokenAnswer.safeParse(answer.body);
      if (!parsed.success) return this.unavailable('tokenise', this.unreadable(answer.status));
      const { id, brand, last4, expiresAt } = parsed.data;
      this.log.info({ brand, last4 }, 'card tokenised');
      return { kind: 'token', token: id, brand, last4, expiresAt };
    }
    if (answer.status >= 400 && answer.status < 500) return this.refusal('tokenise', answer);
    // A token made by a call we gave up on is harmless: unused, it expires.
    return this.unavailable('tokenise', this.statusReason(answer));
  }

  // ---------------------------------------------------------------- 3-D Secure 2

  /**
   * `POST /v1/authentications`, the AReq. Idempotent by its threeDSServerTransID: after a timeout
   * or a 5xx (`unavailable`), the same request may be sent again, and answers the first ARes.
   */
  async authenticate(req: AuthenticateRequest): Promise<AuthenticateOutcome> {
    check(UUID.test(req.threeDSServerTransID), 'threeDSServerTransID must be a UUID');
    checkAmount(req.amount, MAX_PURCHASE_AMOUNT);
    check(
      isProcessorCurrency(req.currency),
      `currency ${String(req.currency)} is not one the processor takes`,
    );
    const currency = PROCESSOR_CURRENCIES[req.currency];
    const areq = {
      threeDSServerTransID: req.threeDSServerTransID,
      messageVersion: MESSAGE_VERSION,
      deviceChannel: '02', // browser: the only channel the processor supports
      messageCategory: '01', // payment authentication
      threeDSCompInd: 'U', // we run no 3DS Method
      threeDSRequestorAuthenticationInd: '01', // payment transaction
      paymentMethod: { token: req.token },
      purchaseAmount: String(req.amount),
      purchaseCurrency: currency.numeric,
      purchaseExponent: String(currency.exponent),
      purchaseDate: purchaseDate(req.purchaseDate),
      merchantName: req.merchantName,
      mcc: req.mcc,
      acquirerMerchantID: req.acquirerMerchantID,
      notificationURL: req.notificationURL,
      threeDSServerURL: req.threeDSServerURL,
      browserAcceptHeader: req.browser.acceptHeader,
      browserUserAgent: req.browser.userAgent,
      browserLanguage: req.browser.language,
      // Absent, not null, when unknown: the processor compares replays by their JSON value.
      ...(req.browser.ip !== undefined ? { browserIP: req.browser.ip } : {}),
    };
    const what = 'authenticate';
    const context = { threeDSServerTransID: req.threeDSServerTransID };
    const answer = await this.send('POST', PROCESSOR_PATHS.authentications, areq);
    if (answer.kind !== 'answered') return this.unavailable(what, answer.reason, context);
    if (answer.status === 201 || answer.status === 200) {
      const parsed = aresAnswer.safeParse(answer.body);
      if (!parsed.success) return this.unavailable(what, this.unreadable(answer.status), context);
      const ares = parsed.data;
      if (ares.threeDSServerTransID !== req.threeDSServerTransID)
        return this.unavailable(what, 'the ARes names another threeDSServerTransID', context);
      this.log.info(
        {
          ...context,
          transStatus: ares.transStatus,
          ...('transStatusReason' in ares ? { transStatusReason: ares.transStatusReason } : {}),
          replay: answer.status === 200,
        },
        'card authentication answered',
      );
      return { kind: 'ares', ares };
    }
    if (answer.status >= 400 && answer.status < 500) return this.refusal(what, answer, context);
    return this.unavailable(what, this.statusReason(answer), context);
  }

  /** `GET /v1/authentications/{id}`: the current result; after a challenge, the only word that counts. */
  async authentication(threeDSServerTransID: string): Promise<AuthenticationLookup> {
    const context = { threeDSServerTransID };
    const answer = await this.send('GET', PROCESSOR_PATHS.authentication(threeDSServerTransID));
    if (answer.kind !== 'answered') return this.unavailable('authentication', answer.reason, context);
    if (answer.status === 404) return { kind: 'not_found' };
    if (answer.status !== 200) return this.unavailable('authentication', this.statusReason(answer), context);
    const parsed = authenticationAnswer.safeParse(answer.body);
    if (!parsed.success || parsed.data.threeDSServerTransID !== threeDSServerTransID)
      return this.unavailable('authentication', this.unreadable(answer.status), context);
    return { kind: 'found', authentication: parsed.data };
  }

  // ---------------------------------------------------------------- payments

  /**
   * `POST /v1/payments`, the authorisation. A declined payment is a `payment` too (status
   * `declined`): it exists. `ambiguous`: the payment may exist (502 `upstream_error` says it does);
   * find it by reference, or send the very same request again with the same key.
   */
  async authorise(req: AuthoriseRequest): Promise<AuthoriseOutcome> {
    checkIdempotencyKey(req.idempotencyKey);
    checkReference(req.reference);
    checkAmount(req.amount);
    check(
      isProcessorCurrency(req.currency),
      `currency ${String(req.currency)} is not one the processor takes`,
    );
    const a = req.authentication;
    const body = {
      reference: req.reference,
      amount: req.amount,
      currency: req.currency,
      paymentMethod: { token: req.token },
      authentication: {
        threeDSServerTransID: a.threeDSServerTransID,
        dsTransID: a.dsTransID,
        transStatus: a.transStatus,
        ...(a.eci !== undefined ? { eci: a.eci } : {}),
        ...(a.authenticationValue !== undefined ? { authenticationValue: a.authenticationValue } : {}),
        messageVersion: a.messageVersion,
      },
    };
    const what = 'authorise';
    const context = { reference: req.reference, amount: req.amount, currency: req.currency };
    const answer = await this.send('POST', PROCESSOR_PATHS.payments, body, req.idempotencyKey);
    if (answer.kind !== 'answered') return this.ambiguous(what, answer, context);
    if (answer.status === 201) {
      const parsed = paymentAnswer.safeParse(answer.body);
      if (!parsed.success) return this.ambiguous(what, this.unreadable(answer.status), context);
      const payment = parsed.data;
      // An answer about another payment than ours is no answer (DESIGN.md rule 9).
      if (
        payment.reference !== req.reference ||
        payment.amount !== req.amount ||
        payment.currency !== req.currency
      )
        return this.ambiguous(what, 'the payment answered is not the one requested', context);
      this.log.info(
        {
          ...context,
          payment: payment.id,
          status: payment.status,
          responseCode: payment.responseCode,
          declineReason: payment.declineReason,
        },
        'card payment answered',
      );
      return { kind: 'payment', payment };
    }
    if (answer.status >= 400 && answer.status < 500) return this.refusal(what, answer, context);
    return this.ambiguous(what, this.statusReason(answer), context);
  }

  /** `GET /v1/payments/{id}`: the payment as it is now. */
  async payment(id: string): Promise<PaymentLookup> {
    const answer = await this.send('GET', PROCESSOR_PATHS.payment(id));
    if (answer.kind !== 'answered') return this.unavailable('payment', answer.reason, { payment: id });
    if (answer.status === 404) return { kind: 'not_found' };
    if (answer.status !== 200) return this.unavailable('payment', this.statusReason(answer), { payment: id });
    const parsed = paymentAnswer.safeParse(answer.body);
    if (!parsed.success || parsed.data.id !== id)
      return this.unavailable('payment', this.unreadable(answer.status), { payment: id });
    return { kind: 'found', payment: parsed.data };
  }

  /** `GET /v1/payments?reference=`: every payment with our reference, oldest first (`[]` when none). */
  async findPaymentsByReference(reference: string): Promise<PaymentsLookup> {
    checkReference(reference);
    const answer = await this.send('GET', PROCESSOR_PATHS.paymentsByReference(reference));
    if (answer.kind !== 'answered') return this.unavailable('payments', answer.reason, { reference });
    if (answer.status !== 200) return this.unavailable('payments', this.statusReason(answer), { reference });
    const parsed = paymentListAnswer.safeParse(answer.body);
    if (!parsed.success) return this.unavailable('payments', this.unreadable(answer.status), { reference });
    // Only the exact reference: a processor matching loosely must not hand us another's payment.
    return { kind: 'found', payments: parsed.data.data.filter((p) => p.reference === reference) };
  }

  /** `POST /v1/payments/{id}/captures`: 1 to the authorised amount (the rest is released). */
  async capture(paymentId: string, amount: number, idempotencyKey: string): Promise<CaptureOutcome> {
    checkIdempotencyKey(idempotencyKey);
    checkAmount(amount);
    const what = 'capture';
    const context = { payment: paymentId, amount };
    const answer = await this.send('POST', PROCESSOR_PATHS.captures(paymentId), { amount }, idempotencyKey);
    if (answer.kind !== 'answered') return this.ambiguous(what, answer, context);
    if (answer.status === 201) {
      const parsed = captureAnswer.safeParse(answer.body);
      if (!parsed.success || parsed.data.paymentId !== paymentId || parsed.data.amount !== amount)
        return this.ambiguous(what, this.unreadable(answer.status), context);
      const capture = parsed.data;
      this.log.info(
        { ...context, capture: capture.id, status: capture.status, declineReason: capture.declineReason },
        'card capture answered',
      );
      return { kind: 'capture', capture };
    }
    if (answer.status >= 400 && answer.status < 500) return this.refusal(what, answer, context);
    return this.ambiguous(what, this.statusReason(answer), context);
  }

  /** `POST /v1/payments/{id}/voids`: releases an authorised, uncaptured payment. */
  async void(paymentId: string, idempotencyKey: string): Promise<VoidOutcome> {
    checkIdempotencyKey(idempotencyKey);
    const what = 'void';
    const context = { payment: paymentId };
    const answer = await this.send('POST', PROCESSOR_PATHS.voids(paymentId), {}, idempotencyKey);
    if (answer.kind !== 'answered') return this.ambiguous(what, answer, context);
    if (answer.status === 201) {
      const parsed = voidAnswer.safeParse(answer.body);
      if (!parsed.success || parsed.data.paymentId !== paymentId)
        return this.ambiguous(what, this.unreadable(answer.status), context);
      this.log.info({ ...context, void: parsed.data.id }, 'card payment voided');
      return { kind: 'void', void: parsed.data };
    }
    if (answer.status >= 400 && answer.status < 500) return this.refusal(what, answer, context);
    return this.ambiguous(what, this.statusReason(answer), context);
  }

  /** `POST /v1/payments/{id}/refunds` of a captured payment; a `declined` refund is a refund too. */
  async refund(
    paymentId: string,
    refund: { amount: number; reference: string },
    idempotencyKey: string,
  ): Promise<RefundOutcome> {
    checkIdempotencyKey(idempotencyKey);
    checkAmount(refund.amount);
    checkReference(refund.reference);
    const what = 'refund';
    const context = { payment: paymentId, reference: refund.reference, amount: refund.amount };
    const answer = await this.send(
      'POST',
      PROCESSOR_PATHS.refunds(paymentId),
      { amount: refund.amount, reference: refund.reference },
      idempotencyKey,
    );
    if (answer.kind !== 'answered') return this.ambiguous(what, answer, context);
    if (answer.status === 201) {
      const parsed = refundAnswer.safeParse(answer.body);
      if (
        !parsed.success ||
        parsed.data.paymentId !== paymentId ||
        parsed.data.amount !== refund.amount ||
        parsed.data.reference !== refund.reference
      )
        return this.ambiguous(what, this.unreadable(answer.status), context);
      const created = parsed.data;
      this.log.info(
        { ...context, refund: created.id, status: created.status, declineReason: created.declineReason },
        'card refund answered',
      );
      return { kind: 'refund', refund: created };
    }
    if (answer.status >= 400 && answer.status < 500) return this.refusal(what, answer, context);
    return this.ambiguous(what, this.statusReason(answer), context);
  }

  /** `GET /v1/refunds/{id}`. */
  async getRefund(id: string): Promise<RefundLookup> {
    const answer = await this.send('GET', PROCESSOR_PATHS.refund(id));
    if (answer.kind !== 'answered') return this.unavailable('refund', answer.reason, { refund: id });
    if (answer.status === 404) return { kind: 'not_found' };
    if (answer.status !== 200) return this.unavailable('refund', this.statusReason(answer), { refund: id });
    const parsed = refundAnswer.safeParse(answer.body);
    if (!parsed.success || parsed.data.id !== id)
      return this.unavailable('refund', this.unreadable(answer.status), { refund: id });
    return { kind: 'found', refund: parsed.data };
  }

  /** `GET /v1/refunds?reference=`: every refund with our reference, oldest first. */
  async findRefundsByReference(reference: string): Promise<RefundsLookup> {
    checkReference(reference);
    const answer = await this.send('GET', PROCESSOR_PATHS.refundsByReference(reference));
    if (answer.kind !== 'answered') return this.unavailable('refunds', answer.reason, { reference });
    if (answer.status !== 200) return this.unavailable('refunds', this.statusReason(answer), { reference });
    const parsed = refundListAnswer.safeParse(answer.body);
    if (!parsed.success) return this.unavailable('refunds', this.unreadable(answer.status), { reference });
    return { kind: 'found', refunds: parsed.data.data.filter((r) => r.reference === reference) };
  }

  // ---------------------------------------------------------------- HTTP

  /**
   * One exchange with the processor, with the bearer key, bounded by the timeout (and aborted if
   * the Temporal activity making it is cancelled: lib/cancellation.ts, built on a timer because
   * `AbortSignal.any([AbortSignal.timeout()])` sometimes never fired on Node.js 20).
   */
  private async send(
    method: 'GET' | 'POST',
    path: string,
    body?: Record<string, unknown>,
    idempotencyKey?: string,
  ): Promise<Exchange> {
    const url = `${this.base}/${path}`;
    // The path without its query, for reasons that end up in logs and histories.
    const where = `${method} /${path.split('?')[0]}`;
    const deadline = callDeadline(this.options.timeoutMs);
    try {
      let response: Response;
      try {
        response = await fetch(url, {
          method,
          headers: {
            Authorization: `Bearer ${this.options.apiKey}`,
            Accept: 'application/json',
            ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
            ...(idempotencyKey !== undefined ? { 'Idempotency-Key': idempotencyKey } : {}),
          },
          body: body !== undefined ? JSON.stringify(body) : undefined,
          signal: deadline.signal,
        });
      } catch (err) {
        const code = errorCode(err);
        if (code && NOT_SENT_CODES.has(code)) return { kind: 'not_sent', reason: `${code} ${where}` };
        const name = err instanceof Error ? err.name : 'Error';
        const why =
          name === 'TimeoutError' ? 'timeout' : name === 'AbortError' ? 'cancelled' : (code ?? name);
        return { kind: 'no_answer', reason: `${why} ${where}` };
      }
      let text: string;
      try {
        text = await response.text();
      } catch (err) {
        return { kind: 'no_answer', reason: `answer cut off (${errorCode(err) ?? 'read error'}) ${where}` };
      }
      let parsed: unknown = undefined;
      try {
        parsed = text ? (JSON.parse(text) as unknown) : undefined;
      } catch {
        parsed = undefined;
      }
      return { kind: 'answered', status: response.status, body: parsed };
    } finally {
      deadline.release();
    }
  }

  private statusReason(answer: { status: number; body: unknown }): string {
    const error = errorAnswer.safeParse(answer.body);
    return error.success ? `HTTP ${answer.status} ${error.data.error.code}` : `HTTP ${answer.status}`;
  }

  private unreadable(status: number): string {
    return `unreadable answer (HTTP ${status})`;
  }

  /** A 4xx: created nothing. Its message is logged by code only (it may quote what was sent). */
  private refusal(
    what: string,
    answer: { status: number; body: unknown },
    context: Record<string, unknown> = {},
  ): Refusal {
    const error = errorAnswer.safeParse(answer.body);
    const refusal: Refusal = error.success
      ? {
          kind: 'refused',
          code: error.data.error.code,
          message: error.data.error.message,
          status: answer.status,
          ...(error.data.error.field !== undefined ? { field: error.data.error.field } : {}),
        }
      : {
          kind: 'refused',
          code: `http_${answer.status}`,
          message: `HTTP ${answer.status}`,
          status: answer.status,
        };
    const level = answer.status === 401 || refusal.code === 'conflict' ? 'error' : 'info';
    this.log[level](
      { ...context, status: answer.status, code: refusal.code, field: refusal.field },
      `card processor refused ${what}`,
    );
    return refusal;
  }

  private unavailable(
    what: string,
    reason: string,
    context: Record<string, unknown> = {},
  ): { kind: 'unavailable'; reason: string } {
    this.log.warn({ ...context, reason }, `card processor unavailable for ${what}`);
    return { kind: 'unavailable', reason };
  }

  private ambiguous(
    what: string,
    cause: string | Exclude<Exchange, { kind: 'answered' }>,
    context: Record<string, unknown> = {},
  ): Ambiguous {
    // Nothing was sent, yet it is reported as ambiguous all the same: the caller's next step (a
    // look-up by reference, or the same request again) is right in both cases.
    const reason =
      typeof cause === 'string'
        ? cause
        : cause.kind === 'not_sent'
          ? `${cause.reason} (not sent)`
          : cause.reason;
    this.log.warn({ ...context, reason }, `card processor ${what}: outcome unknown`);
    return { kind: 'ambiguous', reason };
  }
}
