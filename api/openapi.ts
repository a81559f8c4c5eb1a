import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { OPERATORS, OPERATOR_TABLE } from '../lib/operators.js';
import {
  BalanceSchema,
  CreatePayoutRequest,
  CreateRefundRequest,
  CreateTransferRequest,
  LedgerEntrySchema,
  LedgerQuery,
  PayoutSchema,
  RefundSchema,
  CreatePayinRequest,
  PayinListQuery,
  PayinListSchema,
  PayinSchema,
  PaymentEventSchema,
  ProblemSchema,
  HealthSchema,
  OperatorListSchema,
  PayoutListSchema,
  TransferListSchema,
  TransferSchema,
  TransferWithEventsSchema,
} from './schemas.js';
import {
  CreateWebhookEndpointRequest,
  DeliveryListQuery,
  DeliveryListSchema,
  EventListQuery,
  EventListSchema,
  EventSchema,
  ReplayRequest,
  ResendRequest,
  RotateSecretRequest,
  UpdateWebhookEndpointRequest,
  WebhookEndpointSchema,
} from './event-schemas.js';
import { EVENT_TYPES } from '../lib/events.js';
import {
  DiscrepancyQuery,
  DiscrepancySchema,
  OperationsEventQuery,
  UploadQuery,
  ResolveDiscrepancyRequest,
  ReconciliationRunSchema,
  RunListQuery,
  TriggerRun,
} from './reconciliation.js';
import {
  ApiKeySchema,
  ApiKeyWithSecretSchema,
  CreateApiKeyRequest,
  RotateApiKeyRequest,
} from './api-keys.js';
import { scopeNeeded } from '../lib/api-keys.js';
import { OAUTH_ERRORS } from './oauth.js';
import {
  CreatePaymentLinkRequest,
  LinkPayinListSchema,
  PaymentLinkListSchema,
  PaymentLinkSchema,
  UpdatePaymentLinkRequest,
} from './payment-link-schemas.js';

/** The OpenAPI 3.1 document of the merchant API, generated from the same zod schemas that validate it. */
/** Every operation's operationId (those registered with one keep it); callbacks are named in the loop below. */
const OPERATION_IDS: Record<string, string> = {
  'post /v1/payins': 'createPayin',
  'get /v1/payins': 'listPayins',
  'get /v1/payins/{id}': 'getPayin',
  'get /v1/payins/{id}/events': 'listPayinEvents',
  'post /v1/payouts': 'createPayout',
  'get /v1/payouts': 'listPayouts',
  'get /v1/payouts/{id}': 'getPayout',
  'post /v1/payins/{id}/refunds': 'refundPayin',
  'get /v1/payins/{id}/refunds': 'listPayinRefunds',
  'get /v1/refunds/{id}': 'getRefund',
  'post /v1/transfers': 'createTransfer',
  'get /v1/transfers': 'listTransfers',
  'get /v1/transfers/{id}': 'getTransfer',
  'post /v1/payment-links': 'createPaymentLink',
  'get /v1/payment-links': 'listPaymentLinks',
  'get /v1/payment-links/{id}': 'getPaymentLink',
  'patch /v1/payment-links/{id}': 'updatePaymentLink',
  'get /v1/payment-links/{id}/payins': 'listPaymentLinkPayins',
  'get /v1/operators': 'listOperators',
  'get /v1/balance': 'getBalance',
  'get /v1/ledger/entries': 'listLedgerEntries',
  'post /v1/reconciliation/runs': 'startReconciliationRun',
  'get /v1/reconciliation/runs': 'listReconciliationRuns',
  'get /v1/reconciliation/runs/{id}': 'getReconciliationRun',
  'get /v1/reconciliation/events': 'listOperationsEvents',
  'post /v1/reconciliation/reports': 'uploadSettlementReport',
  'post /v1/reconciliation/discrepancies/{id}/resolve': 'resolveDiscrepancy',
  'get /v1/reconciliation/runs/{id}/discrepancies.csv': 'exportDiscrepanciesCsv',
  'get /v1/reconciliation/runs/{id}/discrepancies.xml': 'exportDiscrepanciesXml',
  'get /v1/events': 'listEvents',
  'get /v1/events/stream': 'streamEvents',
  'get /v1/events/{id}': 'getEvent',
  'get /v1/events/{id}/deliveries': 'listEventDeliveries',
  'post /v1/events/{id}/resend': 'resendEvent',
  'post /v1/webhook-endpoints': 'createWebhookEndpoint',
  'get /v1/webhook-endpoints': 'listWebhookEndpoints',
  'get /v1/webhook-endpoints/{id}': 'getWebhookEndpoint',
  'patch /v1/webhook-endpoints/{id}': 'updateWebhookEndpoint',
  'delete /v1/webhook-endpoints/{id}': 'deleteWebhookEndpoint',
  'post /v1/webhook-endpoints/{id}/rotate-secret': 'rotateWebhookEndpointSecret',
  'get /v1/webhook-endpoints/{id}/deliveries': 'listWebhookEndpointDeliveries',
  'post /v1/webhook-endpoints/{id}/replay': 'replayWebhookEndpointEvents',
  'get /healthz': 'getHealth',
};

/** What a create answers, and the operation that reads it again (OpenAPI links). */
const READ_BACK: Record<string, { operationId: string; status: string[] }> = {
  createPayin: { operationId: 'getPayin', status: ['201', '202'] },
  createPayout: { operationId: 'getPayout', status: ['201', '202'] },
  refundPayin: { operationId: 'getRefund', status: ['201', '202'] },
  createTransfer: { operationId: 'getTransfer', status: ['201', '202'] },
  createPaymentLink: { operationId: 'getPaymentLink', status: ['201'] },
  createWebhookEndpoint: { operationId: 'getWebhookEndpoint', status: ['201'] },
  createApiKey: { operationId: 'getApiKey', status: ['201'] },
  rotateApiKey: { operationId: 'getApiKey', status: ['201'] },
  startReconciliationRun: { operationId: 'getReconciliationRun', status: ['202'] },
};

const UploadSchema = z
  .object({
    id: z.string(),
    object: z.literal('reconciliation_upload'),
    operator: z.string(),
    sha256: z.string(),
    filename: z.string().nullable(),
    period_start: z.string(),
    period_end: z.string(),
    lines: z.number().int(),
    unreadable_lines: z.number().int(),
    run_id: z.string().nullable(),
    duplicate: z.boolean(),
  })
  .meta({ id: 'ReconciliationUpload' });

/** The OpenAPI document the API serves. */
export function buildOpenApiDocument() {
  return buildContract().doc;
}

/** One documented operation's JSON answers, by status: the zod schemas the document is made of. */
export interface DocumentedResponses {
  method: string;
  path: string;
  /** The path as a regular expression (`{id}` matches one segment). */
  pattern: RegExp;
  schemas: Record<string, z.ZodType>;
}

/** The document and, for the response check, each operation's JSON response schemas. */
export function buildContract() {
  const registry = new OpenAPIRegistry();
  const bearer = registry.registerComponent('securitySchemes', 'apiKey', {
    type: 'http',
    scheme: 'bearer',
    description:
      'Your secret API key (`sk_test_...` or `sk_live_...`), or an OAuth access token issued for one. ' +
      "The key's mode decides the mode of everything the request makes and sees.",
  });
  registry.registerComponent('securitySchemes', 'oauth2', {
    type: 'oauth2',
    description: 'Client credentials: the client_id is an API key id, the client_secret the key itself.',
    flows: {
      clientCredentials: {
        tokenUrl: '/oauth/token',
        scopes: {
          read: 'Read payins, payouts, refunds, transfers, events, balances and the ledger',
          payins: 'Create and act on payins',
          payouts: 'Create payouts, refunds and transfers',
          admin: 'Manage API keys and webhook endpoints',
        },
      },
    },
  });
  const problem = (description: string) => ({
    description,
    content: { 'application/problem+json': { schema: ProblemSchema } },
  });
  const idParam = z.object({ id: z.string().meta({ example: 'pay_7k2m4q6s8u2w4y6a3c5e7g2i' }) });

  registry.registerPath({
    method: 'post',
    path: '/v1/payins',
    summary: 'Create a payin',
    description:
      'Starts collecting money from a payer. The answer carries `next_action`: a redirect URL, ' +
      '"approve on your phone", or the final status. Send an `Idempotency-Key` to retry safely.',
    security: [{ [bearer.name]: [] }],
    request: {
      headers: z.object({ 'Idempotency-Key': z.string().max(255).optional() }),
      body: { required: true, content: { 'application/json': { schema: CreatePayinRequest } } },
    },
    responses: {
      201: {
        description: 'Payin created and sent to the operator',
        content: { 'application/json': { schema: PayinSchema } },
      },
      202: {
        description: 'Payin created; the operator has not answered yet',
        content: { 'application/json': { schema: PayinSchema } },
      },
      400: problem('Invalid input (the `errors` member names the fields)'),
      401: problem('Missing or invalid API key'),
      409: problem('Idempotency-Key reused with another body'),
      422: problem('The operator cannot make this payment (currency, network, amount range, OTP missing)'),
      503: problem('Temporal or PostgreSQL unavailable'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/payins',
    summary: 'List payins, newest first',
    security: [{ [bearer.name]: [] }],
    request: { query: PayinListQuery },
    responses: {
      200: { description: 'A page of payins', content: { 'application/json': { schema: PayinListSchema } } },
      400: problem('Invalid filter or cursor'),
      401: problem('Missing or invalid API key'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/payins/{id}',
    summary: 'Read a payin',
    security: [{ [bearer.name]: [] }],
    request: { params: idParam },
    responses: {
      200: { description: 'The payin', content: { 'application/json': { schema: PayinSchema } } },
      401: problem('Missing or invalid API key'),
      404: problem('No such payin for this merchant'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/payins/{id}/events',
    summary: "A payin's history of transitions",
    security: [{ [bearer.name]: [] }],
    request: { params: idParam },
    responses: {
      200: {
        description: 'Events, oldest first',
        content: {
          'application/json': {
            schema: z.object({ object: z.literal('list'), data: z.array(PaymentEventSchema) }),
          },
        },
      },
      404: problem('No such payin for this merchant'),
    },
  });
  const json = (schema: z.ZodType, description: string) => ({
    description,
    content: { 'application/json': { schema } },
  });
  // Required on money-moving creates: a retry without one could pay twice (api/idempotency.ts).
  const idempotencyHeader = z.object({
    'Idempotency-Key': z.string().min(1).max(255).openapi({
      description:
        'A unique key per payout, refund or transfer: a repeat with the same key and body replays the answer',
    }),
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/payouts',
    summary: "Pay money out to a mobile money number from the merchant's balance",
    description:
      'Holds amount + fee on the available balance, then sends the payout once. A payout whose outcome ' +
      'the operator cannot confirm stays `unknown` with its hold until reconciliation settles it.',
    security: [{ [bearer.name]: [] }],
    request: {
      headers: idempotencyHeader,
      body: { required: true, content: { 'application/json': { schema: CreatePayoutRequest } } },
    },
    responses: {
      201: json(PayoutSchema, 'Payout held and sent (or refused by the operator: see status and failure)'),
      202: json(PayoutSchema, 'Payout recorded; its first step is still running'),
      400: problem('Invalid input'),
      409: problem('Idempotency-Key reused with another body'),
      422: problem(
        'Balance too low (`insufficient_balance`, with `payout_id`), amount out of range, number not on the network',
      ),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/payouts',
    summary: 'List payouts, newest first',
    security: [{ [bearer.name]: [] }],
    request: { query: PayinListQuery },
    responses: { 200: json(PayoutListSchema, 'A page of payouts') },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/payouts/{id}',
    summary: 'Read a payout',
    security: [{ [bearer.name]: [] }],
    request: { params: idParam },
    responses: { 200: json(PayoutSchema, 'The payout'), 404: problem('No such payout for this merchant') },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/payins/{id}/refunds',
    summary: 'Refund a succeeded payin, in full or in part',
    security: [{ [bearer.name]: [] }],
    request: {
      params: idParam,
      headers: idempotencyHeader,
      body: { required: true, content: { 'application/json': { schema: CreateRefundRequest } } },
    },
    responses: {
      201: json(RefundSchema, 'Refund held and sent'),
      202: json(RefundSchema, 'Refund recorded; its first step is still running'),
      400: problem('Invalid input (or the payer number is unknown: give recipient.phone)'),
      404: problem('No such payin for this merchant'),
      422: problem('Exceeds what remains refundable, payin not succeeded, or balance too low'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/payins/{id}/refunds',
    summary: "A payin's refunds",
    security: [{ [bearer.name]: [] }],
    request: { params: idParam },
    responses: {
      200: json(
        z.object({ object: z.literal('list'), data: z.array(RefundSchema) }),
        'Refunds, oldest first',
      ),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/refunds/{id}',
    summary: 'Read a refund',
    security: [{ [bearer.name]: [] }],
    request: { params: idParam },
    responses: { 200: json(RefundSchema, 'The refund'), 404: problem('No such refund for this merchant') },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/transfers',
    summary: 'Send money from a payer on one network to a payee on another',
    description:
      'Collects from the sender, pays the recipient, refunds the sender if the payout fails (docs/transfers.md). ' +
      'The answer carries the sender next action and each leg.',
    security: [{ [bearer.name]: [] }],
    request: {
      headers: idempotencyHeader,
      body: { required: true, content: { 'application/json': { schema: CreateTransferRequest } } },
    },
    responses: {
      201: json(TransferSchema, 'Transfer started; `next_action` says what the sender must do'),
      202: json(TransferSchema, 'Transfer recorded; its first step is still running'),
      400: problem('Invalid input'),
      422: problem('A number not routable, an amount outside a route, or the payout route cannot pay now'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/transfers/{id}',
    summary: 'Read a transfer, its legs and its events',
    security: [{ [bearer.name]: [] }],
    request: { params: z.object({ id: z.string().meta({ example: 'trf_7k2m4q6s8u2w4y6a3c5e7g2i' }) }) },
    responses: {
      200: json(TransferWithEventsSchema, 'The transfer'),
      404: problem('No such transfer for this merchant'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/transfers',
    summary: 'List transfers, newest first',
    security: [{ [bearer.name]: [] }],
    request: { query: PayinListQuery },
    responses: { 200: json(TransferListSchema, 'A page of transfers') },
  });
  const linkId = z.object({ id: z.string().meta({ example: 'lnk_7k2m4q6s8u2w4y6a3c5e7g2i' }) });
  registry.registerPath({
    method: 'post',
    path: '/v1/payment-links',
    summary: 'Create a payment link: a public page where each payer pays (docs/payment-links.md)',
    security: [{ [bearer.name]: [] }],
    request: {
      headers: idempotencyHeader,
      body: { required: true, content: { 'application/json': { schema: CreatePaymentLinkRequest } } },
    },
    responses: {
      201: json(PaymentLinkSchema, 'The link; share its `url`'),
      400: problem('Invalid input'),
      409: problem('The slug is taken'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/payment-links',
    summary: 'List payment links, newest first',
    security: [{ [bearer.name]: [] }],
    request: { query: PayinListQuery.pick({ limit: true, cursor: true }) },
    responses: { 200: json(PaymentLinkListSchema, 'A page of payment links') },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/payment-links/{id}',
    summary: 'Read a payment link and its totals (from the ledger)',
    security: [{ [bearer.name]: [] }],
    request: { params: linkId },
    responses: { 200: json(PaymentLinkSchema, 'The link'), 404: problem('No such link for this merchant') },
  });
  registry.registerPath({
    method: 'patch',
    path: '/v1/payment-links/{id}',
    summary: 'Deactivate a payment link, or change its sales limit or expiry',
    security: [{ [bearer.name]: [] }],
    request: {
      params: linkId,
      body: { required: true, content: { 'application/json': { schema: UpdatePaymentLinkRequest } } },
    },
    responses: {
      200: json(PaymentLinkSchema, 'The link'),
      400: problem('Invalid input'),
      404: problem('No such link for this merchant'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/payment-links/{id}/payins',
    summary: "The link's payins (one hosted payin per payer), newest first",
    security: [{ [bearer.name]: [] }],
    request: { params: linkId, query: PayinListQuery },
    responses: {
      200: json(LinkPayinListSchema, 'A page of payins'),
      404: problem('No such link for this merchant'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/operators',
    summary: 'Route health and the balances operators report',
    security: [{ [bearer.name]: [] }],
    responses: {
      200: json(
        OperatorListSchema,
        'One entry per operator, then one per card rail this deployment runs (gim, processor)',
      ),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/balance',
    summary: 'Balances per currency: available, on hold, pending',
    security: [{ [bearer.name]: [] }],
    responses: { 200: json(BalanceSchema, 'The balances') },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/ledger/entries',
    summary: "Ledger entries moving the merchant's accounts, newest first",
    security: [{ [bearer.name]: [] }],
    request: { query: LedgerQuery },
    responses: {
      200: json(
        z.object({
          object: z.literal('list'),
          data: z.array(LedgerEntrySchema),
          has_more: z.boolean(),
          next_cursor: z.string().nullable(),
        }),
        'A page of entries',
      ),
      400: problem('Invalid filter or cursor'),
    },
  });
  // Each operator's callback intake, with the methods it calls back with (the operator table).
  const callbackAnswer = z.object({ received: z.literal(true), id: z.number().int(), verdict: z.string() });
  for (const operator of OPERATORS) {
    const { label, callbackMethods } = OPERATOR_TABLE[operator];
    for (const path of [`/v1/callbacks/${operator}`, `/v1/callbacks/${operator}/{token}`]) {
      const withToken = path.endsWith('{token}');
      for (const method of callbackMethods) {
        registry.registerPath({
          method: method.toLowerCase() as 'get' | 'post' | 'put',
          path,
          summary: `${label} callback intake (called by ${label}, not merchants)${withToken ? ', with the secret token of its registered URL' : ''}`,
          ...(withToken ? { request: { params: z.object({ token: z.string() }) } } : {}),
          responses: {
            200: json(callbackAnswer, 'Stored; `verdict` says what was done with it'),
            404: problem('No such operator'),
            405: problem(`${label} calls back with ${callbackMethods.join(' or ')} only`),
            413: problem('Body over 16 kB: not stored'),
            429: problem('Too many callbacks from this address: not stored'),
            503: problem('Stored, but could not be processed now; the operator should retry'),
          },
        });
      }
    }
  }
  // Operations routes: the operations key, never a merchant's.
  const admin = registry.registerComponent('securitySchemes', 'operationsKey', {
    type: 'http',
    scheme: 'bearer',
    description: 'The operations key (ADMIN_API_KEY); `npm start` prints it.',
  });
  const runId = z.object({ id: z.string().meta({ example: 'rcn_settlement-ligdicash-2026-11-22' }) });
  registry.registerPath({
    method: 'post',
    path: '/v1/reconciliation/runs',
    summary: 'Run a settlement reconciliation or a sweep for an operator now',
    description:
      'Settlement: the operator report for `date` (default yesterday, UTC) or for `from`..`to`, ' +
      'matched against our payments and ledger. Sweep: every payment left pending or unknown past its ' +
      'deadline, looked up and settled.',
    security: [{ [admin.name]: [] }],
    request: { body: { required: true, content: { 'application/json': { schema: TriggerRun } } } },
    responses: {
      202: json(
        z.object({
          id: z.string(),
          object: z.literal('reconciliation_run'),
          status: z.literal('running'),
          workflow_id: z.string(),
        }),
        'Started; readable at `Location` at once',
      ),
      400: problem('Invalid operator, kind or period'),
      401: problem('Missing or invalid operations key'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/reconciliation/events',
    summary: 'Operations events (`reconciliation.discrepancy_found`), newest first',
    security: [{ [admin.name]: [] }],
    request: { query: OperationsEventQuery },
    responses: {
      200: json(EventListSchema, 'A page of events'),
      400: problem('Invalid filter or cursor'),
      401: problem('Missing or invalid operations key'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/reconciliation/runs',
    summary: 'Reconciliation runs, newest first',
    security: [{ [admin.name]: [] }],
    request: { query: RunListQuery },
    responses: {
      200: json(z.object({ object: z.literal('list'), data: z.array(ReconciliationRunSchema) }), 'Runs'),
      401: problem('Missing or invalid operations key'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/reconciliation/runs/{id}',
    summary: 'A run with its discrepancies (filter by class or resolution; paginated)',
    security: [{ [admin.name]: [] }],
    request: { params: runId, query: DiscrepancyQuery },
    responses: {
      200: json(
        ReconciliationRunSchema.extend({
          discrepancies: z.object({
            object: z.literal('list'),
            data: z.array(DiscrepancySchema),
            has_more: z.boolean(),
            next_cursor: z.string().nullable(),
          }),
        }),
        'The run',
      ),
      404: problem('No such run'),
    },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/reconciliation/reports',
    summary:
      "Upload an operator's transaction export (CSV or XLSX) from its back-office; it is reconciled like a report",
    description:
      "Read with the operator's column mapping (docs/reconciliation.md) as it streams. The same file for the same operator and period again answers the first upload (200) and changes nothing.",
    security: [{ [admin.name]: [] }],
    request: {
      query: UploadQuery,
      body: {
        required: true,
        content: {
          'text/csv': { schema: z.string() },
          'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': {
            schema: z.string().meta({ format: 'binary' }),
          },
        },
      },
    },
    responses: {
      202: json(UploadSchema, 'Stored; its reconciliation run started (Location)'),
      200: json(UploadSchema, 'This file was uploaded before for this period: its first upload and run'),
      400: problem('Bad period, or a header that names no column for a field'),
      401: problem('Missing or invalid operations key'),
      413: problem('Larger than 200 MB, or more than 5,000,000 lines'),
      415: problem('Neither CSV nor XLSX'),
    },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/reconciliation/discrepancies/{id}/resolve',
    summary: 'Close a discrepancy that needs a person, with a note that stays in the reports',
    security: [{ [admin.name]: [] }],
    request: {
      params: z.object({ id: z.string().regex(/^\d+$/).meta({ example: '42' }) }),
      body: { required: true, content: { 'application/json': { schema: ResolveDiscrepancyRequest } } },
    },
    responses: {
      200: {
        description: 'Closed (the same note again: unchanged)',
        content: { 'application/json': { schema: DiscrepancySchema } },
      },
      400: problem('Invalid note'),
      401: problem('Missing or invalid operations key'),
      404: problem('No such discrepancy'),
      409: problem('Already closed with another note, or resolved by a policy'),
    },
  });
  for (const [ext, type] of [
    ['csv', 'text/csv'],
    ['xml', 'application/xml'],
  ] as const) {
    registry.registerPath({
      method: 'get',
      path: `/v1/reconciliation/runs/{id}/discrepancies.${ext}`,
      summary: `Every discrepancy of a run, as ${ext.toUpperCase()}`,
      security: [{ [admin.name]: [] }],
      request: { params: runId },
      responses: {
        200: { description: 'The report', content: { [type]: { schema: z.string() } } },
        404: problem('No such run'),
      },
    });
  }
  // ------------------------------------------------------------------ events and webhooks
  const secured = [{ [bearer.name]: [] }];
  const unauthenticated = problem('Missing or invalid API key');
  const eventId = z.object({ id: z.string().meta({ example: 'evt_2b4d6f8h2j4l6n8p3r5t7v2x' }) });
  const endpointId = z.object({ id: z.string().meta({ example: 'we_5c7e2g4i6k8m2o4q6s8u3w5y' }) });
  registry.registerPath({
    method: 'get',
    path: '/v1/events',
    summary: 'List events, newest first',
    description: `Every change of your payins, payouts, refunds, transfers and webhook endpoints. Types: ${EVENT_TYPES.join(', ')}.`,
    security: secured,
    request: { query: EventListQuery },
    responses: {
      200: json(EventListSchema, 'A page of events'),
      400: problem('Invalid filter or cursor'),
      401: unauthenticated,
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/events/stream',
    summary: 'Live stream of your events (WebSocket or Server-Sent Events)',
    description:
      'Upgrade to a WebSocket (one JSON event per text message) or ask for `text/event-stream` (SSE). ' +
      'Resume after the last event you saw with `?after=evt_...` (or the `Last-Event-ID` header): every later ' +
      'event comes once, in order. Without it, the stream starts with the next event.',
    security: secured,
    request: {
      query: z.object({
        after: z.string().optional().meta({ description: 'The id of the last event you saw' }),
      }),
      headers: z.object({ Accept: z.string().optional(), 'Last-Event-ID': z.string().optional() }),
    },
    responses: {
      101: { description: 'Switching to the WebSocket protocol' },
      200: { description: 'The SSE stream', content: { 'text/event-stream': { schema: z.string() } } },
      400: problem('`after` is not one of your events'),
      401: unauthenticated,
      406: problem('Neither a WebSocket upgrade nor `Accept: text/event-stream`'),
      503: problem('The event named by `after` is not published yet; retry'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/events/{id}',
    summary: 'Read an event',
    security: secured,
    request: { params: eventId },
    responses: { 200: json(EventSchema, 'The event'), 401: unauthenticated, 404: problem('No such event') },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/events/{id}/deliveries',
    summary: "An event's webhook deliveries and their attempts",
    security: secured,
    request: { params: eventId, query: DeliveryListQuery },
    responses: {
      200: json(DeliveryListSchema, 'Deliveries, newest first'),
      400: problem('Invalid filter or cursor'),
      401: unauthenticated,
      404: problem('No such event'),
    },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/events/{id}/resend',
    summary: 'Send an event again now',
    description:
      'To one endpoint, or to every enabled endpoint that wants its type. Same `webhook-id` as before.',
    security: secured,
    request: {
      params: eventId,
      body: { required: false, content: { 'application/json': { schema: ResendRequest } } },
    },
    responses: {
      202: json(
        z.object({ object: z.literal('webhook_resend'), event_id: z.string(), queued: z.number().int() }),
        'Queued',
      ),
      400: problem('Invalid input'),
      401: unauthenticated,
      404: problem('No such event or endpoint'),
      409: problem('The endpoint is disabled, or no enabled endpoint wants this event'),
      415: problem('The body is not JSON'),
    },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/webhook-endpoints',
    summary: 'Create a webhook endpoint',
    description:
      'Deliveries follow Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`). The answer ' +
      'carries the signing secret (`whsec_...`), shown only this once. Live keys may not use private, loopback or ' +
      'link-local addresses.',
    security: secured,
    request: {
      body: { required: true, content: { 'application/json': { schema: CreateWebhookEndpointRequest } } },
    },
    responses: {
      201: json(WebhookEndpointSchema, 'Created, with its secret'),
      400: problem('Invalid input, or a URL refused'),
      401: unauthenticated,
      415: problem('The body is not JSON'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/webhook-endpoints',
    summary: 'List webhook endpoints',
    security: secured,
    responses: {
      200: json(z.object({ object: z.literal('list'), data: z.array(WebhookEndpointSchema) }), 'Endpoints'),
      401: unauthenticated,
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/webhook-endpoints/{id}',
    summary: 'Read a webhook endpoint',
    security: secured,
    request: { params: endpointId },
    responses: {
      200: json(WebhookEndpointSchema, 'The endpoint'),
      401: unauthenticated,
      404: problem('No such endpoint'),
    },
  });
  registry.registerPath({
    method: 'patch',
    path: '/v1/webhook-endpoints/{id}',
    summary: 'Change a webhook endpoint (URL, types, description, enabled)',
    security: secured,
    request: {
      params: endpointId,
      body: { required: true, content: { 'application/json': { schema: UpdateWebhookEndpointRequest } } },
    },
    responses: {
      200: json(WebhookEndpointSchema, 'The endpoint'),
      400: problem('Invalid input, or a URL refused'),
      401: unauthenticated,
      404: problem('No such endpoint'),
      415: problem('The body is not JSON'),
    },
  });
  registry.registerPath({
    method: 'delete',
    path: '/v1/webhook-endpoints/{id}',
    summary: 'Delete a webhook endpoint (its pending deliveries stop)',
    security: secured,
    request: { params: endpointId },
    responses: {
      200: json(
        z.object({ id: z.string(), object: z.literal('webhook_endpoint'), deleted: z.literal(true) }),
        'Deleted',
      ),
      401: unauthenticated,
      404: problem('No such endpoint'),
    },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/webhook-endpoints/{id}/rotate-secret',
    summary: 'Issue a new signing secret; the old one keeps signing for a grace period',
    security: secured,
    request: {
      params: endpointId,
      body: { required: false, content: { 'application/json': { schema: RotateSecretRequest } } },
    },
    responses: {
      200: json(
        WebhookEndpointSchema.extend({ previous_secret_expires_at: z.string() }),
        'The endpoint with its new secret (shown once)',
      ),
      400: problem('Invalid input'),
      401: unauthenticated,
      404: problem('No such endpoint'),
      415: problem('The body is not JSON'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/webhook-endpoints/{id}/deliveries',
    summary: "An endpoint's deliveries and their attempts, newest first",
    security: secured,
    request: { params: endpointId, query: DeliveryListQuery },
    responses: {
      200: json(DeliveryListSchema, 'Deliveries'),
      400: problem('Invalid filter or cursor'),
      401: unauthenticated,
      404: problem('No such endpoint'),
    },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/webhook-endpoints/{id}/replay',
    summary: 'Send again every event since a time (after an outage)',
    security: secured,
    request: {
      params: endpointId,
      body: { required: true, content: { 'application/json': { schema: ReplayRequest } } },
    },
    responses: {
      202: json(
        z.object({
          object: z.literal('webhook_replay'),
          endpoint_id: z.string(),
          since: z.string(),
          until: z.string().nullable(),
          queued: z.number().int(),
          truncated: z.boolean(),
        }),
        'Queued (at most 10,000 events per call)',
      ),
      400: problem('Invalid input'),
      401: unauthenticated,
      404: problem('No such endpoint'),
      409: problem('The endpoint is disabled'),
      415: problem('The body is not JSON'),
    },
  });
  const webhookHeaders = z.object({
    'webhook-id': z
      .string()
      .meta({ description: 'The event id: the same on every retry (deduplicate on it)' }),
    'webhook-timestamp': z
      .string()
      .meta({ description: 'Seconds since the epoch, when this attempt was signed' }),
    'webhook-signature': z.string().meta({
      description: 'Space-separated `v1,<base64 HMAC-SHA256>`, one per live secret (Standard Webhooks)',
    }),
  });
  for (const family of ['payin', 'payout', 'refund', 'transfer', 'webhook_endpoint', 'api_key']) {
    registry.registerWebhook({
      method: 'post',
      path: family,
      summary: `${family}.* events`,
      description: `Types: ${EVENT_TYPES.filter((t) => t.startsWith(`${family}.`)).join(', ')}. Verify the signature with any Standard Webhooks library before trusting the body.`,
      request: {
        headers: webhookHeaders,
        body: { required: true, content: { 'application/json': { schema: EventSchema } } },
      },
      responses: {
        200: { description: 'Any 2xx: delivered' },
        410: { description: 'Gone: the endpoint is disabled' },
      },
    });
  }

  const keyId = z.object({ id: z.string().meta({ example: 'key_2b4d6f8h2j4l6n8p3r5t7v2x' }) });
  const apiKeyList = z.object({
    object: z.literal('list'),
    data: z.array(ApiKeySchema),
    has_more: z.literal(false),
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/api-keys',
    operationId: 'createApiKey',
    summary: 'Create an API key (its secret is in this answer only)',
    description:
      'Needs the `admin` scope. A key grants at most the scopes of the key that makes it; a test key makes only ' +
      'test keys. The key id is also its OAuth client_id, its secret the client_secret.',
    security: [{ [bearer.name]: [] }],
    request: { body: { required: true, content: { 'application/json': { schema: CreateApiKeyRequest } } } },
    responses: {
      201: json(ApiKeyWithSecretSchema, 'Created'),
      400: problem('Invalid input'),
      415: problem('The body is not JSON'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/api-keys',
    operationId: 'listApiKeys',
    summary: "The merchant's keys (a live key sees both modes, a test key only test keys)",
    security: [{ [bearer.name]: [] }],
    responses: { 200: json(apiKeyList, 'Keys, newest first') },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/api-keys/{id}',
    operationId: 'getApiKey',
    summary: 'Read an API key',
    security: [{ [bearer.name]: [] }],
    request: { params: keyId },
    responses: { 200: json(ApiKeySchema, 'The key'), 404: problem('No such key') },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/api-keys/{id}/revoke',
    operationId: 'revokeApiKey',
    summary: 'Revoke a key: it and its access tokens answer 401 from now on',
    security: [{ [bearer.name]: [] }],
    request: { params: keyId },
    responses: { 200: json(ApiKeySchema, 'The revoked key'), 404: problem('No such key') },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/api-keys/{id}/rotate',
    operationId: 'rotateApiKey',
    summary: 'A new secret now; the old key keeps working for a grace period (default 24 h)',
    security: [{ [bearer.name]: [] }],
    request: {
      params: keyId,
      body: { required: false, content: { 'application/json': { schema: RotateApiKeyRequest } } },
    },
    responses: {
      201: json(ApiKeyWithSecretSchema.extend({ previous: ApiKeySchema }), 'The new key, and the old one'),
      400: problem('Invalid input'),
      404: problem('No such key'),
      409: problem('The key is revoked, expired or already rotated'),
      415: problem('The body is not JSON'),
    },
  });
  const oauthError = z
    .object({
      error: z.enum(OAUTH_ERRORS),
      error_description: z.string(),
    })
    .meta({ id: 'OAuthError' });
  registry.registerPath({
    method: 'post',
    path: '/oauth/token',
    operationId: 'issueAccessToken',
    summary: 'OAuth 2.0 client credentials: an access token for an API key (RFC 6749 section 4.4)',
    description:
      'Authenticate with HTTP Basic (client_id = the key id, client_secret = the key) or with both in the ' +
      'body. The token is a signed JWT (RFC 9068) accepted wherever a key is, with the scopes asked for ' +
      "(at most the key's); it stops working when its key is revoked or expires.",
    request: {
      body: {
        required: true,
        content: {
          'application/x-www-form-urlencoded': {
            schema: z.object({
              grant_type: z.literal('client_credentials'),
              scope: z.string().optional().meta({ description: 'Space-separated, e.g. `read payins`' }),
              client_id: z.string().optional(),
              client_secret: z.string().optional(),
            }),
          },
        },
      },
    },
    responses: {
      200: json(
        z.object({
          access_token: z.string(),
          token_type: z.literal('Bearer'),
          expires_in: z.number().int(),
          scope: z.string(),
        }),
        'A token',
      ),
      400: { description: 'RFC 6749 error', content: { 'application/json': { schema: oauthError } } },
      401: {
        description: 'Client authentication failed',
        content: { 'application/json': { schema: oauthError } },
      },
    },
  });

  registry.registerPath({
    method: 'get',
    path: '/healthz',
    summary: 'Liveness: 200 only when PostgreSQL and Temporal answer',
    responses: {
      200: json(HealthSchema, 'Healthy'),
      503: json(HealthSchema, 'A dependency does not answer'),
    },
  });

  const doc = new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Passerelle API',
      version: '0.1.0',
      description: 'One API for West African mobile money. Amounts are integers in minor units.',
    },
    servers: [{ url: '/' }],
  });
  const problemContent = {
    'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } },
  };
  const header = (description: string) => ({ description, schema: { type: 'string' } });
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const [method, op] of Object.entries(item as Record<string, SecuredOperation>)) {
      if (!op?.responses) continue;
      const callback = /^\/v1\/callbacks\/(\w+)(\/\{token\})?$/.exec(path);
      op.operationId ??=
        OPERATION_IDS[`${method} ${path}`] ??
        (callback
          ? `receive${callback[1]!.charAt(0).toUpperCase()}${callback[1]!.slice(1)}Callback` +
            `${method === 'get' ? 'ByGet' : ''}${callback[2] ? 'WithToken' : ''}`
          : undefined);
      // Every answer names its request (ours, or the caller's X-Request-Id when it is well formed).
      for (const response of Object.values(op.responses) as { headers?: Record<string, unknown> }[]) {
        response.headers = { 'X-Request-Id': header("This request's id, in our logs"), ...response.headers };
      }
      const readBack = op.operationId ? READ_BACK[op.operationId] : undefined;
      for (const status of readBack?.status ?? []) {
        const response = op.responses[status] as
          { headers?: Record<string, unknown>; links?: Record<string, unknown> } | undefined;
        if (!response) continue;
        response.headers = { Location: header('Where the created resource is read'), ...response.headers };
        response.links = {
          read: {
            operationId: readBack!.operationId,
            parameters: { id: '$response.body#/id' },
            description: 'Read it again (its status changes as the operator answers)',
          },
        };
      }
      if (op.parameters?.some((p) => p.in === 'header' && p.name.toLowerCase() === 'idempotency-key')) {
        for (const [status, response] of Object.entries(op.responses) as [string, { headers?: object }][]) {
          if (status.startsWith('2')) {
            response.headers = {
              ...response.headers,
              'Idempotent-Replayed': header(
                '`true` when this is the stored answer of an earlier request with this key',
              ),
            };
          }
        }
      }
      // What every operation of its shape can answer, whatever it does: a body that is not JSON
      // (415), too large (413) or invalid (400); a query parameter it does not know (400); an id
      // that names nothing of the caller's (404); an Idempotency-Key used for another body (409).
      const declare = (status: string, description: string) =>
        (op.responses![status] ??= { description, content: problemContent });
      if (op.requestBody) {
        declare('400', 'Invalid body (the `errors` member names the fields)');
        declare('413', 'Body too large');
        const mediaTypes = Object.keys(op.requestBody.content ?? {});
        if (mediaTypes.includes('application/json')) declare('415', 'The body is not JSON');
      }
      const params = op.parameters ?? [];
      if (params.some((p) => p.in === 'query'))
        declare('400', 'Unknown or invalid query parameter, or a foreign cursor');
      if (params.some((p) => p.in === 'path')) {
        declare('400', 'A path parameter that is not valid percent-encoding');
        declare('404', 'No such resource (of yours, in this mode)');
      }
      if (params.some((p) => p.in === 'header' && p.name.toLowerCase() === 'idempotency-key')) {
        declare('409', 'This Idempotency-Key was used with another request');
      }
      if (!op.security?.length) continue;
      // Every operation behind a key answers 401 without one (or with a wrong one): say so everywhere.
      op.responses['401'] ??= {
        description: 'Missing, unknown, revoked or expired key',
        content: problemContent,
      };
      if (!op.security.some((s) => 'apiKey' in s)) continue;
      // A merchant operation takes a key or an access token, needs a scope, and is rate limited.
      const scope = scopeNeeded(method, path.replace(/\{[^}]+\}/g, 'x'));
      op.security = [{ apiKey: [] }, { oauth2: [scope] }];
      op.description = `${op.description ? `${op.description}\n\n` : ''}Scope: \`${scope}\`${scope === 'read' ? ' (any scope reads)' : ''}.`;
      for (const [status, response] of Object.entries(op.responses) as [string, { headers?: object }][]) {
        if (status.startsWith('2')) {
          response.headers = {
            ...response.headers,
            RateLimit: header('Requests left in this window and seconds to its end: `"per-key";r=97;t=1`'),
            'RateLimit-Policy': header('The key\'s limit: `"per-key";q=100;w=1`'),
          };
        }
      }
      op.responses['403'] ??= {
        description: `The key or token lacks the \`${scope}\` scope`,
        content: problemContent,
      };
      op.responses['429'] ??= {
        description: 'Rate limited: retry after `Retry-After` seconds',
        headers: {
          'Retry-After': { schema: { type: 'integer' }, description: 'Seconds to wait' },
          RateLimit: { schema: { type: 'string' }, description: 'Remaining requests and seconds to reset' },
          'RateLimit-Policy': { schema: { type: 'string' }, description: 'The limit and its window' },
        },
        content: problemContent,
      };
    }
  }
  const responses: DocumentedResponses[] = [];
  for (const definition of registry.definitions) {
    if (definition.type !== 'route') continue;
    const { method, path, responses: byStatus } = definition.route;
    const schemas: Record<string, z.ZodType> = {};
    for (const [status, response] of Object.entries(byStatus)) {
      const schema = (response as { content?: Record<string, { schema?: unknown }> }).content?.[
        'application/json'
      ]?.schema;
      if (schema instanceof z.ZodType) schemas[status] = schema;
    }
    const pattern = new RegExp(
      `^${path
        .split(/\{[^}]+\}/)
        .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
        .join('[^/]+')}$`,
    );
    responses.push({ method, path, pattern, schemas });
  }
  return { doc, responses };
}

interface SecuredOperation {
  operationId?: string;
  security?: Record<string, string[]>[];
  description?: string;
  requestBody?: { content?: Record<string, unknown> };
  parameters?: { in: string; name: string }[];
  responses?: Record<string, unknown>;
}
