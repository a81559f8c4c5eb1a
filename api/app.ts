import { randomUUID } from 'node:crypto';
import express, { type Express } from 'express';
import { pinoHttp } from 'pino-http';
import type { Client } from '@temporalio/client';
import type { OperatorRules } from '../operators/registry.js';
import { pingDatabase, type Pool } from '../db/pool.js';
import { cardVaultRing, type Config } from '../lib/config.js';
import { redactUrl, type Logger } from '../lib/logger.js';
import { apiKeyRoutes } from './api-keys.js';
import { requireMerchant, type AuthDeps } from './auth.js';
import { AccessTokens, oauthRoutes } from './oauth.js';
import { rateLimitByKey } from './rate-limit.js';
import { callbackRoutes } from './callbacks.js';
import { checkoutRoutes, operatorRoutes } from './checkout.js';
import { hostedCheckoutRoutes, payerPagePostLimit } from './hosted-checkout.js';
import { paymentLinkPageRoutes } from './payment-link-page.js';
import { paymentLinkRoutes } from './payment-links.js';
import { buildContract } from './openapi.js';
import { checkResponsesAgainstDocument } from './response-check.js';
import { ledgerRoutes } from './ledger.js';
import { codecRoutes } from './codec.js';
import { threeDSResultRoutes } from './three-ds-results.js';
import { metricsRoutes } from './metrics.js';
import { payinRoutes } from './payins.js';
import { reconciliationRoutes } from './reconciliation.js';
import { payoutRoutes } from './payouts.js';
import { payinRefundRoutes, refundRoutes } from './refunds.js';
import { transferRoutes } from './transfers.js';
import { eventRoutes, webhookEndpointRoutes } from './webhooks.js';
import { EVENT_STREAM_PATH, EventStreamHub } from './event-stream.js';
import { PROBLEM_TYPES, Problem, problemHandler, type ProblemType } from './problems.js';

export interface ApiDeps {
  config: Config;
  pool: Pool;
  temporal: Client;
  operators: OperatorRules;
  logger: Logger;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

export function createApp(deps: ApiDeps): Express {
  const { pool, temporal, logger } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  // Only proxies named in TRUST_PROXY may tell us the caller's address (X-Forwarded-For).
  if (deps.config.TRUST_PROXY?.length) app.set('trust proxy', deps.config.TRUST_PROXY);

  app.use(
    pinoHttp({
      logger,
      genReqId: (req, res) => {
        const given = req.headers['x-request-id'];
        const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      customLogLevel: (_req, res, err) =>
        err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info',
      serializers: {
        req: (req: { id: unknown; method: string; url: string }) => ({
          id: req.id,
          method: req.method,
          url: redactUrl(req.url),
        }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
    }),
  );

  const contract = buildContract();
  const openapi = contract.doc;
  // In the test suite, every answer is checked against the document (api/response-check.ts).
  if (deps.config.CHECK_RESPONSES) app.use(checkResponsesAgainstDocument(contract.responses, logger));

  app.get('/healthz', async (_req, res) => {
    const [postgres, temporalCheck] = await Promise.all([
      pingDatabase(pool).then(
        () => 'ok',
        (err: Error) => err.message,
      ),
      temporal.connection.workflowService.getSystemInfo({}).then(
        () => 'ok',
        (err: Error) => err.message,
      ),
    ]);
    const healthy = postgres === 'ok' && temporalCheck === 'ok';
    res
      .status(healthy ? 200 : 503)
      .json({ status: healthy ? 'ok' : 'unavailable', checks: { postgres, temporal: temporalCheck } });
  });

  app.use('/metrics', metricsRoutes(pool, deps.config));
  // Temporal's payloads decoded for operations staff holding the codec key (docs/operations.md).
  app.use('/ops/codec', codecRoutes(deps.config));

  app.get('/openapi.json', (_req, res) => {
    res.json(openapi);
  });
  app.get('/problems/:type', (req, res) => {
    const type = req.params.type as ProblemType;
    if (!Object.prototype.hasOwnProperty.call(PROBLEM_TYPES, type)) throw new Problem('not-found');
    res.json({ type: `/problems/${type}`, ...PROBLEM_TYPES[type] });
  });

  // The payer's browser: auto-posting operator forms (TMoney online), our number page (PayGateGlobal).
  app.use(
    '/checkout',
    checkoutRoutes({
      pool,
      temporal,
      operators: deps.operators,
      publicBaseUrl: deps.config.PUBLIC_BASE_URL,
      vault: cardVaultRing(deps.config),
    }),
  );

  // The hosted checkout (docs/checkout.md): reached by its token, never by a payment id.
  const payerPosts = payerPagePostLimit(deps.config.PAYER_PAGE_POSTS_PER_MINUTE);
  app.use('/pay', payerPosts, hostedCheckoutRoutes(deps));
  // Payment links' public pages (docs/payment-links.md).
  app.use('/l', payerPosts, paymentLinkPageRoutes(deps));

  // Operators call these; they authenticate by what the callback says, checked against us and the status API.
  // The card processor's signed 3-D Secure results (RReq): hints for the card payin's workflow.
  app.use('/v1/callbacks/processor', threeDSResultRoutes(deps));
  app.use('/v1/callbacks', callbackRoutes(deps));

  // Operations (a separate key): reconciliation runs and reports.
  app.use('/v1/reconciliation', express.json({ limit: '8kb' }), reconciliationRoutes(deps));

  const production = deps.config.NODE_ENV === 'production';
  const tokens = new AccessTokens({
    pool,
    issuer: deps.config.PUBLIC_BASE_URL,
    ttlSeconds: deps.config.OAUTH_TOKEN_TTL_SECONDS,
  });
  const auth: AuthDeps = { pool, tokens, production, logger };
  // OAuth 2.0 client credentials: an API key's id and secret for a short-lived access token.
  app.use('/oauth', oauthRoutes(pool, tokens));

  // Merchants see route health; the operations key also sees the operators' own balances.
  app.use('/v1/operators', operatorRoutes(pool, deps.operators, deps.config, auth));

  app.use(
    '/v1',
    requireMerchant(auth),
    rateLimitByKey({
      pool,
      defaultRequests: deps.config.RATE_LIMIT_REQUESTS,
      windowSeconds: deps.config.RATE_LIMIT_WINDOW_SECONDS,
      logger,
    }),
    express.json({ limit: '32kb' }),
  );
  app.use('/v1/api-keys', apiKeyRoutes(pool, { production }));
  app.use('/v1/payins/:id/refunds', payinRefundRoutes(deps));
  app.use('/v1/payins', payinRoutes(deps));
  app.use('/v1/payouts', payoutRoutes(deps));
  app.use('/v1/refunds', refundRoutes(deps));
  app.use('/v1/transfers', transferRoutes(deps));
  app.use('/v1/payment-links', paymentLinkRoutes(deps));
  const eventStream = new EventStreamHub({ pool, databaseUrl: deps.config.DATABASE_URL, logger, auth });
  app.locals.eventStream = eventStream;
  app.get(EVENT_STREAM_PATH, (req, res) => eventStream.serveSse(req, res));
  app.use('/v1/events', eventRoutes(pool));
  app.use('/v1/webhook-endpoints', webhookEndpointRoutes(pool));
  app.use('/v1', ledgerRoutes(pool));

  // A known path asked with a method it does not serve: 405 with the methods it does (RFC 9110).
  const allowedMethods = methodsByPath(openapi);
  app.use((req, res, next) => {
    const allowed = allowedMethods(req.path);
    if (allowed.length) {
      res.setHeader('Allow', allowed.join(', '));
      return next(
        new Problem('method-not-allowed', `${req.path} answers ${allowed.join(', ')}, not ${req.method}`),
      );
    }
    next(new Problem('not-found', `No route for ${req.method} ${req.path}`));
  });
  app.use(problemHandler);
  return app;
}

/**
 * The live event stream of an app made by createApp: its WebSocket upgrades need the HTTP
 * server (`hub.attach(server)`), and it holds a LISTEN connection to close at shutdown.
 */
export function eventStreamOf(app: Express): EventStreamHub {
  return app.locals.eventStream as EventStreamHub;
}

/**
 * The methods each documented path serves (HEAD with GET, as Express answers it), from the
 * OpenAPI document: every route we serve is in it (the fuzz test checks the reverse).
 */
function methodsByPath(doc: { paths?: Record<string, object | undefined> }): (path: string) => string[] {
  const routes = Object.entries(doc.paths ?? {}).map(([template, item]) => {
    const pattern = template
      .split(/\{[^}]+\}/)
      .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('[^/]+');
    const methods = Object.keys(item ?? {})
      .filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m))
      .map((m) => m.toUpperCase());
    if (methods.includes('GET')) methods.push('HEAD');
    return { regex: new RegExp(`^${pattern}/?$`), methods };
  });
  return (path) => {
    const found = new Set<string>();
    for (const r of routes) if (r.regex.test(path)) for (const m of r.methods) found.add(m);
    return [...found];
  };
}
