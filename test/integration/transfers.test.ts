import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishEvents } from '../../db/events.js';
import { setFeeSchedule } from '../../db/fees.js';
import { createMerchant } from '../../db/merchants.js';
import { api, eventually, recordHistory, startStack, type TestStack } from '../support/stack.js';
import { expectBalancedLedger } from '../support/money.js';

/**
 * Cross-operator transfers: collect on TMoney, pay out on Flooz (PayGateGlobal), refund the sender
 * when the payout fails. After each test: the ledger balances and the sandboxes' own records show
 * exactly the money movements expected, no more.
 */
let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({
    env: {
      TRANSFER_REFUND_RETRY_SECONDS: '1,1',
      TRANSFER_RESOLUTION_CHECK_SECONDS: '1',
      TRANSFER_RESOLUTION_MAX_SECONDS: '10',
      PAYGATE_HTTP_TIMEOUT_MS: '1500',
    },
    sandboxEnv: { SANDBOX_AMBIGUOUS_DELAY_MS: '3000' },
  });
});
afterAll(async () => {
  await stack?.stop();
});

type Leg = {
  id: string;
  status: string;
  amount: number;
  operator: string;
  operator_reference: string | null;
} | null;
type Transfer = {
  id: string;
  status: string;
  fee: number;
  collect_amount: number;
  disburse_amount: number;
  next_action: { type: string } | null;
  legs: { collection: Leg; disbursement: Leg; refunds: NonNullable<Leg>[] };
  failure: { code: string } | null;
  events?: { to_status: string }[];
};

let senderSerial = 0;
/** A distinct Togocel sender for each transfer (TMoney refuses a second pending request to a number). */
function togocelSender(): string {
  senderSerial++;
  return `+2289${String((process.pid * 100 + senderSerial) % 10_000_000).padStart(7, '0')}`;
}
let recipientSerial = 0;
function moovRecipient(): string {
  recipientSerial++;
  return `+22897${String((process.pid * 100 + recipientSerial) % 1_000_000).padStart(6, '0')}`;
}

async function createTransfer(body: Record<string, unknown>, key = stack.merchant.apiKey) {
  return api<Transfer>(stack, 'POST', '/v1/transfers', {
    key,
    body: {
      currency: 'XOF',
      sender: { phone: togocelSender() },
      recipient: { phone: moovRecipient() },
      ...body,
    },
  });
}

async function transferEnds(id: string, key = stack.merchant.apiKey): Promise<Transfer> {
  return eventually(
    `transfer ${id} final`,
    async () => {
      const res = await api<Transfer>(stack, 'GET', `/v1/transfers/${id}`, { key });
      return ['completed', 'refunded', 'failed', 'needs_review'].includes(res.body.status)
        ? res.body
        : undefined;
    },
    45_000,
  );
}

/** The sandboxes' own records of money that moved for a transfer. */
function movements(t: Transfer) {
  const ids = [t.legs.collection?.id, t.legs.disbursement?.id, ...t.legs.refunds.map((r) => r.id)].filter(
    Boolean,
  ) as string[];
  const tmoney = [...stack.sandbox.tmoney.transactions.values()].filter((x) => ids.includes(x.refCommande));
  const paygate = [...stack.sandbox.paygate.transactions.values()].filter((x) => ids.includes(x.identifier));
  return {
    debited: tmoney.filter((x) => x.kind === 'debit' && x.executed).map((x) => x.montant),
    refundAttempts: tmoney.filter((x) => x.kind === 'credit').length,
    refunded: tmoney.filter((x) => x.kind === 'credit' && x.executed).map((x) => x.montant),
    paidOut: paygate.filter((x) => x.kind === 'disbursement' && x.executed).map((x) => x.amount),
  };
}

async function transitBalance(transferId: string): Promise<number> {
  const { rows } = await stack.pool.query<{ balance: number }>(
    'SELECT balance FROM ledger_accounts WHERE code = $1',
    [`transfer:${transferId}:transit:XOF`],
  );
  return rows[0]?.balance ?? 0;
}

describe('transfers', () => {
  it('TMoney to Flooz: collected, paid out, fee posted once; the UI finds the transfer and its legs by TransferId', async () => {
    const m = await createMerchant(stack.pool, 'Transfers with fee');
    await setFeeSchedule(stack.pool, {
      merchantId: m.merchant.id,
      kind: 'transfer',
      currency: 'XOF',
      percentBps: 100,
      fixedAmount: 0,
    });
    const created = await createTransfer({ amount: 10_000, fee_bearer: 'sender' }, m.apiKey);
    expect(created.status).toBe(201);
    expect(created.body.fee).toBe(100);
    expect(created.body.collect_amount).toBe(10_100);
    expect(created.body.disburse_amount).toBe(10_000);
    expect(created.body.next_action?.type).toBe('approve_on_phone');
    expect(created.body.legs.collection?.operator).toBe('tmoney');
    expect(created.body.legs.disbursement?.operator).toBe('paygate');

    const done = await transferEnds(created.body.id, m.apiKey);
    expect(done.status).toBe('completed');
    expect(done.legs.disbursement?.status).toBe('succeeded');
    expect(done.legs.refunds).toEqual([]);
    expect(movements(done)).toEqual({
      debited: [10_100],
      refundAttempts: 0,
      refunded: [],
      paidOut: [10_000],
    });
    expect(await transitBalance(done.id)).toBe(0);
    const { rows } = await stack.pool.query<{ amount: number }>(
      `SELECT l.amount FROM ledger_lines l JOIN journal_entries e ON e.id = l.entry_id JOIN ledger_accounts a ON a.id = l.account_id
        WHERE a.kind = 'fees_revenue' AND e.payment_id = ANY($1::text[])`,
      [[done.legs.collection!.id, done.legs.disbursement!.id]],
    );
    expect(rows.map((r) => r.amount)).toEqual([-100]);
    await expectBalancedLedger(stack.pool);

    const linked = await eventually('transfer and legs visible by TransferId', async () => {
      const ids: string[] = [];
      for await (const wf of stack.temporal.workflow.list({ query: `TransferId = '${done.id}'` }))
        ids.push(wf.workflowId);
      return ids.length === 3 ? ids.sort() : undefined;
    });
    expect(linked).toEqual(
      [
        `payin-${done.legs.collection!.id}`,
        `payout-${done.legs.disbursement!.id}`,
        `transfer-${done.id}`,
      ].sort(),
    );
    // Its story as events, from its creation to its end (the creation's event was once missing).
    await publishEvents(stack.pool);
    const events = await api<{ data: { type: string }[] }>(
      stack,
      'GET',
      `/v1/events?resource_id=${done.id}`,
      {
        key: m.apiKey,
      },
    );
    expect(events.body.data.map((e) => e.type).reverse()).toEqual(
      expect.arrayContaining(['transfer.created', 'transfer.completed']),
    );
    expect(events.body.data.map((e) => e.type).at(-1)).toBe('transfer.created');
    await recordHistory(stack, done.id, 'transfer-completed', 'transfer');
    // The collection leg of a transfer, with its signal to the parent.
    await recordHistory(stack, done.legs.collection!.id, 'payin-transfer-leg');
  });

  it('a refused collection stops everything: nothing is paid out', async () => {
    const created = await createTransfer({ amount: 3_002 }); // the sender declines the USSD request
    const done = await transferEnds(created.body.id);
    expect(done.status).toBe('failed');
    expect(done.legs.disbursement?.status).toBe('cancelled');
    expect(movements(done)).toEqual({ debited: [], refundAttempts: 0, refunded: [], paidOut: [] });
    await expectBalancedLedger(stack.pool);
  });

  it('a refused payout refunds the sender through the collecting operator; the sender ends whole', async () => {
    const created = await createTransfer({ amount: 4_104 }); // PayGateGlobal refuses (balance)
    const done = await transferEnds(created.body.id);
    expect(done.status).toBe('refunded');
    expect(done.legs.disbursement?.status).toBe('failed');
    expect(done.legs.refunds.map((r) => [r.status, r.operator, r.amount])).toEqual([
      ['succeeded', 'tmoney', 4_104],
    ]);
    expect(movements(done)).toEqual({ debited: [4_104], refundAttempts: 1, refunded: [4_104], paidOut: [] });
    expect(done.legs.collection?.status).toBe('refunded');
    expect(await transitBalance(done.id)).toBe(0);
    await expectBalancedLedger(stack.pool);
    await recordHistory(stack, done.id, 'transfer-refunding-refunded', 'transfer');
  });

  it('an ambiguous payout later found executed is not refunded', async () => {
    const created = await createTransfer({ amount: 4_107 }); // executed, answered 502, lookups 503 at first
    const done = await transferEnds(created.body.id);
    expect(done.status).toBe('completed');
    expect(done.events?.map((e) => e.to_status)).toContain('awaiting_resolution');
    expect(movements(done)).toEqual({ debited: [4_107], refundAttempts: 0, refunded: [], paidOut: [4_107] });
    expect(await transitBalance(done.id)).toBe(0);
    await expectBalancedLedger(stack.pool);
  });

  it('an ambiguous payout that its look-up cannot find is never refunded blindly (nor re-sent): in transit, for review', async () => {
    // Lost, answered too late, and PayGateGlobal's v2 status (undefined for disbursements) then
    // answers 404: not a documented "no such request", so the sender is not refunded on it.
    const created = await createTransfer({ amount: 4_106 });
    const done = await transferEnds(created.body.id);
    expect(done.status).toBe('needs_review');
    expect(done.failure?.code).toBe('payout_outcome_unknown');
    expect(done.events?.map((e) => e.to_status)).toContain('awaiting_resolution');
    expect(movements(done)).toEqual({ debited: [4_106], refundAttempts: 0, refunded: [], paidOut: [] });
    expect(await transitBalance(done.id)).toBe(4_106);
    await expectBalancedLedger(stack.pool);
  });

  it('a refund that fails twice is retried on schedule and succeeds the third time', async () => {
    const created = await createTransfer({ amount: 4_104, sender: { phone: '+22890000031' } });
    const done = await transferEnds(created.body.id);
    expect(done.status).toBe('refunded');
    expect(done.legs.refunds.map((r) => r.status)).toEqual(['failed', 'failed', 'succeeded']);
    expect(movements(done)).toEqual({ debited: [4_104], refundAttempts: 3, refunded: [4_104], paidOut: [] });
    expect(await transitBalance(done.id)).toBe(0);
    await expectBalancedLedger(stack.pool);
  });

  it('a refund that never succeeds ends needs_review, the money kept in transit, and is counted in /metrics', async () => {
    const created = await createTransfer({ amount: 4_104, sender: { phone: '+22890000032' } });
    const done = await transferEnds(created.body.id);
    expect(done.status).toBe('needs_review');
    expect(done.failure?.code).toBe('refund_failed');
    expect(done.legs.refunds.map((r) => r.status)).toEqual(['failed', 'failed', 'failed']);
    expect(movements(done)).toEqual({ debited: [4_104], refundAttempts: 3, refunded: [], paidOut: [] });
    expect(await transitBalance(done.id)).toBe(4_104);
    expect((await fetch(`${stack.apiUrl}/metrics`)).status).toBe(401);
    const metrics = await (
      await fetch(`${stack.apiUrl}/metrics`, {
        headers: { Authorization: 'Bearer test-admin-key-0123456789' },
      })
    ).text();
    expect(metrics).toMatch(/passerelle_transfers\{status="needs_review"\} [1-9]/);
    await expectBalancedLedger(stack.pool);
  });

  it('is refused before anything moves when a number is invalid, unroutable, or the payout route cannot pay', async () => {
    const bad = await createTransfer({ amount: 1_000, recipient: { phone: '12345' } });
    expect(bad.status).toBe(400);
    const unroutable = await createTransfer({ amount: 1_000, recipient: { phone: '+221761234567' } }); // Free Sénégal
    expect(unroutable.status).toBe(422);
    const same = await api<Transfer>(stack, 'POST', '/v1/transfers', {
      key: stack.merchant.apiKey,
      body: {
        amount: 1_000,
        currency: 'XOF',
        sender: { phone: '+22890111111' },
        recipient: { phone: '+22890111111' },
      },
    });
    expect(same.status).toBe(400);
    const tooBig = await createTransfer({ amount: 60_000_000 }); // above PayGateGlobal's Flooz balance
    expect(tooBig.status).toBe(422);
    expect((tooBig.body as unknown as { code: string }).code).toBe('disbursement_balance_low');
    const list = await api<{ data: Transfer[] }>(stack, 'GET', '/v1/transfers?limit=100', {
      key: stack.merchant.apiKey,
    });
    expect(list.body.data.length).toBeGreaterThanOrEqual(6);
  });
});
