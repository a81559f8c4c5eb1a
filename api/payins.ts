import { cardVaultRing } from '../lib/config.js';
import { Router, type Request, type Response } from 'express';
import { feeFor } from '../db/fees.js';
import {
  getMerchantPayment,
  insertPayment,
  listPaymentEvents,
  storePayinOtp,
  type PaymentCustomer,
} from '../db/payments.js';
import { inTransaction } from '../db/pool.js';
import { operatorTiming } from '../lib/operators.js';
import { newId } from '../lib/ids.js';
import { NETWORKS, type Network } from '../lib/networks.js';
import { parseMsisdn } from '../lib/phone.js';
import { paymentDeadline, payinWorkflowId } from '../lib/payment-workflows.js';
import { currentMerchant } from './auth.js';
import { idempotentCreate, replayIdempotent } from './idempotency.js';
import { payinRoutesFor } from './routing.js';
import { findPayment, listRoute, requireJson, type PaymentRouteDeps } from './payment-routes.js';
import { Problem, validationProblem } from './problems.js';
import { CreatePayinRequest } from './schemas.js';
import { paymentView } from './views.js';
import { startHostedPayin, startPayin } from './payment-start.js';
import { offeredNetworks, payinView, recordHostedPayin } from './hosted-payins.js';

/** Checks what needs no operator: the number, the network, the mode; returns the payer's details. */
function payerDetails(body: CreatePayinRequest) {
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
    if (network && NETWORKS[network].country !== parsed.value.country) {
      throw new Problem('payment-not-possible', `${phone} is not a ${NETWORKS[network].name} number`, {
        code: 'network_mismatch',
      });
    }
    // Number portability: a network the merchant names wins over the prefix.
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
  return { phone, network };
}

/** The payer as the merchant described them (the number as we parsed it). */
function payerOf(body: CreatePayinRequest, phone: string | undefined): PaymentCustomer {
  return {
    ...(phone ? { phone } : {}),
    ...(body.customer.first_name ? { firstName: body.customer.first_name } : {}),
    ...(body.customer.last_name ? { lastName: body.customer.last_name } : {}),
    ...(body.customer.email ? { email: body.customer.email } : {}),
    ...(body.customer.language ? { language: body.customer.language } : {}),
  };
}

export function payinRoutes(deps: PaymentRouteDeps): Router {
  const { config, pool, temporal, operators } = deps;
  const vault = cardVaultRing(config);
  const router = Router();

  router.post('/', async (req, res) => {
    const merchant = currentMerchant(res.locals);
    requireJson(req.is('application/json'));
    if (await replayIdempotent(pool, req, res, { merchantId: merchant.id, path: '/v1/payins' })) return;
    const parsed = CreatePayinRequest.safeParse(req.body);
    if (!parsed.success) throw validationProblem(parsed.error);
    const body = parsed.data;
    if (body.mode === 'hosted') return void (await createHosted(req, res, body));
    if (body.country !== undefined || body.expires_in !== undefined) {
      const field = body.country !== undefined ? 'country' : 'expires_in';
      throw new Problem('validation-error', `${field} only goes with mode "hosted"`, {
        errors: [{ field, message: 'only for mode "hosted"' }],
      });
    }
    const mode = body.mode;
    const { phone, network } = payerDetails(body);
    const routes = await payinRoutesFor(pool, operators, {
      merchantId: merchant.id,
      livemode: merchant.livemode,
      operator: body.operator,
      draft: {
        amount: { amount: body.amount, currency: body.currency },
        mode: body.mode,
        network,
        customer: { phone },
        otp: body.otp,
        description: body.description ?? '',
        returnUrl: body.return_url,
        cancelUrl: body.cancel_url,
      },
    });
    const operator = routes[0]!;

    await idempotentCreate(pool, req, res, {
      merchantId: merchant.id,
      path: '/v1/payins',
      newResourceId: () => newId('pay'),
      create: async (paymentId) => {
        const timing = operatorTiming(config, operator, mode);
        const fee = await feeFor(pool, {
          merchantId: merchant.id,
          operator,
          kind: 'payin',
          currency: body.currency,
          amount: body.amount,
        });
        const inserted = await inTransaction(pool, async (client) => {
          const payment = await insertPayment(
            client,
            {
              id: paymentId,
              merchantId: merchant.id,
              livemode: merchant.livemode,
              kind: 'payin',
              amount: body.amount,
              currency: body.currency,
              feeAmount: fee,
              operator,
              network,
              mode,
              customer: payerOf(body, phone),
              description: body.description,
              returnUrl: body.return_url,
              cancelUrl: body.cancel_url,
              metadata: body.metadata,
              deadlineAt: paymentDeadline(timing, 'payin'),
              workflowId: payinWorkflowId(paymentId),
            },
            vault,
          );
          if (payment && body.otp) await storePayinOtp(client, vault, paymentId, body.otp);
          return payment;
        });
        req.log = req.log.child({ paymentId, workflowId: payinWorkflowId(paymentId) });
        // Created now, or by an earlier try of the same request (read back).
        const stored =
          inserted ?? (await getMerchantPayment(pool, merchant.id, paymentId, 'payin', merchant.livemode))!;
        const started = await startPayin(temporal, config, stored, routes);
        if (started === 'unavailable') {
          throw new Problem(
            'service-unavailable',
            `The payin ${paymentId} is recorded but could not be started; retry with the same Idempotency-Key`,
          );
        }
        const payment = (await getMerchantPayment(pool, merchant.id, paymentId, 'payin', merchant.livemode))!;
        req.log.info({ status: payment.status }, 'payin created');
        res.location(`/v1/payins/${paymentId}`);
        return { status: started === 'waiting' ? 202 : 201, body: paymentView(payment) };
      },
    });
  });

  /**
   * A hosted payin (docs/checkout.md): no operator, network or number is needed; the payer
   * chooses them on our page, whose address is the answer's `next_action.url`. Answers 201 at
   * once: nothing is sent to an operator until the payer chooses.
   */
  async function createHosted(req: Request, res: Response, body: CreatePayinRequest): Promise<void> {
    const merchant = currentMerchant(res.locals);
    const misplaced = (['operator', 'otp'] as const).find((f) => body[f] !== undefined);
    if (misplaced) {
      throw new Problem(
        'validation-error',
        `${misplaced} does not go with mode "hosted": the payer chooses`,
        {
          errors: [{ field: misplaced, message: 'not with mode "hosted"' }],
        },
      );
    }
    const { phone, network } = payerDetails({ ...body, mode: 'redirect' });
    const offer = await offeredNetworks(pool, operators, {
      merchantId: merchant.id,
      livemode: merchant.livemode,
      amount: body.amount,
      currency: body.currency,
      country: body.country,
    });
    if (offer.length === 0) {
      throw new Problem(
        'payment-not-possible',
        `No network can take ${body.amount} ${body.currency}${body.country ? ` in ${body.country}` : ''}`,
        { code: 'no_route' },
      );
    }
    if (network && !offer.some((o) => o.network === network)) {
      throw new Problem('payment-not-possible', `${network} cannot take this payin`, {
        code: 'network_not_served',
      });
    }
    await idempotentCreate(pool, req, res, {
      merchantId: merchant.id,
      path: '/v1/payins',
      newResourceId: () => newId('pay'),
      create: async (paymentId) => {
        const payment = await recordHostedPayin(pool, config, {
          id: paymentId,
          merchantId: merchant.id,
          livemode: merchant.livemode,
          amount: body.amount,
          currency: body.currency,
          network,
          customer: payerOf(body, phone),
          country: body.country,
          description: body.description,
          returnUrl: body.return_url,
          cancelUrl: body.cancel_url,
          metadata: body.metadata,
          expiresInSeconds: body.expires_in,
        });
        req.log = req.log.child({ paymentId, workflowId: payinWorkflowId(paymentId) });
        if (
          (await startHostedPayin(temporal, config, { ...payment, deadlineAt: payment.deadlineAt! })) !==
          'started'
        ) {
          throw new Problem(
            'service-unavailable',
            `The payin ${paymentId} is recorded but could not be started; retry with the same Idempotency-Key`,
          );
        }
        req.log.info({ status: payment.status }, 'hosted payin created');
        res.location(`/v1/payins/${paymentId}`);
        return { status: 201, body: await payinView(pool, payment) };
      },
    });
  }

  router.get('/', listRoute(pool, 'payin'));

  router.get('/:id', async (req, res) => {
    const payment = await findPayment(pool, currentMerchant(res.locals), req.params.id, 'payin');
    res.json(await payinView(pool, payment));
  });

  router.get('/:id/events', async (req, res) => {
    const payment = await findPayment(pool, currentMerchant(res.locals), req.params.id, 'payin');
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
