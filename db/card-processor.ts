import { insertCardPaymentRow, type CardPayinRow } from './card-payins.js';
import type { PaymentRecord } from './payments.js';
import type { PoolClient, Queryable } from './pool.js';

/** What EMV 3-D Secure's AReq needs of the payer's browser (no cookie, nothing secret). */
export interface PayerBrowser {
  acceptHeader: string;
  userAgent: string;
  language: string;
  ip?: string;
}

/** A card payment at the Visa/Mastercard processor (docs/cards.md). */
export interface ProcessorCardPayment {
  paymentId: string;
  cardToken: string;
  processorToken: string;
  threeDSServerTransID: string;
  browser: PayerBrowser;
  transStatus: string | null;
  transStatusReason: string | null;
  acsUrl: string | null;
  processorPaymentId: string | null;
  outcome: 'recorded' | 'authorised' | 'declined';
  responseCode: string | null;
  declineReason: string | null;
  capturedAt: Date | null;
  voidedAt: Date | null;
}

interface Row {
  payment_id: string;
  card_token: string;
  processor_token: string;
  three_ds_server_trans_id: string;
  browser: PayerBrowser;
  trans_status: string | null;
  trans_status_reason: string | null;
  acs_url: string | null;
  processor_payment_id: string | null;
  outcome: ProcessorCardPayment['outcome'];
  response_code: string | null;
  decline_reason: string | null;
  captured_at: Date | null;
  voided_at: Date | null;
}

const toRecord = (r: Row): ProcessorCardPayment => ({
  paymentId: r.payment_id,
  cardToken: r.card_token,
  processorToken: r.processor_token,
  threeDSServerTransID: r.three_ds_server_trans_id,
  browser: r.browser,
  transStatus: r.trans_status,
  transStatusReason: r.trans_status_reason,
  acsUrl: r.acs_url,
  processorPaymentId: r.processor_payment_id,
  outcome: r.outcome,
  responseCode: r.response_code,
  declineReason: r.decline_reason,
  capturedAt: r.captured_at,
  voidedAt: r.voided_at,
});

export async function getProcessorCardPayment(
  db: Queryable,
  paymentId: string,
): Promise<ProcessorCardPayment | undefined> {
  const { rows } = await db.query<Row>('SELECT * FROM card_processor_payments WHERE payment_id = $1', [
    paymentId,
  ]);
  return rows[0] ? toRecord(rows[0]) : undefined;
}

/** The payment a 3-D Secure transaction belongs to (the processor's RReq names only that id). */
export async function paymentOfThreeDS(
  db: Queryable,
  threeDSServerTransID: string,
): Promise<string | undefined> {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(threeDSServerTransID))
    return undefined;
  const { rows } = await db.query<{ payment_id: string }>(
    'SELECT payment_id FROM card_processor_payments WHERE three_ds_server_trans_id = $1',
    [threeDSServerTransID],
  );
  return rows[0]?.payment_id;
}

export async function recordAuthenticationState(
  db: Queryable,
  paymentId: string,
  s: { transStatus: string; transStatusReason?: string; acsUrl?: string },
): Promise<void> {
  await db.query(
    `UPDATE card_processor_payments SET trans_status = $2, trans_status_reason = $3, acs_url = COALESCE($4, acs_url)
      WHERE payment_id = $1`,
    [paymentId, s.transStatus, s.transStatusReason ?? null, s.acsUrl ?? null],
  );
}

/** The processor's answer to the authorisation: written once. */
export async function recordProcessorAuthorisation(
  db: Queryable,
  paymentId: string,
  a: {
    outcome: 'authorised' | 'declined';
    processorPaymentId: string;
    responseCode?: string;
    declineReason?: string;
  },
): Promise<void> {
  await db.query(
    `UPDATE card_processor_payments SET outcome = $2, processor_payment_id = $3, response_code = $4, decline_reason = $5
      WHERE payment_id = $1 AND outcome = 'recorded'`,
    [paymentId, a.outcome, a.processorPaymentId, a.responseCode ?? null, a.declineReason ?? null],
  );
}

export async function markProcessorSettled(
  db: Queryable,
  paymentId: string,
  what: 'captured' | 'voided',
): Promise<void> {
  const column = what === 'captured' ? 'captured_at' : 'voided_at';
  await db.query(
    `UPDATE card_processor_payments SET ${column} = COALESCE(${column}, now()) WHERE payment_id = $1`,
    [paymentId],
  );
}

/**
 * A card payin at the processor (operator `processor`, mode `card`): the payment and its 3-D
 * Secure identity, in the caller's transaction. Its workflow is `cardProcessorPayin`.
 */
export async function insertProcessorCardPayinRows(
  client: PoolClient,
  p: CardPayinRow & { processorToken: string; threeDSServerTransID: string; browser: PayerBrowser },
): Promise<PaymentRecord> {
  const payment = await insertCardPaymentRow(client, 'processor', p);
  await client.query(
    `INSERT INTO card_processor_payments (payment_id, card_token, processor_token, three_ds_server_trans_id, browser)
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (payment_id) DO NOTHING`,
    [p.id, p.card.token, p.processorToken, p.threeDSServerTransID, JSON.stringify(p.browser)],
  );
  return payment;
}
