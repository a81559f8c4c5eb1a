import type { VaultedCard } from './card-vault.js';
import { getPayment, insertPayment, type PaymentRecord } from './payments.js';
import type { PoolClient, Queryable } from './pool.js';
import type { CurrencyCode } from '../lib/money.js';
import { payinWorkflowId } from '../lib/payment-workflows.js';

/** A card payin's row, on either rail (docs/cards.md). */
export interface CardPayinRow {
  id: string;
  merchantId: string;
  livemode: boolean;
  amount: number;
  currency: CurrencyCode;
  card: VaultedCard;
  description?: string;
  deadlineAt: Date;
  feeAmount?: number;
  /** The hosted payin this card payin is an attempt of (docs/checkout.md). */
  attemptOf?: string;
  returnUrl?: string;
}

/**
 * The payment of a card payin (mode `card`, the rail as its operator), found again when it
 * exists: what a payment keeps of a card is the vault's summary, never its number.
 */
export async function insertCardPaymentRow(
  client: PoolClient,
  rail: 'gim' | 'processor',
  p: CardPayinRow,
): Promise<PaymentRecord> {
  return (
    (await insertPayment(client, {
      id: p.id,
      merchantId: p.merchantId,
      livemode: p.livemode,
      kind: 'payin',
      amount: p.amount,
      currency: p.currency,
      operator: rail,
      mode: 'card',
      customer: {},
      description: p.description,
      metadata: {
        card_brand: p.card.brand,
        card_first_six: p.card.firstSix,
        card_last_four: p.card.lastFour,
        card_expiry: p.card.expiry,
      },
      deadlineAt: p.deadlineAt,
      workflowId: payinWorkflowId(p.id),
      feeAmount: p.feeAmount,
      attemptOf: p.attemptOf,
      returnUrl: p.returnUrl,
      cancelUrl: p.returnUrl,
    })) ?? (await getPayment(client, p.id))!
  );
}

/** Card payins and refunds still open past their deadline (the oldest first): what the card sweep looks at. */
export async function listOverdueCardPayments(
  db: Queryable,
  limit: number,
): Promise<{ id: string; kind: 'payin' | 'refund'; rail: 'gim' | 'processor'; workflowId: string }[]> {
  const { rows } = await db.query<{
    id: string;
    kind: 'payin' | 'refund';
    operator: 'gim' | 'processor';
    workflow_id: string;
  }>(
    `SELECT id, kind, operator, workflow_id FROM payments
      WHERE kind IN ('payin', 'refund') AND mode = 'card' AND operator IN ('gim', 'processor')
        AND status IN ('created', 'pending', 'action_required') AND deadline_at < now()
      ORDER BY deadline_at LIMIT $1`,
    [limit],
  );
  return rows.map((r) => ({ id: r.id, kind: r.kind, rail: r.operator, workflowId: r.workflow_id }));
}
