import { cardVaultRing } from '../lib/config.js';
import { maskPhone } from '../lib/logger.js';
import { openPhone } from '../db/personal-vault.js';
import { Router } from 'express';
import { feeFor } from '../db/fees.js';
import { refundRecipients } from '../db/merchants.js';
import {
  committedRefunds,
  getMerchantPayment,
  insertPayment,
  listRefundsOf,
  lockPayment,
} from '../db/payments.js';
import { inTransaction } from '../db/pool.js';
import { operatorTiming } from '../lib/operators.js';
import { newId } from '../lib/ids.js';
import type { OperatorName } from '../lib/operators.js';
import { paymentDeadline, workflowIdFor } from '../lib/payment-workflows.js';
import { currentMerchant } from './auth.js';
import { idempotentCreate, replayIdempotent } from './idempotency.js';
import { findPayment, requireJson, type PaymentRouteDeps } from './payment-routes.js';
import { disbursementAnswer, recipientNumber } from './payouts.js';
import { Problem, validationProblem } from './problems.js';
import { CreateRefundRequest } from './schemas.js';
import { paymentView } from './views.js';
import { insertCardRefund } from './card-refunds.js';
import { startCardRefund, startDisbursement } from './payment-start.js';

const REFUNDABLE = new Set(['succeeded', 'partially_refunded']);

/**
 * Refunds: `POST /v1/payins/:id/refunds` (mounted under payins) and `GET /v1/refunds/:id`. A refund
 * never exceeds what remains of the payin: refunds are created under a lock on the payin row.
 */
export function payinRefundRoutes(deps: PaymentRouteDeps): Router {
  const { config, pool, temporal, operators } = deps;
  const vault = cardVaultRing(config);
  const router = Router({ mergeParams: true });

  router.post('/', async (req, res) => {
    const merchant = currentMerchant(res.locals);
    const requestedId = (req.params as { id: string }).id;
    const requested = await findPayment(pool, merchant, requestedId, 'payin');
    // A hosted payin moved money through one attempt (docs/checkout.md): that attempt is refunded.
    const payinId = (requested.mode === 'hosted' && requested.operatorReference) || requestedId;
    requireJson(req.is('application/json'));
    const path = `/v1/payins/${requestedId}/refunds`;
    if (await replayIdempotent(pool, req, res, { merchantId: merchant.id, path, required: true })) return;
    const parsed = CreateRefundRequest.safeParse(req.body);
    if (!parsed.success) throw validationProblem(parsed.error);
    const body = parsed.data;
    const recipientOverride = body.recipient
      ? recipientNumber(body.recipient.phone, undefined, 'recipient.phone')
      : undefined;

    await idempotentCreate(pool, req, res, {
      merchantId: merchant.id,
      path,
      newResourceId: () => newId('pay'),
      create: async (refundId) => {
        const refund = await inTransaction(pool, async (client) => {
          const existing = await getMerchantPayment(
            client,
            merchant.id,
            refundId,
            'refund',
            merchant.livemode,
          );
          if (existing) return existing;
          const payin = (await lockPayment(client, payinId))!;
          if (payin.transferId) {
            // The transfer refunds its sender itself when its payout fails: a merchant refund of
            // the collection leg would pay the sender twice.
            throw new Problem(
              'payment-not-possible',
              `${payinId} is the collection of transfer ${payin.transferId}; it is refunded by the transfer`,
              { code: 'transfer_leg_not_refundable' },
            );
          }
          if (!REFUNDABLE.has(payin.status)) {
            throw new Problem(
              'payment-not-possible',
              `Only a succeeded payin can be refunded; ${payinId} is ${payin.status}`,
              {
                code: 'payin_not_refundable',
              },
            );
          }
          const remaining = payin.amount - (await committedRefunds(client, payinId));
          const amount = body.amount ?? remaining;
          if (remaining <= 0) {
            throw new Problem(
              'payment-not-possible',
              `Payin ${payinId} is already fully refunded (or being refunded)`,
              {
                code: 'nothing_left_to_refund',
              },
            );
          }
          if (amount > remaining) {
            throw new Problem(
              'payment-not-possible',
              `A refund of ${amount} exceeds what remains refundable on ${payinId}: ${remaining} ${payin.currency}`,
              { code: 'refund_exceeds_remaining' },
            );
          }
          if (payin.mode === 'card') {
            // Back to the same card, on the payin's rail (docs/cards.md): never to a number.
            if (body.recipient) {
              throw new Problem(
                'validation-error',
                'A card payin is refunded to its card: give no recipient',
                {
                  errors: [{ field: 'recipient', message: 'not allowed for a card payin' }],
                },
              );
            }
            await insertCardRefund(client, config, {
              id: refundId,
              merchantId: merchant.id,
              livemode: merchant.livemode,
              payin,
              amount,
              fee: await feeFor(client, {
                merchantId: merchant.id,
                operator: payin.operator,
                kind: 'refund',
                currency: payin.currency,
                amount,
              }),
              description: body.reason ?? `Refund of ${payinId}`,
              metadata: body.metadata,
            });
            return (await getMerchantPayment(client, merchant.id, refundId, 'refund', merchant.livemode))!;
          }
          const payerPhone = payin.customer.phoneToken
            ? await openPhone(client, vault, payin.customer.phoneToken)
            : undefined;
          const payer = payerPhone ? recipientNumber(payerPhone, undefined, 'recipient.phone') : undefined;
          const recipient = recipientOverride ?? payer;
          if (!recipient) {
            throw new Problem(
              'validation-error',
              'The payer number is not known for this payin: give recipient.phone',
              {
                errors: [{ field: 'recipient.phone', message: 'required: the payin has no payer number' }],
              },
            );
          }
          // A refund goes back to the payer's own number; another needs the merchant's setting.
          if (recipient.e164 !== payer?.e164) {
            if ((await refundRecipients(client, merchant.id)) !== 'any') {
              throw new Problem(
                'payment-not-possible',
                payer
                  ? "A refund goes back to the payer's own number; refunds to another number need the merchant setting refund_recipients=any"
                  : "The payer's number is unknown, and refunds to a number given by the merchant need the setting refund_recipients=any",
                { code: 'refund_recipient_not_allowed' },
              );
            }
            req.log.warn(
              { payinId, refundId, recipient: maskPhone(recipient.e164), payerKnown: payer !== undefined },
              "refund to a number other than the payer's (merchant setting refund_recipients=any)",
            );
          }
          const refusal = operators.validatePayout(payin.operator as OperatorName, {
            amount: { amount, currency: payin.currency },
            method: 'mobile_money',
            recipientPhone: recipient.international,
            network: recipient.network,
          });
          if (refusal) throw new Problem('payment-not-possible', refusal.message, { code: refusal.code });
          const fee = await feeFor(client, {
            merchantId: merchant.id,
            operator: payin.operator,
            kind: 'refund',
            currency: payin.currency,
            amount,
          });
          await insertPayment(
            client,
            {
              id: refundId,
              merchantId: merchant.id,
              livemode: merchant.livemode,
              kind: 'refund',
              parentPaymentId: payinId,
              amount,
              currency: payin.currency,
              feeAmount: fee,
              operator: payin.operator,
              network: recipient.network,
              mode: 'mobile_money',
              // The payer's own number keeps its vault token; another goes to the vault.
              customer:
                recipient.e164 === payer?.e164
                  ? { phoneToken: payin.customer.phoneToken, phoneMasked: payin.customer.phoneMasked }
                  : { phone: recipient.e164 },
              description: body.reason ?? `Refund of ${payinId}`,
              metadata: body.metadata,
              deadlineAt: paymentDeadline(operatorTiming(config, payin.operator), 'refund'),
              workflowId: workflowIdFor('refund', refundId),
            },
            vault,
          );
          return (await getMerchantPayment(client, merchant.id, refundId, 'refund', merchant.livemode))!;
        });
        req.log = req.log.child({ paymentId: refundId, workflowId: refund.workflowId });
        const started =
          refund.mode === 'card'
            ? await startCardRefund(temporal, config, refund)
            : await startDisbursement(temporal, config, refund);
        if (started === 'unavailable') {
          throw new Problem(
            'service-unavailable',
            `The refund ${refundId} is recorded but could not be started; retry with the same Idempotency-Key`,
          );
        }
        const now = (await getMerchantPayment(pool, merchant.id, refundId, 'refund', merchant.livemode))!;
        req.log.info({ status: now.status, payinId }, 'refund created');
        res.location(`/v1/refunds/${refundId}`);
        return disbursementAnswer(req, now, started);
      },
    });
  });

  router.get('/', async (req, res) => {
    const merchant = currentMerchant(res.locals);
    const payin = await findPayment(pool, merchant, (req.params as { id: string }).id, 'payin');
    res.json({ object: 'list', data: (await listRefundsOf(pool, payin.id)).map(paymentView) });
  });
  return router;
}

export function refundRoutes(deps: PaymentRouteDeps): Router {
  const router = Router();
  router.get('/:id', async (req, res) => {
    res.json(paymentView(await findPayment(deps.pool, currentMerchant(res.locals), req.params.id, 'refund')));
  });
  return router;
}
