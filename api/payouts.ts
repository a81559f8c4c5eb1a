import { cardVaultRing } from '../lib/config.js';
import { Router } from 'express';
import { feeFor } from '../db/fees.js';
import { getMerchantPayment, insertPayment, type PaymentRecord } from '../db/payments.js';
import { newId } from '../lib/ids.js';
import { NETWORKS } from '../lib/networks.js';
import { parseMsisdn, type Msisdn } from '../lib/phone.js';
import { paymentDeadline, workflowIdFor } from '../lib/payment-workflows.js';
import { currentMerchant } from './auth.js';
import { idempotentCreate, replayIdempotent, type CreateAnswer } from './idempotency.js';
import { findPayment, listRoute, requireJson, type PaymentRouteDeps } from './payment-routes.js';
import { Problem, problemBody, validationProblem } from './problems.js';
import { CreatePayoutRequest } from './schemas.js';
import { paymentView } from './views.js';
import { startDisbursement } from './payment-start.js';
import { payoutRouteFor } from './routing.js';
import { operatorTiming } from '../lib/operators.js';
import type { Request } from 'express';

/** Parses a recipient number and checks it against the network the merchant named, if any. */
export function recipientNumber(phone: string, network: string | undefined, field: string): Msisdn {
  const parsed = parseMsisdn(phone);
  if (!parsed.ok)
    throw new Problem('validation-error', `${field}: ${parsed.reason}`, {
      errors: [{ field, message: parsed.reason }],
    });
  const number = parsed.value;
  if (network) {
    const named = NETWORKS[network as keyof typeof NETWORKS];
    if (named.country !== number.country) {
      throw new Problem(
        'payment-not-possible',
        `${number.e164} is not a ${named.name} number (${number.country})`,
        {
          code: 'recipient_network_mismatch',
        },
      );
    }
    // Number portability: the merchant's network wins over the prefix.
    return { ...number, network: network as Msisdn['network'] };
  }
  if (!number.network) {
    throw new Problem(
      'payment-not-possible',
      `No mobile network known for ${number.e164}; name it in recipient.network`,
      {
        code: 'recipient_network_unknown',
      },
    );
  }
  return number;
}

/**
 * After the workflow's first step: a payout refused for the merchant's balance is a 422 the
 * merchant can act on (the refused payout stays readable); anything else answers with the payout.
 */
export function disbursementAnswer(
  req: Request,
  payment: PaymentRecord,
  started: 'initiated' | 'waiting',
): CreateAnswer {
  if (payment.status === 'failed' && payment.failure?.code === 'insufficient_balance') {
    const problem = new Problem('insufficient-balance', payment.failure.message, {
      code: 'insufficient_balance',
      resource: { [`${payment.kind}_id`]: payment.id },
    });
    const requestId = req.res?.getHeader('x-request-id');
    return {
      status: 422,
      body: problemBody(problem, req.originalUrl, requestId ? String(requestId) : undefined),
    };
  }
  return { status: started === 'waiting' ? 202 : 201, body: paymentView(payment) };
}

export function payoutRoutes(deps: PaymentRouteDeps): Router {
  const { config, pool, temporal, operators } = deps;
  const vault = cardVaultRing(config);
  const router = Router();

  router.post('/', async (req, res) => {
    const merchant = currentMerchant(res.locals);
    requireJson(req.is('application/json'));
    const path = '/v1/payouts';
    if (await replayIdempotent(pool, req, res, { merchantId: merchant.id, path, required: true })) return;
    const parsed = CreatePayoutRequest.safeParse(req.body);
    if (!parsed.success) throw validationProblem(parsed.error);
    const body = parsed.data;
    const recipient = recipientNumber(body.recipient.phone, body.recipient.network, 'recipient.phone');
    const operator = await payoutRouteFor(pool, operators, {
      merchantId: merchant.id,
      livemode: merchant.livemode,
      operator: body.operator,
      draft: {
        amount: { amount: body.amount, currency: body.currency },
        method: body.method,
        recipientPhone: recipient.international,
        network: recipient.network,
      },
    });

    await idempotentCreate(pool, req, res, {
      merchantId: merchant.id,
      path: '/v1/payouts',
      newResourceId: () => newId('pay'),
      create: async (paymentId) => {
        const fee = await feeFor(pool, {
          merchantId: merchant.id,
          operator,
          kind: 'payout',
          currency: body.currency,
          amount: body.amount,
        });
        await insertPayment(
          pool,
          {
            id: paymentId,
            merchantId: merchant.id,
            livemode: merchant.livemode,
            kind: 'payout',
            amount: body.amount,
            currency: body.currency,
            feeAmount: fee,
            operator,
            network: recipient.network,
            mode: body.method,
            customer: {
              phone: recipient.e164,
              ...(body.recipient.first_name ? { firstName: body.recipient.first_name } : {}),
              ...(body.recipient.last_name ? { lastName: body.recipient.last_name } : {}),
            },
            description: body.description,
            metadata: body.metadata,
            deadlineAt: paymentDeadline(operatorTiming(config, operator), 'payout'),
            workflowId: workflowIdFor('payout', paymentId),
          },
          vault,
        );
        req.log = req.log.child({ paymentId, workflowId: workflowIdFor('payout', paymentId) });
        const stored = (await getMerchantPayment(pool, merchant.id, paymentId, 'payout', merchant.livemode))!;
        const started = await startDisbursement(temporal, config, stored);
        if (started === 'unavailable') {
          throw new Problem(
            'service-unavailable',
            `The payout ${paymentId} is recorded but could not be started; retry with the same Idempotency-Key`,
          );
        }
        const payment = (await getMerchantPayment(
          pool,
          merchant.id,
          paymentId,
          'payout',
          merchant.livemode,
        ))!;
        req.log.info({ status: payment.status }, 'payout created');
        res.location(`/v1/payouts/${paymentId}`);
        return disbursementAnswer(req, payment, started);
      },
    });
  });

  router.get('/', listRoute(pool, 'payout'));
  router.get('/:id', async (req, res) => {
    res.json(paymentView(await findPayment(pool, currentMerchant(res.locals), req.params.id, 'payout')));
  });
  return router;
}
