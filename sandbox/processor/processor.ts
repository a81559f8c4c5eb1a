import { createHash, createHmac, randomBytes, randomInt, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { SandboxConfig } from '../config.js';
import {
  PROCESSOR_CURRENCIES,
  PROCESSOR_OTP,
  PROCESSOR_OTP_TRIES,
  amountScenario,
  brandOf,
  cardScenario,
  currencyByNumeric,
  eciOf,
  luhnValid,
  type AmountScenario,
  type Brand,
  type TransStatus,
} from './scenarios.js';

/**
 * The card processor's records and rules (docs/card-processor.md): tokens, 3-D Secure 2
 * authentications with their challenges and RReqs, payments, captures, voids, refunds. Written
 * from that document alone, not from the adapter. Card numbers and security codes stay in the
 * token records, in memory: no answer, page, record view or log line carries them.
 */

const processorEnv = z.object({
  SANDBOX_PROCESSOR_API_KEY: z.string().min(1).default('sandbox-processor-key'),
  /** Keys the RReq's X-Processor-Signature. */
  SANDBOX_PROCESSOR_WEBHOOK_SECRET: z.string().min(1).default('sandbox-processor-webhook-secret'),
  /** Test amount 8006: how long the authorisation takes to answer. */
  SANDBOX_PROCESSOR_SLOW_MS: z.coerce.number().int().min(0).default(20_000),
  /** A token's lifetime (30 minutes). */
  SANDBOX_PROCESSOR_TOKEN_TTL_SECONDS: z.coerce.number().positive().default(1800),
  /** The RReq's retry backoff: this, then twice, then four times this. */
  SANDBOX_PROCESSOR_RREQ_RETRY_MS: z.coerce.number().int().min(0).default(500),
});
export type ProcessorSettings = z.infer<typeof processorEnv>;

export function loadProcessorSettings(env: Record<string, string>): ProcessorSettings {
  const parsed = processorEnv.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  - ${i.path.join('.')}: ${i.message}`);
    throw new Error(`Invalid card processor sandbox configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

/** An error answer of the /v1 routes: `{error: {code, message, field?}}` with its HTTP status. */
export class ProcessorError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }

  body(): { error: { code: string; message: string; field?: string } } {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.field !== undefined ? { field: this.field } : {}),
      },
    };
  }
}

export interface ProcessorToken {
  id: string;
  brand: Brand;
  last4: string;
  /** In memory only: never answered, logged or shown by a control route. */
  number: string;
  expiryMonth: string;
  expiryYear: string;
  /** In memory only, like the number. */
  securityCode: string;
  createdAt: string;
  expiresAt: string;
  /** The one authentication made with it. */
  threeDSServerTransID?: string;
  /** The one payment made with it. */
  paymentId?: string;
}

/** The AReq's fields as received (validated by the router). */
export interface AuthenticationRequest {
  threeDSServerTransID: string;
  messageVersion: string;
  deviceChannel: string;
  messageCategory: string;
  threeDSCompInd: string;
  threeDSRequestorAuthenticationInd: string;
  paymentMethod: { token: string };
  purchaseAmount: string;
  purchaseCurrency: string;
  purchaseExponent: string;
  purchaseDate: string;
  merchantName: string;
  mcc: string;
  acquirerMerchantID: string;
  notificationURL: string;
  threeDSServerURL: string;
  browserAcceptHeader: string;
  browserUserAgent: string;
  browserLanguage: string;
  browserIP?: string;
}

export type AuthenticationStage = 'frictionless' | 'challenge_pending' | 'challenge_completed';

export interface RreqDelivery {
  at: string;
  attempt: number;
  httpStatus: number | null;
  /** Why the attempt counts as failed (network error, or not a 200 RRes with resultsStatus 01). */
  error?: string;
}

export interface ProcessorAuthentication {
  threeDSServerTransID: string;
  acsTransID: string;
  dsTransID: string;
  messageVersion: string;
  token: string;
  brand: Brand;
  last4: string;
  request: AuthenticationRequest;
  /** Of the request body, for idempotency (same ID + same body = same answer). */
  fingerprint: string;
  /** The ARes as first answered (a replay answers it again). */
  ares: Record<string, string>;
  transStatus: TransStatus;
  transStatusReason?: string;
  eci?: string;
  authenticationValue?: string;
  challengeCancel?: string;
  stage: AuthenticationStage;
  challenge?: {
    creqReceived: boolean;
    challengeWindowSize?: string;
    threeDSSessionData?: string;
    /** Codes submitted (wrong and right); its two-digit form is EMV's interactionCounter. */
    interactionCounter: number;
    wrongCodes: number;
    /** The CRes, base64url, once the challenge has ended. */
    cres?: string;
  };
  rreq?: {
    body: Record<string, string>;
    deliveries: RreqDelivery[];
    outcome: 'pending' | 'acknowledged' | 'failed';
  };
  createdAt: string;
  completedAt?: string;
}

export type PaymentStatus = 'authorised' | 'declined' | 'captured' | 'voided';

export interface ProcessorCapture {
  id: string;
  paymentId: string;
  amount: number;
  currency: string;
  status: 'succeeded' | 'declined';
  declineReason?: string;
  createdAt: string;
}

export interface ProcessorVoid {
  id: string;
  paymentId: string;
  status: 'succeeded';
  createdAt: string;
}

export interface ProcessorRefund {
  id: string;
  paymentId: string;
  reference: string;
  amount: number;
  currency: string;
  status: 'succeeded' | 'declined';
  declineReason?: string;
  createdAt: string;
}

export interface ProcessorPayment {
  id: string;
  reference: string;
  amount: number;
  currency: string;
  token: string;
  brand: Brand;
  last4: string;
  threeDSServerTransID: string;
  status: PaymentStatus;
  responseCode: string;
  approvalCode?: string;
  declineReason?: string;
  capturedAmount: number;
  refundedAmount: number;
  captures: ProcessorCapture[];
  refunds: ProcessorRefund[];
  voidId?: string;
  scenario?: AmountScenario;
  createdAt: string;
}

export interface PaymentRequest {
  reference: string;
  amount: number;
  currency: string;
  paymentMethod: { token: string };
  authentication: {
    threeDSServerTransID: string;
    dsTransID: string;
    transStatus: string;
    eci?: string;
    authenticationValue?: string;
    messageVersion: string;
  };
}

/** What an idempotency key (scoped to its route) remembers: the body's fingerprint and the answer. */
interface IdempotencyRecord {
  fingerprint: string;
  status: number;
  body: unknown;
}

/** What the payer's browser gets from the ACS: the challenge page again, or the CRes for the merchant. */
export type ChallengeStep =
  | { kind: 'page'; auth: ProcessorAuthentication; error?: 'wrong_code' | 'empty_code' }
  | { kind: 'final'; auth: ProcessorAuthentication };

const isoNow = () => new Date().toISOString();
const newId = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const APPROVAL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** JSON with every object's keys sorted: the same value, the same text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function fingerprintOf(body: unknown): string {
  return createHash('sha256')
    .update(canonicalJson(body ?? {}))
    .digest('hex');
}

export class ProcessorSandbox {
  readonly settings: ProcessorSettings;
  readonly tokens = new Map<string, ProcessorToken>();
  /** By threeDSServerTransID. */
  readonly authentications = new Map<string, ProcessorAuthentication>();
  readonly payments = new Map<string, ProcessorPayment>();
  readonly captures = new Map<string, ProcessorCapture>();
  readonly voids = new Map<string, ProcessorVoid>();
  readonly refunds = new Map<string, ProcessorRefund>();
  /** Idempotency-Key records, by `<METHOD> <path> <key>`. */
  readonly idempotency = new Map<string, IdempotencyRecord>();
  /** Requests answered, by `<METHOD> <route>`, with their HTTP statuses. */
  readonly stats = new Map<string, { count: number; statuses: Record<string, number> }>();
  readonly rreqStats = { sent: 0, acknowledged: 0, failed: 0 };
  private readonly byAcsTransID = new Map<string, string>();
  /** Bumped by reset(): RReqs still retrying for forgotten authentications stop. */
  private generation = 0;

  constructor(
    readonly config: SandboxConfig,
    private readonly logger: Logger,
  ) {
    this.settings = loadProcessorSettings(config.env);
  }

  /** Where the ACS's challenge starts (the ARes's acsURL). */
  get acsUrl(): string {
    return `${this.config.SANDBOX_PUBLIC_URL}/processor/acs/challenge`;
  }

  reset(): void {
    this.generation++;
    for (const map of [
      this.tokens,
      this.authentications,
      this.payments,
      this.captures,
      this.voids,
      this.refunds,
      this.idempotency,
      this.stats,
      this.byAcsTransID,
    ])
      map.clear();
    Object.assign(this.rreqStats, { sent: 0, acknowledged: 0, failed: 0 });
    this.logger.info('processor sandbox reset');
  }

  count(route: string, status: number): void {
    const entry = this.stats.get(route) ?? { count: 0, statuses: {} };
    entry.count++;
    entry.statuses[String(status)] = (entry.statuses[String(status)] ?? 0) + 1;
    this.stats.set(route, entry);
  }

  // ------------------------------------------------------------------ idempotency

  /** The remembered answer for this key and body; `conflict` for another body; undefined if new. */
  replay(scope: string, fingerprint: string): IdempotencyRecord | undefined {
    const record = this.idempotency.get(scope);
    if (!record) return undefined;
    if (record.fingerprint !== fingerprint)
      throw new ProcessorError(
        409,
        'conflict',
        'this Idempotency-Key was used with another body',
        'Idempotency-Key',
      );
    return record;
  }

  remember(scope: string, fingerprint: string, status: number, body: unknown): void {
    this.idempotency.set(scope, { fingerprint, status, body: structuredClone(body) });
  }

  // ------------------------------------------------------------------ tokens

  createToken(card: {
    number: string;
    expiryMonth: string;
    expiryYear: string;
    securityCode: string;
  }): ProcessorToken {
    if (!luhnValid(card.number))
      throw new ProcessorError(400, 'invalid_card', 'the card number fails the Luhn check', 'card.number');
    const brand = brandOf(card.number);
    if (!brand)
      throw new ProcessorError(
        400,
        'card_not_supported',
        'only Visa and Mastercard cards are supported',
        'card.number',
      );
    const now = Date.now();
    const token: ProcessorToken = {
      id: newId('tok'),
      brand,
      last4: card.number.slice(-4),
      number: card.number,
      expiryMonth: card.expiryMonth,
      expiryYear: card.expiryYear,
      securityCode: card.securityCode,
      createdAt: new Date(now).toISOString(),
      expiresAt: new Date(now + this.settings.SANDBOX_PROCESSOR_TOKEN_TTL_SECONDS * 1000).toISOString(),
    };
    this.tokens.set(token.id, token);
    this.logger.info({ brand, last4: token.last4 }, 'processor sandbox token created');
    return token;
  }

  /** A token the body names, live: 404 unknown, 410 expired. */
  private liveToken(id: string): ProcessorToken {
    const token = this.tokens.get(id);
    if (!token) throw new ProcessorError(404, 'not_found', 'no such token', 'paymentMethod.token');
    if (Date.parse(token.expiresAt) <= Date.now())
      throw new ProcessorError(410, 'token_expired', 'the token has expired', 'paymentMethod.token');
    return token;
  }

  // ------------------------------------------------------------------ authentications (AReq/ARes)

  /** A new authentication (the caller has checked that its threeDSServerTransID is new). */
  authenticate(request: AuthenticationRequest, fingerprint: string): ProcessorAuthentication {
    const token = this.liveToken(request.paymentMethod.token);
    if (token.threeDSServerTransID !== undefined)
      throw new ProcessorError(
        409,
        'token_used',
        'the token already has an authentication',
        'paymentMethod.token',
      );
    const scenario = cardScenario(token.number);
    const auth: ProcessorAuthentication = {
      threeDSServerTransID: request.threeDSServerTransID,
      acsTransID: randomUUID(),
      dsTransID: randomUUID(),
      messageVersion: request.messageVersion,
      token: token.id,
      brand: token.brand,
      last4: token.last4,
      request,
      fingerprint,
      ares: {},
      transStatus: scenario.transStatus,
      ...(scenario.transStatusReason !== undefined ? { transStatusReason: scenario.transStatusReason } : {}),
      stage: scenario.transStatus === 'C' ? 'challenge_pending' : 'frictionless',
      createdAt: isoNow(),
    };
    if (scenario.transStatus === 'Y' || scenario.transStatus === 'A') {
      auth.eci = eciOf(token.brand, scenario.transStatus);
      auth.authenticationValue = randomBytes(20).toString('base64');
    }
    if (scenario.transStatus === 'C')
      auth.challenge = { creqReceived: false, interactionCounter: 0, wrongCodes: 0 };
    auth.ares = {
      messageType: 'ARes',
      messageVersion: auth.messageVersion,
      threeDSServerTransID: auth.threeDSServerTransID,
      acsTransID: auth.acsTransID,
      dsTransID: auth.dsTransID,
      transStatus: auth.transStatus,
      ...(auth.transStatusReason !== undefined ? { transStatusReason: auth.transStatusReason } : {}),
      ...(auth.eci !== undefined ? { eci: auth.eci } : {}),
      ...(auth.authenticationValue !== undefined ? { authenticationValue: auth.authenticationValue } : {}),
      ...(auth.transStatus === 'C' ? { acsURL: this.acsUrl, acsChallengeMandated: 'Y' } : {}),
    };
    token.threeDSServerTransID = auth.threeDSServerTransID;
    this.authentications.set(auth.threeDSServerTransID, auth);
    this.byAcsTransID.set(auth.acsTransID, auth.threeDSServerTransID);
    this.logger.info(
      {
        threeDSServerTransID: auth.threeDSServerTransID,
        brand: token.brand,
        last4: token.last4,
        transStatus: auth.transStatus,
      },
      'processor sandbox authentication',
    );
    return auth;
  }

  /** What `GET /v1/authentications/{id}` answers. */
  authenticationView(auth: ProcessorAuthentication): Record<string, string> {
    return {
      threeDSServerTransID: auth.threeDSServerTransID,
      acsTransID: auth.acsTransID,
      dsTransID: auth.dsTransID,
      messageVersion: auth.messageVersion,
      transStatus: auth.transStatus,
      ...this.outcomeFields(auth),
      stage: auth.stage,
    };
  }

  /** transStatusReason, eci, authenticationValue, challengeCancel, interactionCounter: those that apply. */
  private outcomeFields(auth: ProcessorAuthentication): Record<string, string> {
    return {
      ...(auth.transStatusReason !== undefined ? { transStatusReason: auth.transStatusReason } : {}),
      ...(auth.eci !== undefined ? { eci: auth.eci } : {}),
      ...(auth.authenticationValue !== undefined ? { authenticationValue: auth.authenticationValue } : {}),
      ...(auth.challengeCancel !== undefined ? { challengeCancel: auth.challengeCancel } : {}),
      ...(auth.stage === 'challenge_completed' && auth.challenge
        ? { interactionCounter: String(auth.challenge.interactionCounter).padStart(2, '0') }
        : {}),
    };
  }

  // ------------------------------------------------------------------ the challenge (CReq/CRes, RReq)

  /** The browser's POST of the CReq to acsURL. A string: why it is refused (400 page). */
  receiveCreq(creq: string, threeDSSessionData: string | undefined): ChallengeStep | string {
    let message: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(Buffer.from(creq.replace(/=+$/, ''), 'base64url').toString('utf8'));
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
        throw new Error('not an object');
      message = parsed as Record<string, unknown>;
    } catch {
      return 'creq is not base64url-encoded JSON';
    }
    if (message.messageType !== 'CReq') return 'messageType is not CReq';
    if (threeDSSessionData !== undefined && threeDSSessionData.length > 1024)
      return 'threeDSSessionData is longer than 1024 characters';
    const id = typeof message.threeDSServerTransID === 'string' ? message.threeDSServerTransID : '';
    const auth = this.authentications.get(id);
    if (!auth?.challenge || auth.acsTransID !== message.acsTransID)
      return 'no challenge for this threeDSServerTransID and acsTransID';
    if (message.messageVersion !== auth.messageVersion) return 'messageVersion differs from the AReq';
    const size = message.challengeWindowSize;
    if (typeof size !== 'string' || !/^0[1-5]$/.test(size)) return 'challengeWindowSize is not 01 to 05';
    if (auth.stage === 'challenge_completed') return { kind: 'final', auth };
    auth.challenge.creqReceived = true;
    auth.challenge.challengeWindowSize = size;
    if (threeDSSessionData !== undefined) auth.challenge.threeDSSessionData = threeDSSessionData;
    this.logger.info({ threeDSServerTransID: auth.threeDSServerTransID }, 'processor sandbox CReq received');
    return { kind: 'page', auth };
  }

  /** The challenge page's form: a code (`submit`) or `cancel`. Undefined: no such challenge. */
  submitChallenge(acsTransID: string, action: string, otp: string): ChallengeStep | undefined {
    const id = this.byAcsTransID.get(acsTransID);
    const auth = id !== undefined ? this.authentications.get(id) : undefined;
    if (!auth?.challenge || !auth.challenge.creqReceived) return undefined;
    if (auth.stage === 'challenge_completed') return { kind: 'final', auth };
    const challenge = auth.challenge;
    if (action === 'cancel') {
      this.endChallenge(auth, { transStatus: 'N', challengeCancel: '01' });
      return { kind: 'final', auth };
    }
    const code = otp.trim();
    if (!code) return { kind: 'page', auth, error: 'empty_code' };
    challenge.interactionCounter++;
    if (code === PROCESSOR_OTP) {
      this.endChallenge(auth, { transStatus: 'Y' });
      return { kind: 'final', auth };
    }
    challenge.wrongCodes++;
    this.logger.info(
      { threeDSServerTransID: auth.threeDSServerTransID, wrongCodes: challenge.wrongCodes },
      'processor sandbox challenge: wrong code',
    );
    if (challenge.wrongCodes >= PROCESSOR_OTP_TRIES) {
      this.endChallenge(auth, { transStatus: 'N', transStatusReason: '01' });
      return { kind: 'final', auth };
    }
    return { kind: 'page', auth, error: 'wrong_code' };
  }

  /** Control route: the ACS's timeout ends a pending challenge (N, 05 before the CReq, 04 after). */
  timeoutChallenge(threeDSServerTransID: string): ProcessorAuthentication | 'unknown' | 'not_pending' {
    const auth = this.authentications.get(threeDSServerTransID);
    if (!auth) return 'unknown';
    if (auth.stage !== 'challenge_pending' || !auth.challenge) return 'not_pending';
    this.endChallenge(auth, {
      transStatus: 'N',
      transStatusReason: '14',
      challengeCancel: auth.challenge.creqReceived ? '04' : '05',
    });
    return auth;
  }

  private endChallenge(
    auth: ProcessorAuthentication,
    outcome: { transStatus: 'Y' | 'N'; transStatusReason?: string; challengeCancel?: string },
  ): void {
    auth.transStatus = outcome.transStatus;
    delete auth.transStatusReason;
    delete auth.challengeCancel;
    if (outcome.transStatusReason !== undefined) auth.transStatusReason = outcome.transStatusReason;
    if (outcome.challengeCancel !== undefined) auth.challengeCancel = outcome.challengeCancel;
    if (outcome.transStatus === 'Y') {
      auth.eci = eciOf(auth.brand, 'Y');
      auth.authenticationValue = randomBytes(20).toString('base64');
    }
    auth.stage = 'challenge_completed';
    auth.completedAt = isoNow();
    auth.challenge!.cres = Buffer.from(
      JSON.stringify({
        threeDSServerTransID: auth.threeDSServerTransID,
        acsTransID: auth.acsTransID,
        messageType: 'CRes',
        messageVersion: auth.messageVersion,
        transStatus: auth.transStatus,
        challengeCompletionInd: 'Y',
      }),
    ).toString('base64url');
    this.logger.info(
      {
        threeDSServerTransID: auth.threeDSServerTransID,
        transStatus: auth.transStatus,
        transStatusReason: auth.transStatusReason,
        challengeCancel: auth.challengeCancel,
      },
      'processor sandbox challenge ended',
    );
    void this.sendRreq(auth);
  }

  /** The RReq to threeDSServerURL, signed; sent again (3 times, backoff) until answered 200 RRes 01. */
  private async sendRreq(auth: ProcessorAuthentication): Promise<void> {
    const generation = this.generation;
    const body: Record<string, string> = {
      messageType: 'RReq',
      messageVersion: auth.messageVersion,
      threeDSServerTransID: auth.threeDSServerTransID,
      acsTransID: auth.acsTransID,
      dsTransID: auth.dsTransID,
      transStatus: auth.transStatus,
      ...this.outcomeFields(auth),
    };
    const rreq: NonNullable<ProcessorAuthentication['rreq']> = { body, deliveries: [], outcome: 'pending' };
    auth.rreq = rreq;
    const raw = JSON.stringify(body);
    const retries = 3;
    for (let attempt = 1; attempt <= 1 + retries; attempt++) {
      if (generation !== this.generation) return;
      const delivery: RreqDelivery = { at: isoNow(), attempt, httpStatus: null };
      rreq.deliveries.push(delivery);
      this.rreqStats.sent++;
      const t = Math.floor(Date.now() / 1000);
      const signature = createHmac('sha256', this.settings.SANDBOX_PROCESSOR_WEBHOOK_SECRET)
        .update(`${t}.${raw}`)
        .digest('hex');
      try {
        const res = await fetch(auth.request.threeDSServerURL, {
          method: 'POST',
          headers: {
            'Content-Type': 'application/json',
            'User-Agent': 'Processor-Sandbox/1.0',
            'X-Processor-Signature': `t=${t},v1=${signature}`,
          },
          body: raw,
          signal: AbortSignal.timeout(10_000),
        });
        delivery.httpStatus = res.status;
        const text = await res.text();
        let answer: unknown;
        try {
          answer = JSON.parse(text);
        } catch {
          answer = undefined;
        }
        const rres = answer as { messageType?: unknown; resultsStatus?: unknown } | undefined;
        if (res.status === 200 && rres?.messageType === 'RRes' && rres.resultsStatus === '01') {
          if (generation !== this.generation) return;
          rreq.outcome = 'acknowledged';
          this.rreqStats.acknowledged++;
          this.logger.info(
            { threeDSServerTransID: auth.threeDSServerTransID, attempt },
            'processor RReq acknowledged',
          );
          return;
        }
        delivery.error =
          res.status === 200 ? 'the answer is not an RRes with resultsStatus 01' : `HTTP ${res.status}`;
      } catch (err) {
        delivery.error = err instanceof Error ? err.message : String(err);
      }
      this.logger.warn(
        { threeDSServerTransID: auth.threeDSServerTransID, attempt, httpStatus: delivery.httpStatus },
        'processor RReq not acknowledged',
      );
      if (attempt <= retries) await sleep(this.settings.SANDBOX_PROCESSOR_RREQ_RETRY_MS * 2 ** (attempt - 1));
    }
    if (generation !== this.generation) return;
    rreq.outcome = 'failed';
    this.rreqStats.failed++;
  }

  // ------------------------------------------------------------------ payments

  /** The authorisation: authentication checks, then the issuer (expiry, test amounts). */
  createPayment(request: PaymentRequest): ProcessorPayment {
    const token = this.liveToken(request.paymentMethod.token);
    if (token.paymentId !== undefined)
      throw new ProcessorError(409, 'token_used', 'the token already has a payment', 'paymentMethod.token');
    const scenario = amountScenario(request.amount);
    const payment: ProcessorPayment = {
      id: newId('pay'),
      reference: request.reference,
      amount: request.amount,
      currency: request.currency,
      token: token.id,
      brand: token.brand,
      last4: token.last4,
      threeDSServerTransID: request.authentication.threeDSServerTransID,
      status: 'authorised',
      responseCode: '00',
      capturedAmount: 0,
      refundedAmount: 0,
      captures: [],
      refunds: [],
      ...(scenario ? { scenario } : {}),
      createdAt: isoNow(),
    };
    const decline =
      (this.authenticationHolds(token, request)
        ? undefined
        : { responseCode: '05', declineReason: 'authentication_invalid' }) ??
      (expired(token) ? { responseCode: '54', declineReason: 'expired_card' } : undefined) ??
      scenario?.decline;
    if (decline) {
      payment.status = 'declined';
      payment.responseCode = decline.responseCode;
      payment.declineReason = decline.declineReason;
    } else {
      payment.approvalCode = Array.from(
        { length: 6 },
        () => APPROVAL_ALPHABET[randomInt(APPROVAL_ALPHABET.length)],
      ).join('');
    }
    token.paymentId = payment.id;
    this.payments.set(payment.id, payment);
    this.logger.info(
      {
        payment: payment.id,
        brand: token.brand,
        last4: token.last4,
        amount: payment.amount,
        currency: payment.currency,
        status: payment.status,
        responseCode: payment.responseCode,
        declineReason: payment.declineReason,
      },
      'processor sandbox authorisation',
    );
    return payment;
  }

  /** Is the authentication sent the one issued for this token, Y or A, for this amount and currency? */
  private authenticationHolds(token: ProcessorToken, request: PaymentRequest): boolean {
    const auth =
      token.threeDSServerTransID !== undefined
        ? this.authentications.get(token.threeDSServerTransID)
        : undefined;
    const sent = request.authentication;
    if (!auth) return false;
    const currency = currencyByNumeric(auth.request.purchaseCurrency);
    return (
      auth.threeDSServerTransID === sent.threeDSServerTransID &&
      auth.dsTransID === sent.dsTransID &&
      auth.messageVersion === sent.messageVersion &&
      (auth.transStatus === 'Y' || auth.transStatus === 'A') &&
      auth.transStatus === sent.transStatus &&
      auth.eci !== undefined &&
      auth.eci === sent.eci &&
      auth.authenticationValue !== undefined &&
      auth.authenticationValue === sent.authenticationValue &&
      auth.request.purchaseAmount === String(request.amount) &&
      currency?.alpha === request.currency
    );
  }

  payment(id: string): ProcessorPayment {
    const payment = this.payments.get(id);
    if (!payment) throw new ProcessorError(404, 'not_found', 'no such payment');
    return payment;
  }

  paymentView(p: ProcessorPayment): Record<string, unknown> {
    return {
      id: p.id,
      reference: p.reference,
      status: p.status,
      responseCode: p.responseCode,
      ...(p.approvalCode !== undefined ? { approvalCode: p.approvalCode } : {}),
      ...(p.declineReason !== undefined ? { declineReason: p.declineReason } : {}),
      amount: p.amount,
      currency: p.currency,
      capturedAmount: p.capturedAmount,
      refundedAmount: p.refundedAmount,
      brand: p.brand,
      last4: p.last4,
      threeDSServerTransID: p.threeDSServerTransID,
      createdAt: p.createdAt,
      captures: p.captures.map((c) => ({ ...c })),
      refunds: p.refunds.map((r) => ({ ...r })),
    };
  }

  private notWhile(payment: ProcessorPayment, ...statuses: PaymentStatus[]): void {
    if (!statuses.includes(payment.status)) return;
    const [code, message] = {
      declined: ['payment_declined', 'the payment was declined'],
      voided: ['payment_voided', 'the payment is voided'],
      captured: ['payment_captured', 'the payment is captured'],
      authorised: ['payment_not_captured', 'the payment is not captured'],
    }[payment.status];
    throw new ProcessorError(409, code!, message!);
  }

  capture(paymentId: string, amount: number): ProcessorCapture {
    const payment = this.payment(paymentId);
    this.notWhile(payment, 'declined', 'voided', 'captured');
    if (amount > payment.amount)
      throw new ProcessorError(400, 'invalid_request', 'amount is above the authorised amount', 'amount');
    const declined = payment.scenario?.captureDeclined === true;
    const capture: ProcessorCapture = {
      id: newId('cap'),
      paymentId: payment.id,
      amount,
      currency: payment.currency,
      status: declined ? 'declined' : 'succeeded',
      ...(declined ? { declineReason: 'capture_declined' } : {}),
      createdAt: isoNow(),
    };
    payment.captures.push(capture);
    this.captures.set(capture.id, capture);
    if (!declined) {
      payment.status = 'captured';
      payment.capturedAmount = amount;
    }
    this.logger.info(
      { payment: payment.id, capture: capture.id, amount, status: capture.status },
      'processor capture',
    );
    return capture;
  }

  void(paymentId: string): ProcessorVoid {
    const payment = this.payment(paymentId);
    this.notWhile(payment, 'declined', 'voided', 'captured');
    const record: ProcessorVoid = {
      id: newId('void'),
      paymentId: payment.id,
      status: 'succeeded',
      createdAt: isoNow(),
    };
    payment.status = 'voided';
    payment.voidId = record.id;
    this.voids.set(record.id, record);
    this.logger.info({ payment: payment.id, void: record.id }, 'processor void');
    return record;
  }

  refund(paymentId: string, amount: number, reference: string): ProcessorRefund {
    const payment = this.payment(paymentId);
    this.notWhile(payment, 'declined', 'voided', 'authorised');
    if (payment.refundedAmount + amount > payment.capturedAmount)
      throw new ProcessorError(
        400,
        'invalid_request',
        `amount is above what is left to refund (${payment.capturedAmount - payment.refundedAmount})`,
        'amount',
      );
    const declined = payment.scenario?.refundDeclined === true;
    const refund: ProcessorRefund = {
      id: newId('ref'),
      paymentId: payment.id,
      reference,
      amount,
      currency: payment.currency,
      status: declined ? 'declined' : 'succeeded',
      ...(declined ? { declineReason: 'refund_declined' } : {}),
      createdAt: isoNow(),
    };
    payment.refunds.push(refund);
    this.refunds.set(refund.id, refund);
    if (!declined) payment.refundedAmount += amount;
    this.logger.info(
      { payment: payment.id, refund: refund.id, amount, status: refund.status },
      'processor refund',
    );
    return refund;
  }
}

/** An expiry before the current month (UTC). */
function expired(token: ProcessorToken): boolean {
  const now = new Date();
  const current = now.getUTCFullYear() * 12 + now.getUTCMonth();
  return Number(token.expiryYear) * 12 + (Number(token.expiryMonth) - 1) < current;
}

/** The supported alpha currencies (payments' `currency`). */
export const SUPPORTED_CURRENCIES = Object.keys(PROCESSOR_CURRENCIES);
