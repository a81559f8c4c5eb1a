import { cardVaultRing } from '../lib/config.js';
import { vaultPhone } from '../db/personal-vault.js';
import { Router } from 'express';
import { feeFor } from '../db/fees.js';
import { getPayment, insertPayment, storePayinOtp } from '../db/payments.js';
import { inTransaction } from '../db/pool.js';
import {
  getTransfer,
  insertTransfer,
  listTransferEvents,
  listTransferLegs,
  listTransfers,
  lockTransferCreation,
} from '../db/transfers.js';
import { operatorTiming } from '../lib/operators.js';
import { derivedId, newId } from '../lib/ids.js';
import { paymentDeadline, transferWorkflowId, workflowIdFor } from '../lib/payment-workflows.js';
import { currentMerchant } from './auth.js';
import { idempotentCreate, replayIdempotent } from './idempotency.js';
import { requireJson, type PaymentRouteDeps } from './payment-routes.js';
import { recipientNumber } from './payouts.js';
import { Problem, validationProblem } from './problems.js';
import { payinRoutesFor, payoutRouteFor } from './routing.js';
import { CreateTransferRequest, PayinListQuery } from './schemas.js';
import { decodeCursor, listAnswer } from './views.js';
import { transferView } from '../db/resource-views.js';
import { startTransfer } from './payment-start.js';

/**
 * `POST /v1/transfers`: every check before anything moves (both numbers valid and routable, the
 * amount within both routes' limits, the payout route's balance where the operator reports one),
 * then the transfer workflow, whose first step hands back the sender's next action.
 */
export function transferRoutes(deps: PaymentRouteDeps): Router {
  const { config, pool, temporal, operators } = deps;
  const vault = cardVaultRing(config);
  const router = Router();

  router.post('/', async (req, res) => {
    const merchant = currentMerchant(res.locals);
    requireJson(req.is('application/json'));
    const path = '/v1/transfers';
    if (await replayIdempotent(pool, req, res, { merchantId: merchant.id, path, required: true })) return;
    const parsed = CreateTransferRequest.safeParse(req.body);
    if (!parsed.success) throw validationProblem(parsed.error);
    const body = parsed.data;
    const sender = recipientNumber(body.sender.phone, body.sender.network, 'sender.phone');
    const recipient = recipientNumber(body.recipient.phone, body.recipient.network, 'recipient.phone');
    if (sender.e164 === recipient.e164) {
      throw new Problem('validation-error', 'The sender and the recipient are the same number', {
        errors: [{ field: 'recipient.phone', message: 'must differ from sender.phone' }],
      });
    }

    // Routes first with the plain amount, then the fee on the payout route, then both amounts checked.
    const payoutOperator = await payoutRouteFor(pool, operators, {
      merchantId: merchant.id,
      livemode: merchant.livemode,
      draft: {
        amount: { amount: body.amount, currency: body.currency },
        method: 'mobile_money',
        recipientPhone: recipient.international,
        network: recipient.network,
      },
    });
    const fee = await feeFor(pool, {
      merchantId: merchant.id,
      operator: payoutOperator,
      kind: 'transfer',
      currency: body.currency,
      amount: body.amount,
    });
    const collectAmount = body.fee_bearer === 'sender' ? body.amount + fee : body.amount;
    const disburseAmount = body.fee_bearer === 'sender' ? body.amount : body.amount - fee;
    if (disburseAmount <= 0) {
      throw new Problem('payment-not-possible', `The fee (${fee}) leaves nothing for the recipient`, {
        code: 'amount_below_fee',
      });
    }
    const payoutRefusal = operators.validatePayout(payoutOperator, {
      amount: { amount: disburseAmount, currency: body.currency },
      method: 'mobile_money',
      recipientPhone: recipient.international,
      network: recipient.network,
    });
    if (payoutRefusal)
      throw new Problem('payment-not-possible', payoutRefusal.message, { code: payoutRefusal.code });
    const collectionRoutes = await payinRoutesFor(pool, operators, {
      merchantId: merchant.id,
      livemode: merchant.livemode,
      draft: {
        amount: { amount: collectAmount, currency: body.currency },
        mode: body.mode,
        network: sender.network,
        customer: { phone: sender.e164 },
        otp: body.sender.otp,
        description: body.description ?? 'Transfer',
      },
    });
    const balances = await operators.balances(payoutOperator).catch(() => undefined);
    const routeBalance = balances?.find(
      (b) => b.network === recipient.network && b.currency === body.currency,
    );
    if (routeBalance && routeBalance.amount < disburseAmount) {
      throw new Problem(
        'payment-not-possible',
        `${payoutOperator} cannot pay ${disburseAmount} ${body.currency} to ${recipient.network} now`,
        {
          code: 'disbursement_balance_low',
        },
      );
    }

    await idempotentCreate(pool, req, res, {
      merchantId: merchant.id,
      path: '/v1/transfers',
      newResourceId: () => newId('trf'),
      create: async (transferId) => {
        const collectionOperator = collectionRoutes[0]!;
        const collectionTiming = operatorTiming(config, collectionOperator, body.mode);
        const legIds = await inTransaction(pool, async (client) => {
          // Two requests with one Idempotency-Key run this at once: one transaction per transfer
          // id, and legs whose ids derive from it, so the second finds the first's legs.
          await lockTransferCreation(client, transferId);
          const existing = await listTransferLegs(client, transferId);
          if (existing.length) {
            return {
              collection: existing.find((r) => r.kind === 'payin')!.id,
              disbursement: existing.find((r) => r.kind === 'payout')!.id,
            };
          }
          // Each number goes to the vault once; the transfer and its legs keep its token.
          const senderPhone = await vaultPhone(client, vault, sender.e164);
          const recipientPhone = await vaultPhone(client, vault, recipient.e164);
          await insertTransfer(client, {
            id: transferId,
            merchantId: merchant.id,
            livemode: merchant.livemode,
            currency: body.currency,
            collectAmount,
            disburseAmount,
            feeAmount: fee,
            feeBearer: body.fee_bearer,
            sender: { ...senderPhone, network: sender.network!, operator: collectionOperator },
            recipient: { ...recipientPhone, network: recipient.network!, operator: payoutOperator },
            description: body.description ?? null,
            metadata: body.metadata,
            workflowId: transferWorkflowId(transferId),
          });
          const collection = derivedId('pay', `${transferId}:collection`);
          const disbursement = derivedId('pay', `${transferId}:disbursement`);
          await insertPayment(client, {
            id: collection,
            merchantId: merchant.id,
            livemode: merchant.livemode,
            kind: 'payin',
            transferId,
            amount: collectAmount,
            currency: body.currency,
            operator: collectionOperator,
            network: sender.network,
            mode: body.mode,
            customer: senderPhone,
            description: body.description ?? `Transfer ${transferId}`,
            metadata: { transfer_id: transferId },
            deadlineAt: paymentDeadline(collectionTiming, 'payin'),
            workflowId: workflowIdFor('payin', collection),
          });
          if (body.sender.otp) await storePayinOtp(client, vault, collection, body.sender.otp);
          await insertPayment(client, {
            id: disbursement,
            merchantId: merchant.id,
            livemode: merchant.livemode,
            kind: 'payout',
            transferId,
            amount: disburseAmount,
            currency: body.currency,
            feeAmount: fee,
            operator: payoutOperator,
            network: recipient.network,
            mode: 'mobile_money',
            customer: recipientPhone,
            description: body.description ?? `Transfer ${transferId}`,
            metadata: { transfer_id: transferId },
            // Counted again from the moment the payout starts (after the collection).
            deadlineAt: paymentDeadline(operatorTiming(config, payoutOperator), 'payout'),
            workflowId: workflowIdFor('payout', disbursement),
          });
          return { collection, disbursement };
        });
        req.log = req.log.child({ transferId, workflowId: transferWorkflowId(transferId) });

        const collection = (await getPayment(pool, legIds.collection))!;
        const started = await startTransfer(
          temporal,
          config,
          { id: transferId, merchantId: merchant.id },
          { collection, disbursementPaymentId: legIds.disbursement },
          collectionRoutes,
        );
        if (started === 'unavailable') {
          throw new Problem(
            'service-unavailable',
            `The transfer ${transferId} is recorded but could not be started; retry with the same Idempotency-Key`,
          );
        }
        const transfer = (await getTransfer(pool, transferId, {
          merchantId: merchant.id,
          livemode: merchant.livemode,
        }))!;
        req.log.info({ status: transfer.status }, 'transfer created');
        res.location(`/v1/transfers/${transferId}`);
        return { status: started === 'waiting' ? 202 : 201, body: await transferView(pool, transfer) };
      },
    });
  });

  router.get('/', async (req, res) => {
    const merchant = currentMerchant(res.locals);
    const parsed = PayinListQuery.safeParse(req.query);
    if (!parsed.success) throw validationProblem(parsed.error);
    const { status, limit, cursor } = parsed.data;
    const page = await listTransfers(pool, {
      merchantId: merchant.id,
      livemode: merchant.livemode,
      status,
      limit,
      after: cursor ? decodeCursor(cursor) : undefined,
    });
    res.json(listAnswer(await Promise.all(page.items.map((t) => transferView(pool, t))), page.next));
  });

  router.get('/:id', async (req, res) => {
    const transfer = /^trf_[a-z2-7]{24}$/.test(req.params.id)
      ? await getTransfer(pool, req.params.id, {
          merchantId: currentMerchant(res.locals).id,
          livemode: currentMerchant(res.locals).livemode,
        })
      : undefined;
    if (!transfer) throw new Problem('not-found', `No transfer ${req.params.id}`);
    const events = await listTransferEvents(pool, transfer.id);
    res.json({
      ...(await transferView(pool, transfer)),
      events: events.map((e) => ({
        step: e.step,
        from_status: e.fromStatus,
        to_status: e.toStatus,
        reason: e.reason,
        created_at: e.createdAt.toISOString(),
      })),
    });
  });
  return router;
}
