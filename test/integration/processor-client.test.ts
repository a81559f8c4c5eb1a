import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../lib/logger.js';
import {
  CardProcessorClient,
  type AuthenticateRequest,
  type AuthoriseRequest,
} from '../../operators/processor/client.js';
import type { Ares, ProcessorCurrency } from '../../operators/processor/protocol.js';
import {
  decodeCres,
  encodeCreq,
  parseRreq,
  verifyResultsSignature,
} from '../../operators/processor/three-ds.js';
import { loadSandboxConfig } from '../../sandbox/config.js';
import { processorSandbox } from '../../sandbox/processor/router.js';

/**
 * The card processor client (operators/processor/) against the processor simulator
 * (sandbox/processor/), both written from docs/card-processor.md apart: tokens, 3-D Secure 2
 * (frictionless, challenge through a browser's form posts, the signed RReq), authorisations and
 * their test amounts, captures, voids, refunds, idempotent replays. The simulator runs in this
 * process; no Passerelle stack.
 */

const API_KEY = 'sandbox-processor-key';
/** The simulator's default webhook secret (docs/card-processor.md, section 3). */
const WEBHOOK_SECRET = 'sandbox-processor-webhook-secret';
const SLOW_MS = 1500;
const EXPIRY_YEAR = String(new Date().getUTCFullYear() + 4);

let server: http.Server;
let rreqServer: http.Server;
let baseUrl: string;
let rreqUrl: string;
let client: CardProcessorClient;
/** Every log line the client wrote: checked for card data at the end. */
const logLines: string[] = [];
/** What must never appear in a log line. */
const secrets = new Set<string>();

interface ReceivedRreq {
  raw: string;
  signature: string | undefined;
  receivedAt: number;
  answered: number;
}
const rreqs: ReceivedRreq[] = [];
/** threeDSServerTransIDs whose first RReq is answered 500 (the processor must send it again). */
const failFirstRreq = new Set<string>();

function listen(s: http.Server): Promise<string> {
  return new Promise((resolve) =>
    s.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(s.address() as AddressInfo).port}`)),
  );
}

async function until<T>(what: string, probe: () => T | undefined, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

beforeAll(async () => {
  // The RReq receiver (our threeDSServerURL): keeps the raw body and header, answers the RRes.
  rreqServer = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const id = (JSON.parse(raw) as { threeDSServerTransID?: string }).threeDSServerTransID ?? '';
      const fail = failFirstRreq.delete(id);
      const header = req.headers['x-processor-signature'];
      rreqs.push({
        raw,
        signature: Array.isArray(header) ? header[0] : header,
        receivedAt: Date.now(),
        answered: fail ? 500 : 200,
      });
      if (fail) return void res.writeHead(500).end();
      res
        .writeHead(200, { 'Content-Type': 'application/json' })
        .end(JSON.stringify({ messageType: 'RRes', resultsStatus: '01' }));
    });
  });
  rreqUrl = `${await listen(rreqServer)}/v1/callbacks/processor/rreq`;

  // The simulator's acsURL is built from its public URL: listen first, then mount it.
  const app = express();
  server = http.createServer((req, res) => {
    app(req, res);
  });
  const origin = await listen(server);
  const simulator = processorSandbox(
    loadSandboxConfig({
      SANDBOX_PUBLIC_URL: origin,
      SANDBOX_PROCESSOR_SLOW_MS: String(SLOW_MS),
      SANDBOX_PROCESSOR_RREQ_RETRY_MS: '50',
      LOG_LEVEL: 'silent',
    }),
    createLogger({ level: 'silent' }),
  );
  app.use('/processor', simulator.router);
  baseUrl = `${origin}/processor`;
  client = clientWith({});
});

afterAll(async () => {
  for (const s of [server, rreqServer]) s?.closeAllConnections();
  await Promise.all(
    [server, rreqServer].map((s) => new Promise((r) => (s ? s.close(() => r(undefined)) : r(undefined)))),
  );
});

function clientWith(options: { timeoutMs?: number; apiKey?: string; baseUrl?: string }): CardProcessorClient {
  return new CardProcessorClient({
    baseUrl: options.baseUrl ?? baseUrl,
    apiKey: options.apiKey ?? API_KEY,
    timeoutMs: options.timeoutMs ?? 5000,
    logger: createLogger({
      level: 'debug',
      destination: { write: (line: string) => void logLines.push(line) },
    }),
  });
}

function areq(
  token: string,
  amount: number,
  currency: ProcessorCurrency = 'XOF',
  threeDSServerTransID = randomUUID(),
): AuthenticateRequest {
  return {
    threeDSServerTransID,
    token,
    amount,
    currency,
    merchantName: 'Boutique Exemple',
    mcc: '5411',
    acquirerMerchantID: 'PASSERELLE-0001',
    notificationURL: 'https://pay.example.com/v1/callbacks/processor/cres',
    threeDSServerURL: rreqUrl,
    browser: {
      acceptHeader: 'text/html,application/xhtml+xml',
      userAgent: 'Mozilla/5.0 (Linux; Android 14)',
      language: 'fr-FR',
      ip: '196.28.245.10',
    },
    purchaseDate: new Date('2025-01-31T10:15:00.000Z'),
  };
}

async function tokenise(number: string): Promise<string> {
  secrets.add(number);
  const outcome = await client.tokenise({
    number,
    expiryMonth: '12',
    expiryYear: EXPIRY_YEAR,
    securityCode: '987',
  });
  if (outcome.kind !== 'token') throw new Error(`tokenise ${outcome.kind}`);
  expect(outcome.last4).toBe(number.slice(-4));
  secrets.add(outcome.token);
  return outcome.token;
}

/** A token and its ARes for this card and amount. */
async function authenticated(
  number: string,
  amount: number,
  currency: ProcessorCurrency = 'XOF',
): Promise<{ token: string; request: AuthenticateRequest; ares: Ares }> {
  const token = await tokenise(number);
  const request = areq(token, amount, currency);
  const outcome = await client.authenticate(request);
  if (outcome.kind !== 'ares') throw new Error(`authenticate ${outcome.kind}`);
  if ('authenticationValue' in outcome.ares) secrets.add(outcome.ares.authenticationValue);
  return { token, request, ares: outcome.ares };
}

function payment(
  token: string,
  amount: number,
  ares: {
    threeDSServerTransID: string;
    dsTransID: string;
    messageVersion: string;
    transStatus: AuthoriseRequest['authentication']['transStatus'];
    eci?: string;
    authenticationValue?: string;
  },
  currency: ProcessorCurrency = 'XOF',
): AuthoriseRequest {
  return {
    idempotencyKey: `pay-${randomUUID()}`,
    reference: `pi_${randomUUID().slice(0, 12)}`,
    amount,
    currency,
    token,
    authentication: {
      threeDSServerTransID: ares.threeDSServerTransID,
      dsTransID: ares.dsTransID,
      transStatus: ares.transStatus,
      ...(ares.eci !== undefined ? { eci: ares.eci } : {}),
      ...(ares.authenticationValue !== undefined ? { authenticationValue: ares.authenticationValue } : {}),
      messageVersion: ares.messageVersion,
    },
  };
}

/** An authorised payment of this amount (Visa, frictionless Y). */
async function authorised(amount: number): Promise<{ id: string; request: AuthoriseRequest }> {
  const { token, ares } = await authenticated('4000000000000101', amount);
  expect(ares.transStatus).toBe('Y');
  const request = payment(token, amount, ares);
  const outcome = await client.authorise(request);
  if (outcome.kind !== 'payment') throw new Error(`authorise ${outcome.kind}`);
  expect(outcome.payment.status).toBe('authorised');
  return { id: outcome.payment.id, request };
}

// ------------------------------------------------------------------ the payer's browser

/** An HTML form post, as a browser sends it. */
async function postForm(
  url: string,
  fields: Record<string, string>,
): Promise<{ status: number; html: string }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
  return { status: res.status, html: await res.text() };
}

const unescape = (s: string) =>
  s
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');

function formAction(html: string, base: string): string {
  const m = /<form[^>]*\baction="([^"]*)"/.exec(html);
  if (!m) throw new Error('no form in the page');
  return new URL(unescape(m[1]!), base).toString();
}

function hiddenField(html: string, name: string): string | undefined {
  const m = new RegExp(`<input[^>]*name="${name}"[^>]*value="([^"]*)"`).exec(html);
  return m ? unescape(m[1]!) : undefined;
}

function rreqFor(id: string, attempt = 1): ReceivedRreq | undefined {
  return rreqs.filter((r) => r.raw.includes(`"${id}"`))[attempt - 1];
}

// ------------------------------------------------------------------ tests

describe('card processor client against the simulator', () => {
  it('frictionless Visa Y: authorise, capture, refund, each replayed by its key', async () => {
    const token = await tokenise('4000000000000101');
    const request = areq(token, 5000);
    const first = await client.authenticate(request);
    expect(first).toMatchObject({
      kind: 'ares',
      ares: { messageType: 'ARes', messageVersion: '2.2.0', transStatus: 'Y', eci: '05' },
    });
    if (first.kind !== 'ares' || first.ares.transStatus !== 'Y') throw new Error('not Y');
    const ares = first.ares;
    secrets.add(ares.authenticationValue);
    expect(ares.authenticationValue).toMatch(/^[A-Za-z0-9+/]{27}=$/);
    expect(ares.dsTransID).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    // The AReq again: the same ARes (200). Another body under the same ID: conflict.
    expect(await client.authenticate(request)).toEqual(first);
    expect(await client.authenticate({ ...request, amount: 5001 })).toMatchObject({
      kind: 'refused',
      code: 'conflict',
      status: 409,
    });
    // Another authentication with the token: it is spent.
    expect(await client.authenticate(areq(token, 5000))).toMatchObject({
      kind: 'refused',
      code: 'token_used',
      status: 409,
    });

    const pay = payment(token, 5000, ares);
    const authorisedOutcome = await client.authorise(pay);
    if (authorisedOutcome.kind !== 'payment') throw new Error(authorisedOutcome.kind);
    const created = authorisedOutcome.payment;
    expect(created).toMatchObject({
      reference: pay.reference,
      status: 'authorised',
      responseCode: '00',
      amount: 5000,
      currency: 'XOF',
      capturedAmount: 0,
      brand: 'visa',
      last4: '0101',
      threeDSServerTransID: ares.threeDSServerTransID,
    });
    expect(created.approvalCode).toMatch(/^[A-Z0-9]{6}$/);
    expect(await client.authorise(pay)).toEqual(authorisedOutcome);
    expect(await client.authorise({ ...pay, amount: 5001 })).toMatchObject({
      kind: 'refused',
      code: 'conflict',
    });
    expect(await client.authorise({ ...pay, idempotencyKey: `pay-${randomUUID()}` })).toMatchObject({
      kind: 'refused',
      code: 'token_used',
    });

    const captureKey = `cap-${randomUUID()}`;
    const captured = await client.capture(created.id, 5000, captureKey);
    expect(captured).toMatchObject({
      kind: 'capture',
      capture: { paymentId: created.id, status: 'succeeded' },
    });
    expect(await client.capture(created.id, 5000, captureKey)).toEqual(captured);
    expect(await client.capture(created.id, 5000, `cap-${randomUUID()}`)).toMatchObject({
      kind: 'refused',
      code: 'payment_captured',
      status: 409,
    });
    expect(await client.void(created.id, `void-${randomUUID()}`)).toMatchObject({
      kind: 'refused',
      code: 'payment_captured',
    });

    const refundKey = `ref-${randomUUID()}`;
    const refundRef = `rf_${randomUUID().slice(0, 12)}`;
    const refunded = await client.refund(created.id, { amount: 2000, reference: refundRef }, refundKey);
    if (refunded.kind !== 'refund') throw new Error(refunded.kind);
    expect(refunded.refund).toMatchObject({ amount: 2000, currency: 'XOF', status: 'succeeded' });
    expect(await client.refund(created.id, { amount: 2000, reference: refundRef }, refundKey)).toEqual(
      refunded,
    );
    expect(
      await client.refund(created.id, { amount: 3001, reference: refundRef }, `ref-${randomUUID()}`),
    ).toMatchObject({ kind: 'refused', code: 'invalid_request', field: 'amount', status: 400 });
    expect(await client.findRefundsByReference(refundRef)).toEqual({
      kind: 'found',
      refunds: [refunded.refund],
    });
    expect(await client.getRefund(refunded.refund.id)).toEqual({ kind: 'found', refund: refunded.refund });

    const now = await client.payment(created.id);
    expect(now).toMatchObject({
      kind: 'found',
      payment: { status: 'captured', capturedAmount: 5000, refundedAmount: 2000 },
    });
    expect(await client.payment('pay_000000000000000000000000')).toEqual({ kind: 'not_found' });
    expect(await client.getRefund('ref_000000000000000000000000')).toEqual({ kind: 'not_found' });
    expect(await client.authentication(randomUUID())).toEqual({ kind: 'not_found' });
    expect(await client.findPaymentsByReference(`pi_none_${randomUUID()}`)).toEqual({
      kind: 'found',
      payments: [],
    });
  });

  it('frictionless Mastercard A (EUR): ECI 01, authorised', async () => {
    const { token, ares } = await authenticated('5200000000000205', 1250, 'EUR');
    expect(ares).toMatchObject({ transStatus: 'A', eci: '01' });
    if (ares.transStatus !== 'A') throw new Error('not A');
    const outcome = await client.authorise(payment(token, 1250, ares, 'EUR'));
    expect(outcome).toMatchObject({
      kind: 'payment',
      payment: { status: 'authorised', brand: 'mastercard', currency: 'EUR', amount: 1250 },
    });
    // A 2-series Mastercard is frictionless Y, ECI 02.
    const other = await authenticated('2223000000000106', 700);
    expect(other.ares).toMatchObject({ transStatus: 'Y', eci: '02' });
  });

  it('challenge: CReq through the browser, a wrong then the right code, the signed RReq, the CRes, then authorised', async () => {
    const { token, request, ares } = await authenticated('4000000000000309', 8000);
    if (ares.transStatus !== 'C') throw new Error(`expected C, got ${ares.transStatus}`);
    expect(ares.acsChallengeMandated).toBe('Y');
    expect(ares).not.toHaveProperty('eci');
    expect(await client.authentication(ares.threeDSServerTransID)).toMatchObject({
      kind: 'found',
      authentication: { transStatus: 'C', stage: 'challenge_pending' },
    });

    // Our checkout's auto-submitted form, as the browser posts it.
    const creq = encodeCreq({
      threeDSServerTransID: ares.threeDSServerTransID,
      acsTransID: ares.acsTransID,
      messageVersion: ares.messageVersion,
      challengeWindowSize: '05',
    });
    const page = await postForm(ares.acsURL, { creq, threeDSSessionData: 'session-42' });
    expect(page.status).toBe(200);
    expect(page.html).toContain('Code de test : 123456');
    expect(page.html).toContain('•••• 0309');
    expect(page.html).toContain('8 000 XOF');
    expect(page.html).not.toContain('4000000000000309');
    const action = formAction(page.html, ares.acsURL);
    expect(new URL(action).pathname).toBe(`/processor/acs/challenge/${ares.acsTransID}`);

    const wrong = await postForm(action, { otp: '000000', action: 'submit' });
    expect(wrong.status).toBe(200);
    expect(wrong.html).toContain('Code incorrect. Il vous reste 2 essais.');
    expect(rreqFor(ares.threeDSServerTransID)).toBeUndefined();

    const done = await postForm(action, { otp: '123456', action: 'submit' });
    expect(done.status).toBe(200);
    expect(formAction(done.html, ares.acsURL)).toBe(request.notificationURL);
    expect(done.html).toMatch(/<script>[^<]*submit\(\)/);
    expect(hiddenField(done.html, 'threeDSSessionData')).toBe('session-42');
    const cres = decodeCres(hiddenField(done.html, 'cres') ?? '');
    expect(cres).toEqual({
      threeDSServerTransID: ares.threeDSServerTransID,
      acsTransID: ares.acsTransID,
      messageType: 'CRes',
      messageVersion: '2.2.0',
      transStatus: 'Y',
      challengeCompletionInd: 'Y',
    });

    // The RReq, signed with the webhook secret.
    const received = await until('the RReq', () => rreqFor(ares.threeDSServerTransID));
    expect(verifyResultsSignature(received.raw, received.signature, WEBHOOK_SECRET, Date.now() / 1000)).toBe(
      true,
    );
    expect(
      verifyResultsSignature(received.raw, received.signature, 'another-secret', Date.now() / 1000),
    ).toBe(false);
    const rreq = parseRreq(received.raw);
    if (rreq?.transStatus !== 'Y') throw new Error('the RReq is not Y');
    secrets.add(rreq.authenticationValue);
    expect(rreq).toMatchObject({ eci: '05', interactionCounter: '02', dsTransID: ares.dsTransID });

    // The truth: GET, with the challenge's eci and authenticationValue (the RReq's).
    const state = await client.authentication(ares.threeDSServerTransID);
    if (state.kind !== 'found' || state.authentication.transStatus !== 'Y') throw new Error('not Y');
    expect(state.authentication).toMatchObject({
      stage: 'challenge_completed',
      eci: rreq.eci,
      authenticationValue: rreq.authenticationValue,
      interactionCounter: '02',
    });
    // The AReq replayed still answers the first ARes (C).
    expect(await client.authenticate(request)).toEqual({ kind: 'ares', ares });
    // The page posted again after the end: the same CRes, no second RReq.
    const again = await postForm(action, { otp: '123456', action: 'submit' });
    expect(hiddenField(again.html, 'cres')).toBe(hiddenField(done.html, 'cres'));

    const outcome = await client.authorise(payment(token, 8000, state.authentication));
    expect(outcome).toMatchObject({ kind: 'payment', payment: { status: 'authorised', responseCode: '00' } });
    expect(rreqs.filter((r) => r.raw.includes(ares.threeDSServerTransID))).toHaveLength(1);
  });

  it('challenge cancelled: N with challengeCancel 01; the RReq is sent again after a 500; the payment is declined', async () => {
    const { token, ares } = await authenticated('5200000000000304', 3000);
    if (ares.transStatus !== 'C') throw new Error('not C');
    failFirstRreq.add(ares.threeDSServerTransID);
    const creq = encodeCreq({ ...ares, challengeWindowSize: '03' });
    const page = await postForm(ares.acsURL, { creq });
    const cancelled = await postForm(formAction(page.html, ares.acsURL), { otp: '', action: 'cancel' });
    expect(hiddenField(cancelled.html, 'threeDSSessionData')).toBeUndefined();
    expect(decodeCres(hiddenField(cancelled.html, 'cres') ?? '')).toMatchObject({ transStatus: 'N' });

    const second = await until('the second RReq', () => rreqFor(ares.threeDSServerTransID, 2));
    const first = rreqFor(ares.threeDSServerTransID, 1)!;
    expect(first.answered).toBe(500);
    expect(second.raw).toBe(first.raw);
    for (const r of [first, second])
      expect(verifyResultsSignature(r.raw, r.signature, WEBHOOK_SECRET, Date.now() / 1000)).toBe(true);
    expect(parseRreq(second.raw)).toMatchObject({
      transStatus: 'N',
      challengeCancel: '01',
      interactionCounter: '00',
    });
    expect(parseRreq(second.raw)).not.toHaveProperty('transStatusReason');

    const state = await client.authentication(ares.threeDSServerTransID);
    if (state.kind !== 'found') throw new Error(state.kind);
    expect(state.authentication).toMatchObject({ transStatus: 'N', challengeCancel: '01' });
    expect(state.authentication).not.toHaveProperty('eci');
    // A payment on an authentication that did not hold exists, declined.
    const outcome = await client.authorise(payment(token, 3000, state.authentication));
    expect(outcome).toMatchObject({
      kind: 'payment',
      payment: { status: 'declined', responseCode: '05', declineReason: 'authentication_invalid' },
    });
    expect(outcome).not.toHaveProperty('payment.approvalCode');
  });

  it('N, R and U cards: no ECI, the EMV reason', async () => {
    for (const [number, transStatus, transStatusReason] of [
      ['4000000000000408', 'N', '01'],
      ['5200000000000403', 'N', '01'],
      ['4000000000000507', 'R', '11'],
      ['5200000000000502', 'R', '11'],
      ['4000000000000606', 'U', '08'],
      ['5200000000000601', 'U', '08'],
    ] as const) {
      const { ares } = await authenticated(number, 5000);
      expect(ares, number).toMatchObject({ transStatus, transStatusReason });
      expect(ares).not.toHaveProperty('eci');
      expect(ares).not.toHaveProperty('authenticationValue');
      expect(await client.authentication(ares.threeDSServerTransID)).toMatchObject({
        kind: 'found',
        authentication: { transStatus, transStatusReason, stage: 'frictionless' },
      });
    }
  });

  it('test amounts 8001 and 8002: declined, and no capture of a declined payment', async () => {
    for (const [amount, responseCode, declineReason] of [
      [8001, '05', 'do_not_honour'],
      [8002, '51', 'insufficient_funds'],
    ] as const) {
      const { token, ares } = await authenticated('4000000000000101', amount);
      if (ares.transStatus !== 'Y') throw new Error('not Y');
      const outcome = await client.authorise(payment(token, amount, ares));
      if (outcome.kind !== 'payment') throw new Error(outcome.kind);
      expect(outcome.payment).toMatchObject({ status: 'declined', responseCode, declineReason });
      expect(await client.capture(outcome.payment.id, amount, `cap-${randomUUID()}`)).toMatchObject({
        kind: 'refused',
        code: 'payment_declined',
        status: 409,
      });
    }
  });

  it('8003: 502 upstream_error is ambiguous; the payment exists, by reference and by replay', async () => {
    const { token, ares } = await authenticated('4000000000000101', 8003);
    if (ares.transStatus !== 'Y') throw new Error('not Y');
    const request = payment(token, 8003, ares);
    const outcome = await client.authorise(request);
    expect(outcome).toEqual({ kind: 'ambiguous', reason: 'HTTP 502 upstream_error' });
    const found = await client.findPaymentsByReference(request.reference);
    if (found.kind !== 'found') throw new Error(found.kind);
    expect(found.payments).toHaveLength(1);
    expect(found.payments[0]).toMatchObject({
      status: 'authorised',
      amount: 8003,
      reference: request.reference,
    });
    expect(await client.authorise(request)).toEqual({ kind: 'payment', payment: found.payments[0] });
  });

  it('8006: a slow answer past our timeout is ambiguous; the payment is found at once', async () => {
    const { token, ares } = await authenticated('4000000000000101', 8006);
    if (ares.transStatus !== 'Y') throw new Error('not Y');
    const request = payment(token, 8006, ares);
    const started = Date.now();
    const outcome = await clientWith({ timeoutMs: 500 }).authorise(request);
    expect(outcome).toMatchObject({
      kind: 'ambiguous',
      reason: expect.stringContaining('timeout') as string,
    });
    expect(Date.now() - started).toBeLessThan(SLOW_MS);
    const found = await client.findPaymentsByReference(request.reference);
    expect(found).toMatchObject({ kind: 'found', payments: [{ status: 'authorised', amount: 8006 }] });
    // The same request again answers at once, with the same payment.
    const replayStarted = Date.now();
    const replay = await client.authorise(request);
    expect(Date.now() - replayStarted).toBeLessThan(SLOW_MS);
    if (found.kind !== 'found' || replay.kind !== 'payment') throw new Error('not found');
    expect(replay.payment.id).toBe(found.payments[0]!.id);
  });

  it('8004: the capture is declined and the payment stays authorised; then a void', async () => {
    const { id } = await authorised(8004);
    const capture = await client.capture(id, 8004, `cap-${randomUUID()}`);
    expect(capture).toMatchObject({
      kind: 'capture',
      capture: { status: 'declined', declineReason: 'capture_declined', amount: 8004 },
    });
    expect(await client.payment(id)).toMatchObject({
      kind: 'found',
      payment: { status: 'authorised', capturedAmount: 0, captures: [{ status: 'declined' }] },
    });

    const voidKey = `void-${randomUUID()}`;
    const voided = await client.void(id, voidKey);
    expect(voided).toMatchObject({ kind: 'void', void: { paymentId: id, status: 'succeeded' } });
    expect(await client.void(id, voidKey)).toEqual(voided);
    expect(await client.void(id, `void-${randomUUID()}`)).toMatchObject({
      kind: 'refused',
      code: 'payment_voided',
    });
    expect(await client.capture(id, 100, `cap-${randomUUID()}`)).toMatchObject({
      kind: 'refused',
      code: 'payment_voided',
    });
    expect(
      await client.refund(id, { amount: 100, reference: 'rf_voided' }, `ref-${randomUUID()}`),
    ).toMatchObject({ kind: 'refused', code: 'payment_voided' });
    expect(await client.payment(id)).toMatchObject({ kind: 'found', payment: { status: 'voided' } });
  });

  it('8005: no refund before the capture; after it, the refund is declined', async () => {
    const { id } = await authorised(8005);
    const reference = `rf_${randomUUID().slice(0, 12)}`;
    expect(await client.refund(id, { amount: 1000, reference }, `ref-${randomUUID()}`)).toMatchObject({
      kind: 'refused',
      code: 'payment_not_captured',
      status: 409,
    });
    // A partial capture.
    expect(await client.capture(id, 6000, `cap-${randomUUID()}`)).toMatchObject({
      kind: 'capture',
      capture: { status: 'succeeded', amount: 6000 },
    });
    const refund = await client.refund(id, { amount: 1000, reference }, `ref-${randomUUID()}`);
    expect(refund).toMatchObject({
      kind: 'refund',
      refund: { status: 'declined', declineReason: 'refund_declined', reference },
    });
    expect(await client.findRefundsByReference(reference)).toMatchObject({
      kind: 'found',
      refunds: [{ status: 'declined' }],
    });
    expect(await client.payment(id)).toMatchObject({
      kind: 'found',
      payment: { status: 'captured', capturedAmount: 6000, refundedAmount: 0 },
    });
  });

  it('tokens: Luhn and brand refusals; a wrong key; an unreachable processor', async () => {
    const card = { expiryMonth: '12', expiryYear: EXPIRY_YEAR, securityCode: '123' };
    secrets.add('4000000000000102');
    secrets.add('378282246310005');
    expect(await client.tokenise({ ...card, number: '4000000000000102' })).toMatchObject({
      kind: 'refused',
      code: 'invalid_card',
      field: 'card.number',
      status: 400,
    });
    expect(await client.tokenise({ ...card, number: '378282246310005' })).toMatchObject({
      kind: 'refused',
      code: 'card_not_supported',
    });
    expect(await client.tokenise({ ...card, number: '4000000000000101', expiryMonth: '13' })).toMatchObject({
      kind: 'refused',
      code: 'invalid_request',
      field: 'card.expiryMonth',
    });
    expect(
      await clientWith({ apiKey: 'wrong-key' }).tokenise({ ...card, number: '4000000000000101' }),
    ).toMatchObject({ kind: 'refused', code: 'unauthorized', status: 401 });

    // A port nobody listens on: nothing was sent.
    const closed = http.createServer();
    const closedUrl = await listen(closed);
    await new Promise((r) => closed.close(r));
    const offline = clientWith({ baseUrl: `${closedUrl}/processor` });
    expect(await offline.tokenise({ ...card, number: '4000000000000101' })).toMatchObject({
      kind: 'unavailable',
      reason: expect.stringContaining('ECONNREFUSED') as string,
    });
    const { id, request } = await authorised(4200);
    expect(await offline.authorise(request)).toMatchObject({ kind: 'ambiguous' });
    expect(await offline.capture(id, 4200, `cap-${randomUUID()}`)).toMatchObject({ kind: 'ambiguous' });
    expect(await offline.findPaymentsByReference(request.reference)).toMatchObject({ kind: 'unavailable' });
  });

  it('logs no card number, token or authentication value', () => {
    expect(logLines.length).toBeGreaterThan(10);
    const all = logLines.join('\n');
    for (const secret of secrets) expect(all, 'a secret in the log').not.toContain(secret);
    expect(all).not.toContain('securityCode');
    expect(all).toContain('"last4":"0101"');
  });
});
