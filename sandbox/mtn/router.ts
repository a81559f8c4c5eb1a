import express, { Router, type ErrorRequestHandler, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { SandboxConfig } from '../config.js';
import {
  ReportAdjustments,
  adjustmentRoutes,
  periodOf,
  streamLines,
  within,
  type ReportRow,
} from '../reports.js';
import { MtnSandbox, UUID_V4, formatMajor, parseMajor, type MtnApiUser, type MtnProduct } from './mtn.js';
import { MTN_SCENARIOS, MTN_TARGET_ENVIRONMENTS, MTN_TEST_NUMBERS, mtnScenario } from './scenarios.js';

export { MtnSandbox, type MtnTransaction, type MtnApiUser } from './mtn.js';
export { MTN_SCENARIOS, MTN_TEST_NUMBERS, MTN_TARGET_ENVIRONMENTS } from './scenarios.js';

/**
 * The MTN Mobile Money Open API (momodeveloper.mtn.com) under `/mtn/`, on MTN's own wire: code
 * written against MTN's sandbox works here by changing only its base URL (the published npm
 * client `mtn-momo` does: test/integration/mtn-client.test.ts).
 *
 * - Provisioning (sandbox only): `POST /v1_0/apiuser`, `POST /v1_0/apiuser/{id}/apikey`,
 *   `GET /v1_0/apiuser/{id}`, with either product's Ocp-Apim-Subscription-Key.
 * - Tokens: `POST /collection/token/`, `POST /disbursement/token/` (Basic apiUser:apiKey); a
 *   token is good for its product only.
 * - Collection: `POST /collection/v1_0/requesttopay` (202), `GET …/requesttopay/{referenceId}`,
 *   `GET …/account/balance`, `GET …/accountholder/{msisdn|email|party_code}/{id}/active`.
 * - Disbursement: `POST /disbursement/v1_0/transfer` (202), `GET …/transfer/{referenceId}`, and
 *   the same balance and account holder calls.
 * - The callback: one PUT of the status body to X-Callback-Url when a transaction ends.
 * - Ours: the settlement report `GET /reports/v1_0/transactions` (MTN has no report API), the
 *   local target environments (MTN's sandbox is `sandbox`, EUR only), and `/_sandbox/…`.
 */

const SUBSCRIPTION_KEY_INVALID =
  'Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription.';
const SUBSCRIPTION_KEY_MISSING =
  'Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API.';

const party = z
  .object({
    partyIdType: z.enum(['MSISDN', 'EMAIL', 'PARTY_CODE']),
    partyId: z.string().min(1).max(64),
  })
  .refine((p) => p.partyIdType !== 'MSISDN' || /^\d{5,15}$/.test(p.partyId), {
    message: 'an MSISDN is 5 to 15 digits (E.164, no +)',
    path: ['partyId'],
  });

const money = {
  amount: z.union([z.string(), z.number()]).transform(String),
  currency: z.string().regex(/^[A-Z]{3}$/),
  externalId: z.string().max(255).optional(),
  payerMessage: z.string().max(160).optional(),
  payeeNote: z.string().max(160).optional(),
};
const requestToPayBody = z.object({ ...money, payer: party });
const transferBody = z.object({ ...money, payee: party });

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

export function mtnSandbox(
  config: SandboxConfig,
  logger: Logger,
): { router: Router; state: MtnSandbox; index: Record<string, string> } {
  const mtn = new MtnSandbox(config, logger);
  const router = Router();
  const json = express.json({ limit: '20kb', type: () => true });

  const error = (res: Response, status: number, code: string, message: string) =>
    void res.status(status).json({ code, message });
  const badRequest = (res: Response, detail: string) =>
    error(res, 400, 'BAD_REQUEST', `Bad request, e.g. invalid data was sent in the request: ${detail}`);
  const notFound = (res: Response) =>
    error(res, 404, 'RESOURCE_NOT_FOUND', 'Requested resource was not found.');
  const duplicate = (res: Response) =>
    error(res, 409, 'RESOURCE_ALREADY_EXIST', 'Duplicated reference id. Creation of resource failed.');
  const invalidReference = (res: Response) =>
    error(res, 400, 'INVALID_REFERENCE_ID', 'Invalid reference id. X-Reference-Id must be a UUID version 4.');

  /** The API gateway's checks: the service is up, and the subscription key is one of these. */
  const gateway = (req: Request, res: Response, keys: string[]): boolean => {
    if (mtn.down) {
      error(res, 503, 'SERVICE_UNAVAILABLE', 'Service temporarily unavailable, try again later.');
      return false;
    }
    const key = req.header('ocp-apim-subscription-key');
    if (!key || !keys.includes(key)) {
      res
        .status(401)
        .json({ statusCode: 401, message: key ? SUBSCRIPTION_KEY_INVALID : SUBSCRIPTION_KEY_MISSING });
      return false;
    }
    return true;
  };

  /** A product call: its subscription key, a live Bearer token of that product, a known target environment. */
  const authorised = (
    product: MtnProduct,
    req: Request,
    res: Response,
  ): { user: MtnApiUser; environment: string; currency: string; decimals: number } | undefined => {
    if (!gateway(req, res, [mtn.subscriptionKey(product)])) return undefined;
    const user = mtn.tokenUser(product, req.header('authorization'));
    if (!user) {
      res
        .status(401)
        .json({ statusCode: 401, message: 'Access denied due to invalid or expired access token.' });
      return undefined;
    }
    const environment = req.header('x-target-environment') ?? '';
    const target = MTN_TARGET_ENVIRONMENTS[environment];
    if (!target) {
      error(res, 500, 'NOT_ALLOWED_TARGET_ENVIRONMENT', 'Access to target environment is forbidden.');
      return undefined;
    }
    return { user, environment, ...target };
  };

  // ---------------------------------------------------------------- provisioning (sandbox only)
  const provisioningKeys = () => [mtn.subscriptionKey('collection'), mtn.subscriptionKey('disbursement')];

  router.post('/v1_0/apiuser', json, (req, res) => {
    if (!gateway(req, res, provisioningKeys())) return;
    const id = req.header('x-reference-id') ?? '';
    if (!UUID_V4.test(id)) return invalidReference(res);
    const host = (req.body as { providerCallbackHost?: unknown } | undefined)?.providerCallbackHost;
    if (typeof host !== 'string' || !host.trim() || host.length > 255)
      return badRequest(res, 'providerCallbackHost');
    if (!mtn.createApiUser(id, host.trim())) return duplicate(res);
    res.status(201).end();
  });

  router.post('/v1_0/apiuser/:id/apikey', (req, res) => {
    if (!gateway(req, res, provisioningKeys())) return;
    const apiKey = mtn.createApiKey(req.params.id);
    if (!apiKey) return notFound(res);
    res.status(201).json({ apiKey });
  });

  router.get('/v1_0/apiuser/:id', (req, res) => {
    if (!gateway(req, res, provisioningKeys())) return;
    const user = mtn.apiUsers.get(req.params.id);
    if (!user) return notFound(res);
    res.json({ providerCallbackHost: user.providerCallbackHost, targetEnvironment: 'sandbox' });
  });

  // ---------------------------------------------------------------- products
  for (const product of ['collection', 'disbursement'] as const) {
    const prefix = `/${product}`;
    const kind = product === 'collection' ? 'requesttopay' : 'transfer';

    router.post(`${prefix}/token`, (req, res) => {
      if (!gateway(req, res, [mtn.subscriptionKey(product)])) return;
      const token = mtn.issueToken(product, req.header('authorization'));
      if (!token)
        return void res.status(401).json({ error: 'login_failed', error_description: 'Access denied' });
      res.json(token);
    });

    router.post(`${prefix}/v1_0/${kind}`, json, async (req, res) => {
      const auth = authorised(product, req, res);
      if (!auth) return;
      const referenceId = req.header('x-reference-id') ?? '';
      if (!UUID_V4.test(referenceId)) return invalidReference(res);
      if (mtn.transactions.has(referenceId)) return duplicate(res);
      const parsed =
        product === 'collection' ? requestToPayBody.safeParse(req.body) : transferBody.safeParse(req.body);
      if (!parsed.success)
        return badRequest(res, parsed.error.issues.map((i) => i.path.join('.') || 'body').join(', '));
      const body = parsed.data;
      if (body.currency !== auth.currency)
        return error(res, 400, 'INVALID_CURRENCY', 'Currency not supported.');
      const amountMinor = parseMajor(body.amount, auth.decimals);
      if (amountMinor === undefined)
        return badRequest(
          res,
          `amount (a positive ${body.currency} amount, at most ${auth.decimals} decimals)`,
        );
      const callbackUrl = req.header('x-callback-url') || undefined;
      if (callbackUrl !== undefined) {
        let host: string;
        try {
          const url = new URL(callbackUrl);
          if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('scheme');
          host = url.hostname;
        } catch {
          return badRequest(res, 'X-Callback-Url');
        }
        if (auth.user.bindsCallbackHost && host !== hostOf(auth.user.providerCallbackHost))
          return error(
            res,
            500,
            'INVALID_CALLBACK_URL_HOST',
            'Callback URL does not match the configured value.',
          );
      }
      const major = amountMinor / 10 ** auth.decimals;
      const answer = Number.isInteger(major) ? mtnScenario(product, major)?.answer : undefined;
      if (answer === 'http500')
        return error(res, 500, 'INTERNAL_PROCESSING_ERROR', 'An internal error occurred while processing.');
      if (answer === 'lost') {
        // Lost on the way: nothing registered, and the answer comes too late.
        await new Promise((r) => setTimeout(r, config.SANDBOX_AMBIGUOUS_DELAY_MS));
        return void res.status(504).type('text/plain').send('Gateway Timeout');
      }
      const tx = mtn.register({
        referenceId,
        product,
        targetEnvironment: auth.environment,
        apiUser: auth.user.id,
        ...(body.externalId !== undefined ? { externalId: body.externalId } : {}),
        currency: body.currency,
        decimals: auth.decimals,
        amountMinor,
        party: 'payer' in body ? body.payer : body.payee,
        ...(body.payerMessage !== undefined ? { payerMessage: body.payerMessage } : {}),
        ...(body.payeeNote !== undefined ? { payeeNote: body.payeeNote } : {}),
        ...(callbackUrl !== undefined ? { callbackUrl } : {}),
      });
      mtn.start(tx);
      if (answer === 'http502') return void res.status(502).type('text/plain').send('Bad Gateway');
      if (answer === 'slow') await new Promise((r) => setTimeout(r, config.SANDBOX_SLOW_MS));
      if (answer === 'late') await new Promise((r) => setTimeout(r, config.SANDBOX_AMBIGUOUS_DELAY_MS));
      res.status(202).end();
    });

    router.get(`${prefix}/v1_0/${kind}/:referenceId`, (req, res) => {
      if (!authorised(product, req, res)) return;
      const tx = mtn.find(product, req.params.referenceId);
      if (!tx || tx.hidden) return notFound(res);
      res.json(mtn.statusBody(tx));
    });

    router.get(`${prefix}/v1_0/account/balance`, (req, res) => {
      const auth = authorised(product, req, res);
      if (!auth) return;
      const balance = mtn.balances[product][auth.currency] ?? 0;
      res.json({ availableBalance: formatMajor(balance, auth.decimals), currency: auth.currency });
    });

    router.get(`${prefix}/v1_0/accountholder/:type/:id/active`, (req, res) => {
      if (!authorised(product, req, res)) return;
      const type = req.params.type.toLowerCase();
      if (!['msisdn', 'email', 'party_code'].includes(type)) return badRequest(res, 'accountHolderIdType');
      const n = type === 'msisdn' ? MTN_TEST_NUMBERS[req.params.id] : undefined;
      res.json({ result: !(n?.outcome === 'hidden' || n?.reason === 'PAYEE_NOT_FOUND') });
    });
  }

  // ---------------------------------------------------------------- settlement report (ours)
  const adjustments = new ReportAdjustments();
  router.use(adjustmentRoutes(adjustments));
  router.get('/reports/v1_0/transactions', async (req, res) => {
    if (!gateway(req, res, [mtn.subscriptionKey('collection')])) return;
    if (!mtn.tokenUser('collection', req.header('authorization')))
      return void res
        .status(401)
        .json({ statusCode: 401, message: 'Access denied due to invalid or expired access token.' });
    const environment = req.header('x-target-environment');
    if (environment !== undefined && !MTN_TARGET_ENVIRONMENTS[environment])
      return error(res, 500, 'NOT_ALLOWED_TARGET_ENVIRONMENT', 'Access to target environment is forbidden.');
    const period = periodOf(req.query);
    if (!period) return badRequest(res, 'date=YYYY-MM-DD, or from=…&to=… (ISO 8601)');
    const txs = [...mtn.transactions.values()].filter(
      (t) =>
        !t.hidden &&
        within(period, t.createdAt) &&
        (environment === undefined || t.targetEnvironment === environment),
    );
    const byReference = new Map(txs.map((t) => [t.referenceId, t]));
    const rows: ReportRow[] = txs.map((t) => ({
      date: t.createdAt,
      reference: t.externalId ?? '',
      operatorReference: t.referenceId,
      kind: t.product === 'collection' ? 'payin' : 'payout',
      // Minor units, as report adjustments give them (2549 is GHS 25.49).
      amount: mtn.statedMinor(t),
      status: t.status,
    }));
    const fallbackCurrency = MTN_TARGET_ENVIRONMENTS[environment ?? 'sandbox']?.currency ?? 'EUR';
    const lines = adjustments.apply(rows, period.label, 'SUCCESSFUL').map((r) => {
      const t = byReference.get(r.operatorReference);
      return [
        r.date.replace('T', ' ').slice(0, 19),
        csv(r.reference),
        r.operatorReference,
        t?.financialTransactionId ?? '',
        r.kind === 'payout' ? 'disbursement' : 'collection',
        formatMajor(
          r.amount,
          t?.decimals ?? MTN_TARGET_ENVIRONMENTS[environment ?? 'sandbox']?.decimals ?? 2,
        ),
        t?.currency ?? fallbackCurrency,
        r.status,
      ].join(',');
    });
    await streamLines(res, 'text/csv', [
      'date,external_id,reference_id,financial_transaction_id,type,amount,currency,status',
      ...lines,
    ]);
  });

  // ---------------------------------------------------------------- control endpoints (not MTN's API)
  router.get('/_sandbox/scenarios', (_req, res) => {
    res.json({
      scenarios: MTN_SCENARIOS,
      test_numbers: MTN_TEST_NUMBERS,
      target_environments: MTN_TARGET_ENVIRONMENTS,
    });
  });
  router.get('/_sandbox/transactions', (req, res) => {
    const externalId = typeof req.query.externalId === 'string' ? req.query.externalId : undefined;
    const all = [...mtn.transactions.values()];
    res.json(externalId === undefined ? all : all.filter((t) => t.externalId === externalId));
  });
  router.post('/_sandbox/transactions/:referenceId/:action', (req, res) => {
    const tx = mtn.transactions.get(req.params.referenceId);
    if (!tx) return void res.status(404).json({ error: 'unknown reference id' });
    if (req.params.action === 'approve') mtn.approve(tx);
    else if (req.params.action === 'reject') mtn.reject(tx);
    else if (req.params.action === 'complete') mtn.complete(tx);
    else return void res.status(404).json({ error: 'actions: approve, reject, complete' });
    res.json(tx);
  });
  router.get('/_sandbox/tokens', (_req, res) => {
    res.json({ issued: mtn.tokenCalls });
  });
  router.post('/_sandbox/revoke-tokens', (_req, res) => {
    mtn.revokeTokens();
    res.json({ revoked: true });
  });
  router.post('/_sandbox/outage', json, (req, res) => {
    mtn.down = Boolean((req.body as { down?: unknown } | undefined)?.down);
    res.json({ down: mtn.down });
  });

  // A body that is not JSON: MTN's 400.
  const bodyErrors: ErrorRequestHandler = (err: unknown, _req, res, next) => {
    const status = (err as { status?: unknown } | null)?.status;
    if (typeof status === 'number' && status >= 400 && status < 500)
      return badRequest(res, str((err as { type?: unknown }).type) || 'body');
    next(err);
  };
  router.use(bodyErrors);

  const base = `${config.SANDBOX_PUBLIC_URL}/mtn`;
  return { router, state: mtn, index: { base_url: `${base}/`, scenarios: `${base}/_sandbox/scenarios` } };
}

/** providerCallbackHost is a host ("example.com"); tolerate a port or a URL given instead. */
function hostOf(providerCallbackHost: string): string {
  try {
    return new URL(
      providerCallbackHost.includes('://') ? providerCallbackHost : `http://${providerCallbackHost}`,
    ).hostname;
  } catch {
    return providerCallbackHost;
  }
}

/** A CSV field: quoted when it holds a comma, a quote or a line break. */
function csv(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}
