import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMerchant } from '../../db/merchants.js';
import {
  InsufficientBalanceError,
  capturePosting,
  checkLedger,
  holdPosting,
  merchantBalances,
  payinSucceededPosting,
  post,
  releasePosting,
} from '../../db/ledger.js';
import {
  applyTransition,
  insertPayment,
  recordRefundOnPayin,
  type PaymentRecord,
} from '../../db/payments.js';
import { createPool, type Pool } from '../../db/pool.js';
import { newId } from '../../lib/ids.js';
import type { PaymentKind } from '../../lib/payments.js';

/**
 * DESIGN.md rule 4, by property: random sequences of payins, payouts, refunds, failures and
 * timeouts go through the posting functions on the real database; after every step every entry
 * sums to zero, cached balances equal their lines, no merchant balance is negative, and the
 * balances equal a model kept in the test.
 */
let pool: Pool;
beforeAll(() => {
  pool = createPool(process.env.DATABASE_URL!, 4);
});
afterAll(async () => {
  await pool.end();
});

type Op =
  | { t: 'payin'; amount: number; fee: number; ok: boolean }
  | { t: 'payout'; amount: number; fee: number; outcome: 'succeed' | 'fail' | 'unknown' }
  | { t: 'refund'; pick: number; share: number; outcome: 'succeed' | 'fail' | 'unknown' }
  | { t: 'resolve'; pick: number; outcome: 'succeed' | 'fail' }
  | { t: 'replay'; pick: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    t: fc.constant('payin' as const),
    amount: fc.integer({ min: 1, max: 50_000 }),
    fee: fc.integer({ min: 0, max: 500 }),
    ok: fc.boolean(),
  }),
  fc.record({
    t: fc.constant('payout' as const),
    amount: fc.integer({ min: 500, max: 40_000 }),
    fee: fc.integer({ min: 0, max: 300 }),
    outcome: fc.constantFrom('succeed' as const, 'fail' as const, 'unknown' as const),
  }),
  fc.record({
    t: fc.constant('refund' as const),
    pick: fc.nat(),
    share: fc.double({ min: 0.05, max: 1, noNaN: true }),
    outcome: fc.constantFrom('succeed' as const, 'fail' as const, 'unknown' as const),
  }),
  fc.record({
    t: fc.constant('resolve' as const),
    pick: fc.nat(),
    outcome: fc.constantFrom('succeed' as const, 'fail' as const),
  }),
  fc.record({ t: fc.constant('replay' as const), pick: fc.nat() }),
);

async function newPayment(
  merchantId: string,
  kind: PaymentKind,
  amount: number,
  fee: number,
  parent?: string,
): Promise<string> {
  const id = newId('pay');
  await insertPayment(pool, {
    id,
    merchantId,
    livemode: false,
    kind,
    amount,
    currency: 'XOF',
    feeAmount: fee,
    operator: 'ligdicash',
    mode: kind === 'payin' ? 'redirect' : 'mobile_money',
    customer: {},
    metadata: {},
    parentPaymentId: parent,
    deadlineAt: new Date(Date.now() + 60_000),
    workflowId: `${kind}-${id}`,
  });
  return id;
}

const t = (paymentId: string, step: string, to: PaymentRecord['status']) => ({
  paymentId,
  step,
  to,
  actor: 'workflow' as const,
  reason: `property test: ${step}`,
});

/** Ends a held disbursement as the workflow would: capture, release, or keep the hold. */
async function endDisbursement(id: string, outcome: 'succeed' | 'fail' | 'unknown'): Promise<void> {
  if (outcome === 'unknown') {
    await applyTransition(pool, t(id, 'outcome_unknown', 'unknown'));
  } else if (outcome === 'succeed') {
    await applyTransition(pool, t(id, 'final', 'succeeded'), async (client, p) => {
      await post(client, capturePosting(p));
      if (p.kind === 'refund') await recordRefundOnPayin(client, p);
    });
  } else {
    await applyTransition(pool, t(id, 'final', 'failed'), async (client, p) => {
      await post(client, releasePosting(p));
    });
  }
}

describe('ledger postings (property)', () => {
  it('keep every entry balanced and every merchant balance equal to the model and never negative', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 14 }), async (ops) => {
        const merchant = (await createMerchant(pool, 'property')).merchant.id;
        const model = { available: 0, held: 0 };
        const payins: { id: string; amount: number; refundable: number }[] = [];
        const unknowns: { id: string; amount: number; fee: number; payin?: (typeof payins)[number] }[] = [];
        const posted: string[] = [];

        for (const o of ops) {
          if (o.t === 'payin') {
            const fee = Math.min(o.fee, o.amount);
            const id = await newPayment(merchant, 'payin', o.amount, fee);
            if (o.ok) {
              await applyTransition(pool, t(id, 'final', 'succeeded'), async (c, p) => {
                await post(c, payinSucceededPosting(p));
              });
              model.available += o.amount - fee;
              payins.push({ id, amount: o.amount, refundable: o.amount });
              posted.push(id);
            } else {
              await applyTransition(pool, t(id, 'final', 'failed'));
            }
          } else if (o.t === 'payout' || o.t === 'refund') {
            let amount: number;
            let parent: (typeof payins)[number] | undefined;
            if (o.t === 'refund') {
              parent = payins.filter((p) => p.refundable > 0)[o.pick % Math.max(1, payins.length)];
              if (!parent) continue;
              amount = Math.max(1, Math.min(parent.refundable, Math.round(parent.amount * o.share)));
            } else {
              amount = o.amount;
            }
            const fee = o.t === 'payout' ? o.fee : 0;
            const id = await newPayment(merchant, o.t, amount, fee, parent?.id);
            try {
              await applyTransition(pool, t(id, 'hold', 'pending'), async (c, p) => {
                await post(c, holdPosting(p));
              });
            } catch (err) {
              expect(err).toBeInstanceOf(InsufficientBalanceError);
              expect(model.available).toBeLessThan(amount + fee);
              await applyTransition(pool, t(id, 'hold', 'failed'));
              continue;
            }
            expect(model.available).toBeGreaterThanOrEqual(amount + fee);
            model.available -= amount + fee;
            model.held += amount + fee;
            if (parent) parent.refundable -= amount;
            await endDisbursement(id, o.outcome);
            if (o.outcome === 'succeed') model.held -= amount + fee;
            if (o.outcome === 'fail') {
              model.held -= amount + fee;
              model.available += amount + fee;
              if (parent) parent.refundable += amount;
            }
            if (o.outcome === 'unknown') unknowns.push({ id, amount, fee, payin: parent });
          } else if (o.t === 'resolve') {
            const u = unknowns.splice(o.pick % Math.max(1, unknowns.length), 1)[0];
            if (!u) continue;
            // Reconciliation settles an unknown disbursement: found executed, or found absent.
            await endDisbursement(u.id, o.outcome);
            model.held -= u.amount + u.fee;
            if (o.outcome === 'fail') {
              model.available += u.amount + u.fee;
              if (u.payin) u.payin.refundable += u.amount;
            }
          } else {
            // An activity run twice posts nothing twice.
            const id = posted[o.pick % Math.max(1, posted.length)];
            if (!id) continue;
            const again = await applyTransition(pool, t(id, 'final', 'succeeded'), async (c, p) => {
              await post(c, payinSucceededPosting(p));
            });
            expect(again.applied).toBe(false);
          }

          const check = await checkLedger(pool);
          expect(check).toEqual({
            unbalancedEntries: 0,
            entriesWithoutLines: 0,
            cachedBalanceMismatches: 0,
            negativeMerchantBalances: 0,
          });
          const [balance] = await merchantBalances(pool, merchant, false);
          expect({ available: balance?.available ?? 0, held: balance?.onHold ?? 0 }).toEqual(model);
        }
      }),
      { numRuns: 25 },
    );
  });

  it('refuses by itself (in the database) an entry that does not sum to zero, and any change to a posted line', async () => {
    const merchant = (await createMerchant(pool, 'guard')).merchant.id;
    const id = await newPayment(merchant, 'payin', 1000, 0);
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const entry = await client.query<{ id: number }>(
        "INSERT INTO journal_entries (payment_id, step, description) VALUES ($1, 'payin_succeeded', 'bad') RETURNING id",
        [id],
      );
      const { rows } = await client.query<{ id: number }>(
        "SELECT id FROM ledger_accounts WHERE code = 'fees:revenue:XOF'",
      );
      const account =
        rows[0]?.id ??
        (
          await client.query<{ id: number }>(
            "INSERT INTO ledger_accounts (code, kind, currency, normal_side) VALUES ('fees:revenue:XOF', 'fees_revenue', 'XOF', 'credit') RETURNING id",
          )
        ).rows[0]!.id;
      await client.query(
        'INSERT INTO ledger_lines (entry_id, account_id, currency, amount) VALUES ($1, $2, $3, 500)',
        [entry.rows[0]!.id, account, 'XOF'],
      );
      await expect(client.query('COMMIT')).rejects.toThrow(/does not balance/);
    } finally {
      client.release();
    }
    await expect(pool.query('UPDATE ledger_lines SET amount = amount + 1')).rejects.toThrow(/append-only/);
    await expect(pool.query('DELETE FROM journal_entries')).rejects.toThrow(/append-only/);
  });
});

describe('transitions at the same time', () => {
  it('apply once: the same step from eight callers records one event, one merchant event and one entry', async () => {
    const merchant = (await createMerchant(pool, 'same step at once')).merchant.id;
    const id = await newPayment(merchant, 'payin', 10_000, 150);
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        applyTransition(pool, t(id, 'final', 'succeeded'), async (c, p) => {
          await post(c, payinSucceededPosting(p));
        }),
      ),
    );
    expect(results.filter((r) => r.applied)).toHaveLength(1);
    for (const r of results.filter((r) => !r.applied)) {
      expect(r).toMatchObject({ reason: 'already_recorded', payment: { status: 'succeeded' } });
    }
    const counts = await pool.query<{ transitions: number; merchant_events: number; entries: number }>(
      `SELECT (SELECT count(*)::int FROM payment_events WHERE payment_id = $1 AND step = 'final') AS transitions,
              (SELECT count(*)::int FROM events WHERE resource_id = $1 AND type = 'payin.succeeded') AS merchant_events,
              (SELECT count(*)::int FROM journal_entries WHERE payment_id = $1) AS entries`,
      [id],
    );
    expect(counts.rows[0]).toEqual({ transitions: 1, merchant_events: 1, entries: 1 });
    const [balance] = await merchantBalances(pool, merchant, false);
    expect(balance).toMatchObject({ available: 10_000 - 150 });
  });

  it('let one of two ends win: the other is refused against the winner, and the loser records nothing', async () => {
    const merchant = (await createMerchant(pool, 'two ends at once')).merchant.id;
    const id = await newPayment(merchant, 'payin', 2_000, 0);
    await applyTransition(pool, t(id, 'initiate', 'action_required'));
    const [a, b] = await Promise.all([
      applyTransition(pool, t(id, 'deadline', 'expired')),
      applyTransition(pool, t(id, 'payer_cancelled', 'cancelled')),
    ]);
    const [won, lost] = a.applied ? [a, b] : [b, a];
    expect(won.applied).toBe(true);
    expect(lost).toMatchObject({
      applied: false,
      reason: 'not_allowed',
      payment: { status: won.payment.status },
    });
    const { rows } = await pool.query<{ step: string; from_status: string; to_status: string }>(
      'SELECT step, from_status, to_status FROM payment_events WHERE payment_id = $1 ORDER BY id',
      [id],
    );
    expect(rows.map((r) => `${r.step}:${r.from_status ?? ''}>${r.to_status}`)).toEqual([
      'create:>created',
      'initiate:created>action_required',
      `${won.payment.status === 'expired' ? 'deadline' : 'payer_cancelled'}:action_required>${won.payment.status}`,
    ]);
    await expect(applyTransition(pool, t(newId('pay'), 'final', 'failed'))).rejects.toThrow(/does not exist/);
  });
});
