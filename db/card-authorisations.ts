import { transmissionTime } from '../lib/iso8583-time.js';
import { insertCardPaymentRow, type CardPayinRow } from './card-payins.js';
import type { PaymentRecord } from './payments.js';
import { inTransaction, type Pool, type PoolClient, type Queryable } from './pool.js';

/** A card payment's identity at the switch and what the switch said (docs/cards.md). */
export interface CardAuthorisation {
  paymentId: string;
  cardToken: string;
  stan: string;
  rrn: string;
  localAt: Date;
  transmission: string;
  outcome: 'recorded' | 'approved' | 'declined' | 'no_answer';
  responseCode: string | null;
  approvalCode: string | null;
  reversalSends: number;
  reversedAt: Date | null;
  captureSends: number;
  capturedAt: Date | null;
}

interface Row {
  payment_id: string;
  card_token: string;
  stan: string;
  rrn: string;
  local_at: Date;
  transmission: string;
  outcome: CardAuthorisation['outcome'];
  response_code: string | null;
  approval_code: string | null;
  reversal_sends: number;
  reversed_at: Date | null;
  capture_sends: number;
  captured_at: Date | null;
}

function toRecord(r: Row): CardAuthorisation {
  return {
    paymentId: r.payment_id,
    cardToken: r.card_token,
    stan: r.stan,
    rrn: r.rrn,
    localAt: r.local_at,
    transmission: r.transmission,
    outcome: r.outcome,
    responseCode: r.response_code,
    approvalCode: r.approval_code,
    reversalSends: r.reversal_sends,
    reversedAt: r.reversed_at,
    captureSends: r.capture_sends,
    capturedAt: r.captured_at,
  };
}

/** The next STAN of the acquirer's UTC day (000001-999999), whichever worker asks. */
export async function nextStan(db: Queryable, acquirer: string, at = new Date()): Promise<string> {
  const { rows } = await db.query<{ last: number }>(
    `INSERT INTO gim_stans (day, acquirer, last) VALUES (($3::timestamptz AT TIME ZONE 'UTC')::date, $1, 1)
     ON CONFLICT (day, acquirer) DO UPDATE SET last = CASE WHEN gim_stans.last >= $2 THEN 1 ELSE gim_stans.last + 1 END
     RETURNING last`,
    [acquirer, 999_999, at.toISOString()],
  );
  return String(rows[0]!.last).padStart(6, '0');
}

/**
 * Records (once) what identifies a card payment at the switch, before anything is sent; a re-run
 * finds the same record. RRN: last digit of the year, day of the year, the STAN, two digits of
 * the worker (docs/gim-uemoa.md, field 37).
 */
export async function recordCardAuthorisation(
  db: Queryable,
  input: { paymentId: string; cardToken: string; acquirer: string; workerCode: string },
): Promise<CardAuthorisation> {
  const existing = await getCardAuthorisation(db, input.paymentId);
  if (existing) return existing;
  const at = new Date(Math.floor(Date.now() / 1000) * 1000);
  const stan = await nextStan(db, input.acquirer, at);
  const dayOfYear = Math.floor((at.getTime() - Date.UTC(at.getUTCFullYear(), 0, 0)) / 86_400_000);
  const rrn = `${String(at.getUTCFullYear()).slice(-1)}${String(dayOfYear).padStart(3, '0')}${stan}${input.workerCode}`;
  await db.query(
    `INSERT INTO card_authorisations (payment_id, card_token, stan, rrn, local_at, transmission)
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (payment_id) DO NOTHING`,
    [input.paymentId, input.cardToken, stan, rrn, at, transmissionTime(at)],
  );
  return (await getCardAuthorisation(db, input.paymentId))!;
}

export async function getCardAuthorisation(
  db: Queryable,
  paymentId: string,
): Promise<CardAuthorisation | undefined> {
  const { rows } = await db.query<Row>('SELECT * FROM card_authorisations WHERE payment_id = $1', [
    paymentId,
  ]);
  return rows[0] ? toRecord(rows[0]) : undefined;
}

/** The switch's answer to the authorisation (or its absence): written once. */
export async function recordAuthorisationOutcome(
  db: Queryable,
  paymentId: string,
  outcome: { outcome: 'approved' | 'declined' | 'no_answer'; responseCode?: string; approvalCode?: string },
): Promise<CardAuthorisation> {
  await db.query(
    `UPDATE card_authorisations SET outcome = $2, response_code = $3, approval_code = $4
      WHERE payment_id = $1 AND outcome = 'recorded'`,
    [paymentId, outcome.outcome, outcome.responseCode ?? null, outcome.approvalCode ?? null],
  );
  return (await getCardAuthorisation(db, paymentId))!;
}

/** Counts one more send of a reversal or completion advice (before it goes): its number picks its MTI. */
export async function countSend(
  db: Queryable,
  paymentId: string,
  what: 'reversal' | 'capture',
): Promise<number> {
  const column = what === 'reversal' ? 'reversal_sends' : 'capture_sends';
  const { rows } = await db.query<{ sends: number }>(
    `UPDATE card_authorisations SET ${column} = ${column} + 1 WHERE payment_id = $1 RETURNING ${column} - 1 AS sends`,
    [paymentId],
  );
  return rows[0]!.sends;
}

export async function markAcknowledged(
  db: Queryable,
  paymentId: string,
  what: 'reversal' | 'capture',
): Promise<void> {
  await db.query(
    `UPDATE card_authorisations SET ${what === 'reversal' ? 'reversed_at' : 'captured_at'} = COALESCE(${
      what === 'reversal' ? 'reversed_at' : 'captured_at'
    }, now()) WHERE payment_id = $1`,
    [paymentId],
  );
}

/**
 * A card payin: the payment (operator `gim`, mode `card`) and its identity at the switch, in one
 * transaction, from a card already in the vault. Its workflow is `cardPayin`, id `payin-<id>`.
 */
export async function insertCardPayin(
  pool: Pool,
  p: GimCardPayinRow,
): Promise<{ payment: PaymentRecord; authorisation: CardAuthorisation }> {
  return inTransaction(pool, (client) => insertCardPayinRows(client, p));
}

export type GimCardPayinRow = CardPayinRow & { acquirer: string };

/** insertCardPayin's rows, inside the caller's transaction. */
export async function insertCardPayinRows(
  client: PoolClient,
  p: GimCardPayinRow,
): Promise<{ payment: PaymentRecord; authorisation: CardAuthorisation }> {
  {
    const payment = await insertCardPaymentRow(client, 'gim', p);
    const authorisation = await recordCardAuthorisation(client, {
      paymentId: p.id,
      cardToken: p.card.token,
      acquirer: p.acquirer,
      workerCode: '00',
    });
    return { payment, authorisation };
  }
}
