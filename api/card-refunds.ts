import { getCardAuthorisation, recordCardAuthorisation } from '../db/card-authorisations.js';
import { getProcessorCardPayment } from '../db/card-processor.js';
import { insertPayment, type PaymentRecord } from '../db/payments.js';
import type { PoolClient } from '../db/pool.js';
import type { Config } from '../lib/config.js';
import { workflowIdFor } from '../lib/payment-workflows.js';
import { Problem } from './problems.js';

/**
 * A refund of a card payin, recorded under the payin's lock (api/refunds.ts checked the amount):
 * the refund's row (mode `card`, the payin's rail, no number: it goes back to the card) and, on
 * GIM-UEMOA, its own identity at the switch (STAN, RRN) before anything is sent.
 */
export async function insertCardRefund(
  client: PoolClient,
  config: Config,
  r: {
    id: string;
    merchantId: string;
    livemode: boolean;
    payin: PaymentRecord;
    amount: number;
    fee: number;
    description: string;
    metadata: Record<string, string>;
  },
): Promise<void> {
  const { payin } = r;
  const gim = payin.operator === 'gim' ? await getCardAuthorisation(client, payin.id) : undefined;
  const processor =
    payin.operator === 'processor' ? await getProcessorCardPayment(client, payin.id) : undefined;
  const captured = gim ? gim.capturedAt !== null : processor ? processor.capturedAt !== null : false;
  if (!captured) {
    throw new Problem(
      'payment-not-possible',
      `${payin.id} was not captured at the card rail: nothing to refund`,
      {
        code: 'payin_not_refundable',
      },
    );
  }
  await insertPayment(client, {
    id: r.id,
    merchantId: r.merchantId,
    livemode: r.livemode,
    kind: 'refund',
    parentPaymentId: payin.id,
    amount: r.amount,
    currency: payin.currency,
    feeAmount: r.fee,
    operator: payin.operator,
    mode: 'card',
    customer: {},
    description: r.description,
    metadata: {
      ...r.metadata,
      ...Object.fromEntries(Object.entries(payin.metadata).filter(([k]) => k.startsWith('card_'))),
    },
    // The rail answers in seconds; a reversal or a repeat is retried past this.
    deadlineAt: new Date(Date.now() + 15 * 60_000),
    workflowId: workflowIdFor('refund', r.id),
  });
  if (gim) {
    await recordCardAuthorisation(client, {
      paymentId: r.id,
      cardToken: gim.cardToken,
      acquirer: config.GIM_ACQUIRER_ID,
      workerCode: '00',
    });
  }
}
