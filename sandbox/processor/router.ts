import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import express, { Router, type ErrorRequestHandler, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { SandboxConfig } from '../config.js';
import { challengePage, cresPage, invalidCreqPage, unknownChallengePage } from './acs-pages.js';
import {
  ProcessorError,
  ProcessorSandbox,
  SUPPORTED_CURRENCIES,
  fingerprintOf,
  type AuthenticationRequest,
  type ChallengeStep,
  type PaymentRequest,
} from './processor.js';
import { PROCESSOR_AMOUNTS, PROCESSOR_OTP, PROCESSOR_TEST_CARDS, currencyByNumeric } from './scenarios.js';

export {
  ProcessorSandbox,
  type ProcessorAuthentication,
  type ProcessorPayment,
  type ProcessorRefund,
  type ProcessorToken,
} from './processor.js';
export { PROCESSOR_AMOUNTS, PROCESSOR_TEST_CARDS, PROCESSOR_OTP } from './scenarios.js';

/**
 * The Visa/Mastercard card processor with EMV 3-D Secure 2 under `/processor/`, speaking
 * docs/card-processor.md (written first; the adapter is written from it too, apart).
 *
 *   POST /v1/tokens                          {card} → 201 {id, brand, last4, expiresAt}
 *   POST /v1/authentications                 the AReq → 201 ARes (a replay of the same
 *                                            threeDSServerTransID and body: 200, the same ARes)
 *   GET  /v1/authentications/{id}            the current result and stage
 *   POST /acs/challenge                      the browser's CReq (form creq, threeDSSessionData) → the code page
 *   POST /acs/challenge/{acsTransID}         the code page's form (otp, action) → the page again, or the
 *                                            CRes form to notificationURL (and the signed RReq to threeDSServerURL)
 *   POST /v1/payments                        Idempotency-Key; the authorisation → 201 authorised|declined
 *   GET  /v1/payments/{id}, GET /v1/payments?reference=
 *   POST /v1/payments/{id}/captures | voids | refunds   Idempotency-Key
 *   GET  /v1/refunds/{id}, GET /v1/refunds?reference=
 *   Control (no auth): GET _sandbox/scenarios | authentications | payments | refunds | stats,
 *   POST _sandbox/authentications/{id}/timeout, POST _sandbox/reset.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

const httpUrl = (max: number) => z.url({ protocol: /^https?$/ }).max(max);

const tokenBody = z.object({
  card: z.object({
    number: z.string().regex(/^\d{13,19}$/, 'expected 13 to 19 digits'),
    expiryMonth: z.string().regex(/^(0[1-9]|1[0-2])$/, 'expected "01" to "12"'),
    expiryYear: z.string().regex(/^\d{4}$/, 'expected four digits'),
    securityCode: z.string().regex(/^\d{3,4}$/, 'expected 3 or 4 digits'),
  }),
});

const authenticationBody = z
  .object({
    threeDSServerTransID: z.string().regex(UUID, 'expected a UUID'),
    messageVersion: z.literal('2.2.0'),
    deviceChannel: z.literal('02'),
    messageCategory: z.literal('01'),
    threeDSCompInd: z.enum(['Y', 'N', 'U']),
    threeDSRequestorAuthenticationInd: z.enum(['01', '02', '03', '04', '05', '06']),
    paymentMethod: z.object({ token: z.string().min(1).max(64) }),
    purchaseAmount: z.string().regex(/^[1-9]\d{0,11}$/, 'expected 1 to 12 digits, no leading zero'),
    purchaseCurrency: z
      .string()
      .refine((c) => currencyByNumeric(c) !== undefined, 'expected a supported ISO 4217 numeric code'),
    purchaseExponent: z.string().regex(/^\d$/, 'expected one digit'),
    purchaseDate: z.string().refine(validPurchaseDate, 'expected YYYYMMDDHHMMSS'),
    merchantName: z.string().min(1).max(40),
    mcc: z.string().regex(/^\d{4}$/, 'expected four digits'),
    acquirerMerchantID: z.string().min(1).max(35),
    notificationURL: httpUrl(256),
    threeDSServerURL: httpUrl(2048),
    browserAcceptHeader: z.string().min(1).max(2048),
    browserUserAgent: z.string().min(1).max(2048),
    browserLanguage: z.string().min(1).max(8),
    browserIP: z
      .string()
      .max(45)
      .refine((ip) => isIP(ip) !== 0, 'expected an IPv4 or IPv6 address')
      .optional(),
  })
  .superRefine((body, ctx) => {
    const currency = currencyByNumeric(body.purchaseCurrency);
    if (currency && body.purchaseExponent !== String(currency.exponent))
      ctx.addIssue({
        code: 'custom',
        path: ['purchaseExponent'],
        message: `expected "${currency.exponent}" for currency ${body.purchaseCurrency}`,
      });
  });

const amount = z.number().int().min(1).max(1_000_000_000_000);
const reference = z.string().min(1).max(64);

const paymentBody = z.object({
  reference,
  amount,
  currency: z.enum(SUPPORTED_CURRENCIES as [string, ...string[]]),
  paymentMethod: z.object({ token: z.string().min(1).max(64) }),
  authentication: z.object({
    threeDSServerTransID: z.string().min(1).max(64),
    dsTransID: z.string().min(1).max(64),
    transStatus: z.enum(['Y', 'A', 'C', 'N', 'R', 'U']),
    eci: z
      .string()
      .regex(/^\d{2}$/, 'expected two digits')
      .optional(),
    authenticationValue: z.string().min(1).max(64).optional(),
    messageVersion: z.string().min(1).max(16),
  }),
});
const captureBody = z.object({ amount });
const voidBody = z.object({});
const refundBody = z.object({ amount, reference });

function validPurchaseDate(text: string): boolean {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(text);
  if (!m) return false;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  return (
    date.getUTCFullYear() === y &&
    date.getUTCMonth() === mo - 1 &&
    date.getUTCDate() === d &&
    date.getUTCHours() === h &&
    date.getUTCMinutes() === mi &&
    date.getUTCSeconds() === s
  );
}

/** A body through its schema, or 400 invalid_request naming the first field at fault. */
function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const field = issue.path.map(String).join('.') || 'body';
  throw new ProcessorError(400, 'invalid_request', `${field}: ${issue.message}`, field);
}

const digest = (s: string) => createHash('sha256').update(s).digest();
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function processorSandbox(
  config: SandboxConfig,
  logger: Logger,
): { router: Router; state: ProcessorSandbox; index: Record<string, string> } {
  const processor = new ProcessorSandbox(config, logger);
  const router = Router();
  const json = express.json({ limit: '20kb', type: () => true });
  const form = express.urlencoded({ extended: false, limit: '20kb' });
  const apiKey = digest(processor.settings.SANDBOX_PROCESSOR_API_KEY);

  // Counts per route, ids replaced (`POST /v1/payments/:id/captures`), refused requests included.
  router.use((req, res, next) => {
    const route = `${req.method} ${req.path.replace(/\/(payments|refunds|authentications|challenge)\/[^/]+/g, '/$1/:id')}`;
    res.on('finish', () => processor.count(route, res.statusCode));
    next();
  });

  router.use('/v1', (req, _res, next) => {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.header('authorization') ?? '');
    if (!m || !timingSafeEqual(digest(m[1]!), apiKey))
      throw new ProcessorError(
        401,
        'unauthorized',
        'missing or invalid API key (Authorization: Bearer <key>)',
      );
    next();
  });

  /** The Idempotency-Key header, required. */
  const idempotencyKey = (req: Request): string => {
    const key = req.header('idempotency-key');
    if (key === undefined || !IDEMPOTENCY_KEY.test(key))
      throw new ProcessorError(
        400,
        'invalid_request',
        'Idempotency-Key: required, 1 to 255 printable ASCII characters',
        'Idempotency-Key',
      );
    return key;
  };

  /**
   * A creating POST under an Idempotency-Key scoped to its route: a replay answers the remembered
   * answer; otherwise `create` runs and its answer is remembered (not when it throws).
   */
  const idempotent = <T>(
    req: Request,
    res: Response,
    schema: z.ZodType<T>,
    create: (body: T) => { status: number; body: unknown },
  ): void => {
    const key = idempotencyKey(req);
    const body = parse(schema, req.body);
    const scope = `${req.method} ${req.path} ${key}`;
    const fingerprint = fingerprintOf(req.body);
    const replay = processor.replay(scope, fingerprint);
    if (replay) return void res.status(replay.status).json(replay.body);
    const answer = create(body);
    processor.remember(scope, fingerprint, answer.status, answer.body);
    res.status(answer.status).json(answer.body);
  };

  // ---------------------------------------------------------------- tokens
  router.post('/v1/tokens', json, (req, res) => {
    const { card } = parse(tokenBody, req.body);
    const token = processor.createToken(card);
    res
      .status(201)
      .json({ id: token.id, brand: token.brand, last4: token.last4, expiresAt: token.expiresAt });
  });

  // ---------------------------------------------------------------- authentications
  router.post('/v1/authentications', json, (req, res) => {
    const body = parse(authenticationBody, req.body) as AuthenticationRequest;
    const fingerprint = fingerprintOf(req.body);
    const existing = processor.authentications.get(body.threeDSServerTransID);
    if (existing) {
      if (existing.fingerprint !== fingerprint)
        throw new ProcessorError(
          409,
          'conflict',
          'this threeDSServerTransID was used with another body',
          'threeDSServerTransID',
        );
      return void res.status(200).json(existing.ares);
    }
    const auth = processor.authenticate(body, fingerprint);
    res.status(201).json(auth.ares);
  });

  router.get('/v1/authentications/:id', (req, res) => {
    const auth = processor.authentications.get(req.params.id);
    if (!auth) throw new ProcessorError(404, 'not_found', 'no such authentication');
    res.json(processor.authenticationView(auth));
  });

  // ---------------------------------------------------------------- the ACS (payer's browser)
  const challengeStep = (req: Request, res: Response, step: ChallengeStep) => {
    res.type('html').set('Cache-Control', 'no-store');
    if (step.kind === 'final') return void res.send(cresPage(step.auth));
    const action = `${req.baseUrl}/acs/challenge/${encodeURIComponent(step.auth.acsTransID)}`;
    res.send(challengePage(step.auth, action, step.error));
  };

  router.post('/acs/challenge', form, (req, res) => {
    const fields = (req.body ?? {}) as Record<string, unknown>;
    const sessionData = typeof fields.threeDSSessionData === 'string' ? fields.threeDSSessionData : undefined;
    const step = processor.receiveCreq(str(fields.creq), sessionData);
    if (typeof step === 'string') return void res.status(400).type('html').send(invalidCreqPage(step));
    challengeStep(req, res, step);
  });

  router.post('/acs/challenge/:acsTransID', form, (req, res) => {
    const fields = (req.body ?? {}) as Record<string, unknown>;
    const action = str(fields.action) || 'submit';
    const step = processor.submitChallenge(req.params.acsTransID, action, str(fields.otp));
    if (!step) return void res.status(404).type('html').send(unknownChallengePage());
    challengeStep(req, res, step);
  });

  // ---------------------------------------------------------------- payments
  router.post('/v1/payments', json, async (req, res) => {
    const key = idempotencyKey(req);
    const body = parse(paymentBody, req.body) as PaymentRequest;
    const scope = `${req.method} ${req.path} ${key}`;
    const fingerprint = fingerprintOf(req.body);
    const replay = processor.replay(scope, fingerprint);
    if (replay) return void res.status(replay.status).json(replay.body);
    const payment = processor.createPayment(body);
    const answer = processor.paymentView(payment);
    processor.remember(scope, fingerprint, 201, answer);
    const scenarioAnswer = payment.status === 'authorised' ? payment.scenario?.answer : undefined;
    if (scenarioAnswer === 'http502') {
      logger.info({ payment: payment.id }, 'processor sandbox: authorised, answered 502 (scenario 8003)');
      return void res.status(502).json({
        error: {
          code: 'upstream_error',
          message: 'the card scheme did not answer in time; the outcome is unknown',
        },
      });
    }
    if (scenarioAnswer === 'slow') await sleep(processor.settings.SANDBOX_PROCESSOR_SLOW_MS);
    res.status(201).json(answer);
  });

  router.get('/v1/payments', (req, res) => {
    const ref = req.query.reference;
    if (typeof ref !== 'string' || !ref)
      throw new ProcessorError(400, 'invalid_request', 'reference: required', 'reference');
    const data = [...processor.payments.values()]
      .filter((p) => p.reference === ref)
      .map((p) => processor.paymentView(p));
    res.json({ data });
  });

  router.get('/v1/payments/:id', (req, res) => {
    res.json(processor.paymentView(processor.payment(req.params.id)));
  });

  router.post('/v1/payments/:id/captures', json, (req, res) => {
    idempotent(req, res, captureBody, (body) => ({
      status: 201,
      body: { ...processor.capture(req.params.id, body.amount) },
    }));
  });

  router.post('/v1/payments/:id/voids', json, (req, res) => {
    idempotent(req, res, voidBody, () => ({
      status: 201,
      body: { ...processor.void(req.params.id) },
    }));
  });

  router.post('/v1/payments/:id/refunds', json, (req, res) => {
    idempotent(req, res, refundBody, (body) => ({
      status: 201,
      body: { ...processor.refund(req.params.id, body.amount, body.reference) },
    }));
  });

  router.get('/v1/refunds', (req, res) => {
    const ref = req.query.reference;
    if (typeof ref !== 'string' || !ref)
      throw new ProcessorError(400, 'invalid_request', 'reference: required', 'reference');
    res.json({
      data: [...processor.refunds.values()].filter((r) => r.reference === ref).map((r) => ({ ...r })),
    });
  });

  router.get('/v1/refunds/:id', (req, res) => {
    const refund = processor.refunds.get(req.params.id);
    if (!refund) throw new ProcessorError(404, 'not_found', 'no such refund');
    res.json({ ...refund });
  });

  router.use('/v1', () => {
    throw new ProcessorError(404, 'not_found', 'no such route');
  });

  // ---------------------------------------------------------------- control routes (not the processor's)
  router.get('/_sandbox/scenarios', (_req, res) => {
    res.json({
      cards: PROCESSOR_TEST_CARDS,
      amounts: PROCESSOR_AMOUNTS,
      otp: PROCESSOR_OTP,
      otherCards: 'any other Visa or Mastercard: frictionless Y',
    });
  });
  router.get('/_sandbox/authentications', (_req, res) => {
    // The records hold the token's id, never the card.
    res.json([...processor.authentications.values()]);
  });
  router.get('/_sandbox/payments', (req, res) => {
    const ref = typeof req.query.reference === 'string' ? req.query.reference : undefined;
    const all = [...processor.payments.values()].filter((p) => ref === undefined || p.reference === ref);
    res.json(all.map((p) => ({ ...processor.paymentView(p), token: p.token })));
  });
  router.get('/_sandbox/refunds', (_req, res) => {
    res.json([...processor.refunds.values()]);
  });
  router.get('/_sandbox/stats', (_req, res) => {
    res.json({ routes: Object.fromEntries(processor.stats), rreq: processor.rreqStats });
  });
  router.post('/_sandbox/authentications/:id/timeout', (req, res) => {
    const outcome = processor.timeoutChallenge(req.params.id);
    if (outcome === 'unknown') return void res.status(404).json({ error: 'unknown threeDSServerTransID' });
    if (outcome === 'not_pending') return void res.status(409).json({ error: 'no challenge pending' });
    res.json(processor.authenticationView(outcome));
  });
  router.post('/_sandbox/reset', (_req, res) => {
    processor.reset();
    res.json({ reset: true });
  });

  // Errors: ours as `{error}` JSON; an unreadable body is 400 invalid_request (an HTML page on the ACS).
  const errors: ErrorRequestHandler = (err: unknown, req, res, next) => {
    if (res.headersSent) return next(err);
    let error: ProcessorError;
    if (err instanceof ProcessorError) error = err;
    else {
      const status = (err as { status?: unknown } | null)?.status;
      if (typeof status === 'number' && status >= 400 && status < 500)
        error = new ProcessorError(
          400,
          'invalid_request',
          'the body could not be read as JSON (at most 20 kB)',
          'body',
        );
      else {
        logger.error({ err }, 'processor sandbox error');
        error = new ProcessorError(500, 'internal_error', 'internal error');
      }
    }
    if (req.path.startsWith('/acs/'))
      return void res.status(error.status).type('html').send(invalidCreqPage(error.message));
    res.status(error.status).json(error.body());
  };
  router.use(errors);

  const base = `${config.SANDBOX_PUBLIC_URL}/processor`;
  return {
    router,
    state: processor,
    index: { base_url: `${base}/v1/`, acs_url: processor.acsUrl, scenarios: `${base}/_sandbox/scenarios` },
  };
}
