import { Router } from 'express';
import {
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  type Client,
} from '@temporalio/client';
import type { OperatorRules } from '../activities/index.js';
import { completeIdempotencyKey, reserveIdempotencyKey } from '../db/idempotency.js';
import {
  getMerchantPayment,
  insertPayment,
  listMerchantPayments,
  listPaymentEvents,
  storePayinOtp,
  type PaymentCursor,
  type PaymentRecord,
} from '../db/payments.js';
import { inTransaction, type Pool } from '../db/pool.js';
import type { Config } from '../lib/config.js';
import { newId } from '../lib/ids.js';
import type { Network } from '../lib/networks.js';
import { PAYMENT_ID_PATTERN } from '../lib/payments.js';
import { parseMsisdn } from '../lib/phone.js';
import type { payin } from '../workflows/payin.js';
import {
  PAYIN_WORKFLOW_TYPE,
  SA,
  initiationUpdate,
  payinWorkflowId,
  type PayinWorkflowInput,
} from '../workflows/shared.js';
import { currentMerchant } from './auth.js';
import { idempotencyKeyOf, requestHash } from './idempotency.js';
import { Problem, validationProblem } from './problems.js';
import { CreatePayinRequest, PayinListQuery } from './schemas.js';

export interface PayinRouteDeps {
  config: Config;
  pool: Pool;
  temporal: Client;
  operators: OperatorRules;
}

export function payinView(p: PaymentRecord) {
  return {
    id: p.id,
    object: 'payin' as const,
    status: p.status,
    amount: p.amount,
    currency: p.currency,
    operator: p.operator,
    network: p.network,
    mode: p.mode,
    customer: {
      ...(p.customer.phone ? { phone: p.customer.phone } : {}),
      ...(p.customer.firstName ? { first_name: p.customer.firstName } : {}),
      ...(p.customer.lastName ? { last_name: p.customer.lastName } : {}),
      ...(p.customer.email ? { email: p.customer.email } : {}),
    },
    description: p.description,
    metadata: p.metadata,
    next_action: p.nextAction,
    failure: p.failure,
    operator_reference: p.operatorReference,
    operator_status: p.operatorStatus,
    return_url: p.returnUrl,
    cancel_url: p.cancelUrl,
    workflow_id: p.workflowId,
    deadline_at: p.deadlineAt?.toISOString() ?? null,
    created_at: p.createdAt.toISOString(),
    updated_at: p.updatedAt.toISOString(),
    completed_at: p.completedAt?.toISOString() ?? null,
  };
}

function encodeCursor(c: PaymentCursor): string {
  return Buffer.from(JSON.stringify([c.createdAt, c.id])).toString('base64url');
}

function decodeCursor(text: string): PaymentCursor {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown[];
    if (typeof createdAt === 'string' && typeof id === 'string' && !Number.isNaN(Date.parse(createdAt))) {
      return { createdAt, id };
    }
  } catch {
    // fall through
  }
  throw new Problem('validation-error', 'cursor is not one we issued', {
    errors: [{ field: 'cursor', message: 'use next_cursor from the previous page' }],
  });
}

/** Operator-specific settings a payin workflow runs with. */
function operatorTiming(config: Config, operator: string) {
  switch (operator) {
    case 'ligdicash':
    default:
      return {
        deadlineSeconds: config.LIGDICASH_PAYIN_DEADLINE_SECONDS,
        poll: {
          initialSeconds: config.LIGDICASH_POLL_INITIAL_SECONDS,
          maxSeconds: config.LIGDICASH_POLL_MAX_SECONDS,
        },
      };
  }
}

/** Checks what needs no operator: the number, the network, the mode; returns the payer's details. */
function validateBusinessRules(body: CreatePayinRequest, operators: OperatorRules) {
  let phone: string | undefined;
  let network: Network | undefined = body.network;
  if (body.customer.phone !== undefined) {
    const parsed = parseMsisdn(body.customer.phone);
    if (!parsed.ok) {
      throw new Problem('validation-error', `customer.phone: ${parsed.reason}`, {
        errors: [{ field: 'customer.phone', message: parsed.reason }],
      });
    }
    phone = parsed.value.e164;
    network ??= parsed.value.network;
  }
  if (body.mode === 'direct' && !phone) {
    throw new Problem('validation-error', 'customer.phone is required for a direct payin', {
      errors: [{ field: 'customer.phone', message: 'required when mode is "direct"' }],
    });
  }
  if (body.otp !== undefined && body.mode !== 'direct') {
    throw new Problem('validation-error', 'otp only goes with mode "direct"', {
      errors: [{ field: 'otp', message: 'only for mode "direct"' }],
    });
  }
  const refusal = operators.validatePayin(body.operator, {
    amount: { amount: body.amount, currency: body.currency },
    mode: body.mode,
    network: body.mode === 'direct' ? network : undefined,
    customer: { phone },
    otp: body.otp,
    description: body.description ?? '',
  });
  if (refusal) throw new Problem('payment-not-possible', refusal.message, { code: refusal.code });
  return { phone, network: body.mode === 'direct' ? network : undefined };
}

export function payinRoutes(deps: PayinRouteDeps): Router {
  const { config, pool, temporal, operators } = deps;
  const router = Router();

  router.post('/', async (req, res) => {
    const merchant = currentMerchant(res.locals);
    const idempotencyKey = idempotencyKeyOf(req);
    if (!req.is('application/json')) {
      throw new Problem(
        'unsupported-media-type',
        'Send the payin as JSON with Content-Type: application/json',
      );
    }
    const parsed = CreatePayinRequest.safeParse(req.body);
    if (!parsed.success) throw validationProblem(parsed.error);
    const body = parsed.data;
    const { phone, network } = validateBusinessRules(body, operators);

    let paymentId = newId('pay');
    if (idempotencyKey) {
      const reservation = await reserveIdempotencyKey(pool, {
        merchantId: merchant.id,
        key: idempotencyKey,
        method: 'POST',
        path: '/v1/payins',
        requestHash: requestHash('POST', '/v1/payins', req.body),
        resourceId: paymentId,
      });
      if (!reservation.reserved) {
        const existing = reservation.existing;
        if (existing.requestHash !== requestHash('POST', '/v1/payins', req.body)) {
          throw new Problem(
            'idempotency-key-reused',
            'This Idempotency-Key was used with another request body; use a new key for a new payin',
          );
        }
        if (existing.responseStatus !== null) {
          res.setHeader('Idempotent-Replayed', 'true');
          res.status(existing.responseStatus).json(existing.responseBody);
          return;
        }
        // The first request did not finish (crash, or still running): carry on with its payment.
        paymentId = existing.resourceId ?? paymentId;
      }
    }

    const timing = operatorTiming(config, body.operator);
    const deadlineAt = new Date(Date.now() + timing.deadlineSeconds * 1000);
    const workflowId = payinWorkflowId(paymentId);
    await inTransaction(pool, async (client) => {
      const inserted = await insertPayment(client, {
        id: paymentId,
        merchantId: merchant.id,
        kind: 'payin',
        amount: body.amount,
        currency: body.currency,
        operator: body.operator,
        network,
        mode: body.mode,
        customer: {
          ...(phone ? { phone } : {}),
          ...(body.customer.first_name ? { firstName: body.customer.first_name } : {}),
          ...(body.customer.last_name ? { lastName: body.customer.last_name } : {}),
          ...(body.customer.email ? { email: body.customer.email } : {}),
        },
        description: body.description,
        returnUrl: body.return_url,
        cancelUrl: body.cancel_url,
        metadata: body.metadata,
        deadlineAt,
        workflowId,
      });
      if (inserted && body.otp) await storePayinOtp(client, paymentId, body.otp);
    });
    req.log = req.log.child({ paymentId, workflowId });

    const stored = (await getMerchantPayment(pool, merchant.id, paymentId, 'payin'))!;
    const input: PayinWorkflowInput = {
      paymentId,
      merchantId: merchant.id,
      operator: body.operator,
      mode: body.mode,
      amount: body.amount,
      currency: body.currency,
      deadlineAt: (stored.deadlineAt ?? deadlineAt).toISOString(),
      poll: timing.poll,
    };
    const initiated = await startPayinWorkflow(temporal, config, input);
    if (initiated === 'unavailable') {
      throw new Problem(
        'service-unavailable',
        `The payin ${paymentId} is recorded but could not be started; retry with the same Idempotency-Key`,
      );
    }
    const payment = (await getMerchantPayment(pool, merchant.id, paymentId, 'payin'))!;
    const status = initiated === 'waiting' ? 202 : 201;
    const view = payinView(payment);
    if (idempotencyKey && status === 201) {
      await completeIdempotencyKey(pool, {
        merchantId: merchant.id,
        key: idempotencyKey,
        status,
        body: view,
      });
    }
    req.log.info({ status: payment.status }, 'payin created');
    res.status(status).location(`/v1/payins/${paymentId}`).json(view);
  });

  router.get('/', async (req, res) => {
    const merchant = currentMerchant(res.locals);
    const parsed = PayinListQuery.safeParse(req.query);
    if (!parsed.success) throw validationProblem(parsed.error);
    const { status, limit, cursor } = parsed.data;
    const page = await listMerchantPayments(pool, {
      merchantId: merchant.id,
      kind: 'payin',
      status,
      limit,
      after: cursor ? decodeCursor(cursor) : undefined,
    });
    res.json({
      object: 'list',
      data: page.items.map(payinView),
      has_more: page.next !== undefined,
      next_cursor: page.next ? encodeCursor(page.next) : null,
    });
  });

  router.get('/:id', async (req, res) => {
    const payment = await findPayin(pool, currentMerchant(res.locals).id, req.params.id);
    res.json(payinView(payment));
  });

  router.get('/:id/events', async (req, res) => {
    const payment = await findPayin(pool, currentMerchant(res.locals).id, req.params.id);
    const events = await listPaymentEvents(pool, payment.id);
    res.json({
      object: 'list',
      data: events.map((e) => ({
        id: e.id,
        from_status: e.fromStatus,
        to_status: e.toStatus,
        actor: e.actor,
        reason: e.reason,
        operator_status: e.operatorStatus,
        operator_message: e.operatorMessage,
        created_at: e.createdAt.toISOString(),
      })),
    });
  });

  return router;
}

async function findPayin(pool: Pool, merchantId: string, id: string): Promise<PaymentRecord> {
  const payment = PAYMENT_ID_PATTERN.test(id)
    ? await getMerchantPayment(pool, merchantId, id, 'payin')
    : undefined;
  if (!payment) throw new Problem('not-found', `No payin ${id}`);
  return payment;
}

/**
 * Starts the payin workflow and waits for its initiation step (update-with-start), so that the
 * create call answers with the payer's next action. Safe to repeat for one payment: the workflow
 * id comes from the payment id, a running workflow is reused and a closed one is never re-run.
 */
async function startPayinWorkflow(
  temporal: Client,
  config: Config,
  input: PayinWorkflowInput,
): Promise<'initiated' | 'waiting' | 'unavailable'> {
  const startWorkflowOperation = new WithStartWorkflowOperation<typeof payin>(PAYIN_WORKFLOW_TYPE, {
    workflowId: payinWorkflowId(input.paymentId),
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'REJECT_DUPLICATE',
    typedSearchAttributes: [
      { key: SA.paymentId, value: input.paymentId },
      { key: SA.merchantId, value: input.merchantId },
      { key: SA.kind, value: 'payin' },
      { key: SA.operator, value: input.operator },
      { key: SA.status, value: 'created' },
      { key: SA.amount, value: input.amount },
    ],
  });
  const update = temporal.workflow.executeUpdateWithStart(initiationUpdate, {
    startWorkflowOperation,
    updateId: 'initiation',
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'waiting'>((resolve) => {
    timer = setTimeout(() => resolve('waiting'), config.PAYIN_INITIATION_WAIT_SECONDS * 1000);
  });
  try {
    return await Promise.race([update.then(() => 'initiated' as const), timeout]);
  } catch (err) {
    // The workflow already ran to its end: the payment row tells how it ended.
    if (err instanceof WorkflowExecutionAlreadyStartedError) return 'initiated';
    if (await workflowExists(temporal, input.paymentId)) return 'waiting';
    return 'unavailable';
  } finally {
    clearTimeout(timer);
    update.catch(() => undefined);
  }
}

async function workflowExists(temporal: Client, paymentId: string): Promise<boolean> {
  try {
    await temporal.workflow.getHandle(payinWorkflowId(paymentId)).describe();
    return true;
  } catch {
    return false;
  }
}
