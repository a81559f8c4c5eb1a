import { cardVaultRing } from '../../lib/config.js';
import { Client, Connection } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReconciliationActivities, type RunSummary } from '../../activities/reconciliation/index.js';
import { listCallbacks } from '../../db/callbacks.js';
import { payinSucceededPosting, post } from '../../db/ledger.js';
import { createMerchant } from '../../db/merchants.js';
import { applyTransition, getPayment, insertPayment } from '../../db/payments.js';
import { inTransaction } from '../../db/pool.js';
import { DEV_TMONEY_NOTIFICATION_TOKEN } from '../../lib/operator-settings/tmoney.js';
import { modesAtLiveEndpoint, operatorTiming } from '../../lib/operators.js';
import { newId } from '../../lib/ids.js';
import { createLogger } from '../../lib/logger.js';
import { createOperators } from '../../operators/registry.js';
import {
  api,
  eventually,
  ligdicashControl,
  payinReaches,
  reconciliationRun,
  startStack,
  TEST_ADMIN_KEY,
  type PayinBody,
  type TestStack,
} from '../support/stack.js';
import {
  balanceOf,
  expectBalancedLedger,
  fundMerchant,
  insertBarePayin,
  recipientNumber,
} from '../support/money.js';
import { useOwnDatabase } from '../support/own-database.js';

/**
 * The paths by which a payer, a lagging report, a forger or an outage could move money wrongly
 * (issue "Money safety"). Each test fails on the code before the fix; docs/RELIABILITY.md names
 * each one beside the attack it closes.
 */
let stack: TestStack;
const ADMIN = TEST_ADMIN_KEY;

// Its checks read what every file's stack writes: a database of its own (test/support/own-database.ts).
useOwnDatabase();
beforeAll(async () => {
  stack = await startStack({
    env: {
      LIGDICASH_PAYIN_DEADLINE_SECONDS: '6',
      TMONEY_SESSION_SECONDS: '4',
      TMONEY_NOTIFICATION_GRACE_SECONDS: '2',
      PAYGATE_PAYIN_DEADLINE_SECONDS: '8',
      SWEEP_RECHECK_MINUTES: '0',
    },
    sandboxEnv: { SANDBOX_TMONEY_SESSION_SECONDS: '4', SANDBOX_AMBIGUOUS_DELAY_MS: '3000' },
  });
});
afterAll(async () => {
  await stack?.stop();
});

type Merchant = { id: string; apiKey: string };
async function newMerchant(name: string): Promise<Merchant> {
  const m = await createMerchant(stack.pool, name);
  return { id: m.merchant.id, apiKey: m.apiKey };
}
const as = (m: Merchant) => ({ ...stack, merchant: m });

async function payinEnds(m: Merchant, id: string, timeoutMs = 30_000): Promise<PayinBody> {
  return payinReaches(as(m), id, ['succeeded', 'failed', 'cancelled', 'expired', 'unknown'], timeoutMs);
}

async function payoutEnds(m: Merchant, id: string): Promise<PayinBody> {
  return eventually(`payout ${id} to end`, async () => {
    const r = await api<PayinBody>(stack, 'GET', `/v1/payouts/${id}`, { key: m.apiKey });
    return ['succeeded', 'failed', 'unknown'].includes(r.body.status) ? r.body : undefined;
  });
}

type Run = {
  id: string;
  status: string;
  discrepancies: {
    data: {
      class: string;
      payment_id: string | null;
      resolution: string;
      action: string | null;
      action_reason: string | null;
    }[];
  };
};
const runReconciliation = (body: Record<string, unknown>) => reconciliationRun<Run>(stack, body);

/**
 * A payment's discrepancies in a run, read through every page: a whole day's run also reports
 * every other test file's payments of the day, so the run's first page need not hold this one.
 */
async function discrepanciesOf(runId: string, paymentId: string): Promise<Run['discrepancies']['data']> {
  const found: Run['discrepancies']['data'] = [];
  let cursor: string | null = null;
  do {
    const page: { status: number; body: Run & { discrepancies: { next_cursor: string | null } } } = await api(
      stack,
      'GET',
      `/v1/reconciliation/runs/${runId}?limit=1000${cursor ? `&cursor=${cursor}` : ''}`,
      { key: TEST_ADMIN_KEY },
    );
    expect(page.status).toBe(200);
    found.push(...page.body.discrepancies.data.filter((d) => d.payment_id === paymentId));
    cursor = page.body.discrepancies.next_cursor;
  } while (cursor);
  return found;
}

/** The sweep's activity run in this process, its context giving the Temporal client given, with the batch given. */
function sweepActivities(temporal: Client, batch: number) {
  const activities = createReconciliationActivities({
    pool: stack.pool,
    operators: createOperators(stack.config),
    vault: cardVaultRing(stack.config),
    logger: createLogger({ level: 'silent' }),
    timingFor: (operator) => operatorTiming(stack.config, operator),
    settlementModes: (op) => modesAtLiveEndpoint(stack.config, op),
    sweep: { lookbackDays: 7, batch, recheckMinutes: 0 },
  });
  return {
    sweepOperator: (r: Parameters<typeof activities.sweepOperator>[0]) =>
      new MockActivityEnvironment({}, { client: temporal }).run<
        [typeof r],
        RunSummary,
        typeof activities.sweepOperator
      >(activities.sweepOperator, r),
  };
}

async function creditsOf(paymentId: string): Promise<number> {
  const { rows } = await stack.pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM journal_entries WHERE payment_id = $1 AND credits_payment',
    [paymentId],
  );
  return rows[0]!.n;
}

describe('credit exactly once', () => {
  it('a success recorded after a late credit posts nothing, and no second credit step can post', async () => {
    const m = await newMerchant('Credit once');
    const id = newId('pay');
    await insertPayment(stack.pool, {
      id,
      merchantId: m.id,
      livemode: false,
      kind: 'payin',
      amount: 7_000,
      currency: 'XOF',
      operator: 'ligdicash',
      mode: 'redirect',
      customer: {},
      metadata: {},
      deadlineAt: new Date(),
      workflowId: `payin-${id}`,
    });
    // The sweep ended it while its workflow still ran, then a later sweep credited it late...
    await applyTransition(stack.pool, {
      paymentId: id,
      step: 'sweep',
      to: 'expired',
      actor: 'reconciliation',
      reason: 't',
    });
    await applyTransition(
      stack.pool,
      {
        paymentId: id,
        step: 'reconciliation:late_success',
        to: 'succeeded',
        actor: 'reconciliation',
        reason: 't',
      },
      async (client, p) => void (await post(client, payinSucceededPosting(p, 'late_payin_succeeded'))),
    );
    // ...then the workflow, still running, records its own success.
    const again = await applyTransition(
      stack.pool,
      { paymentId: id, step: 'final', to: 'succeeded', actor: 'status_check', reason: 't' },
      async (client, p) => void (await post(client, payinSucceededPosting(p))),
    );
    expect(again.applied).toBe(true);
    expect(await creditsOf(id)).toBe(1);
    expect(await balanceOf(stack, m.apiKey)).toMatchObject({ available: 7_000 });
    // Whatever the step's name, the database refuses a second credit.
    const payment = (await getPayment(stack.pool, id))!;
    const posted = await inTransaction(stack.pool, (client) => post(client, payinSucceededPosting(payment)));
    expect(posted).toBe(false);
    expect(await creditsOf(id)).toBe(1);
    await expectBalancedLedger(stack.pool);
  });

  it('the sweep leaves alone a payin whose workflow it cannot see (Temporal unreachable)', async () => {
    const m = await newMerchant('Sweep outage');
    const id = newId('pay');
    await insertPayment(stack.pool, {
      id,
      merchantId: m.id,
      livemode: false,
      kind: 'payin',
      amount: 7_100,
      currency: 'XOF',
      operator: 'tmoney',
      mode: 'redirect',
      customer: {},
      metadata: {},
      deadlineAt: new Date(Date.now() - 3_600_000),
      workflowId: `payin-${id}`,
    });
    await stack.pool.query(
      "UPDATE payments SET status = 'action_required', created_at = now() - interval '1 hour' WHERE id = $1",
      [id],
    );
    // A Temporal client whose server does not answer: every describe fails with "unavailable".
    const connection = await Connection.connect({ address: stack.config.TEMPORAL_ADDRESS });
    const unreachable = new Client({ connection });
    await connection.close();
    const activities = sweepActivities(unreachable, 10_000);
    const summary = await activities.sweepOperator({
      runId: `test-sweep-${id}`,
      operator: 'tmoney',
      triggeredBy: 'test',
    });
    expect(summary.status).toBe('completed');
    expect((await getPayment(stack.pool, id))!.status).toBe('action_required');
  });
});

describe('amounts the operator does not state never credit', () => {
  it("a payer who pays less on PayGateGlobal's page (opted into) is not credited; the report decides", async () => {
    const optedIn = await startStack({
      env: { PAYGATE_UNSAFE_HOSTED_PAGE: 'true', PAYGATE_PAYIN_DEADLINE_SECONDS: '8' },
    });
    try {
      const created = await api<PayinBody>(optedIn, 'POST', '/v1/payins', {
        key: optedIn.merchant.apiKey,
        body: { amount: 50_000, currency: 'XOF', operator: 'paygate', return_url: 'https://shop.example/ok' },
      });
      const url = new URL(created.body.next_action!.url!);
      expect(url.searchParams.get('amount')).toBe('50000');
      url.searchParams.set('amount', '100'); // the payer edits the URL
      const page = await (await fetch(url)).text();
      const fields = Object.fromEntries(
        [...page.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((f) => [
          f[1]!,
          f[2]!,
        ]),
      );
      const action = /<form method="post" action="([^"]+)"/.exec(page)![1]!;
      await fetch(action.replace(/&amp;/g, '&'), {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          ...fields,
          network: 'TMONEY',
          phone: '90112233',
          action: 'pay',
        }).toString(),
        redirect: 'manual',
      });
      const done = await payinReaches(optedIn, created.body.id, ['succeeded', 'unknown', 'expired'], 30_000);
      expect(done.status).toBe('unknown');
      expect(done.failure?.code).toBe('amount_unconfirmed');
      expect(await balanceOf(optedIn, optedIn.merchant.apiKey)).toMatchObject({ available: 0 });
      // The day's report states 100: an amount mismatch for a person, never a credit.
      const run = await reconciliationRun<Run>(optedIn, {
        operator: 'paygate',
        from: new Date(Date.now() - 600_000).toISOString(),
        to: new Date(Date.now() + 60_000).toISOString(),
      });
      expect(run.status).toBe('completed');
      const mine = await discrepanciesOf(run.id, created.body.id);
      expect(mine.map((d) => d.class)).toContain('amount_mismatch');
      expect(mine.every((d) => d.resolution === 'open')).toBe(true);
      expect(await balanceOf(optedIn, optedIn.merchant.apiKey)).toMatchObject({ available: 0 });
    } finally {
      await optedIn.stop();
    }
  });

  it('an amount written "1 011" is not "no amount": the payin stays unknown, nothing credited', async () => {
    const m = await newMerchant('Grouped amount');
    const created = await api<PayinBody>(stack, 'POST', '/v1/payins', {
      key: m.apiKey,
      body: { amount: 1_011, currency: 'XOF' },
    });
    const open = await payinReaches(as(m), created.body.id, ['action_required']);
    await ligdicashControl(stack, open.operator_reference!, 'pay');
    const done = await payinEnds(m, created.body.id);
    expect(done.status).toBe('unknown');
    expect(done.failure?.code).toBe('amount_unreadable');
    expect(await creditsOf(created.body.id)).toBe(0);
  });

  it('a direct payin whose status API is down at the deadline ends unknown, not expired', async () => {
    const m = await newMerchant('Status down');
    const created = await api<PayinBody>(stack, 'POST', '/v1/payins', {
      key: m.apiKey,
      body: { amount: 1_012, currency: 'XOF', mode: 'direct', customer: { phone: '+22670123456' } },
    });
    expect(created.body.next_action?.type).toBe('approve_on_phone');
    const done = await payinEnds(m, created.body.id);
    expect(done.status).toBe('unknown');
    expect(done.failure?.code).toBe('operator_outcome_unknown');
  });
});

describe('payouts', () => {
  it('one left unknown for its amount is never captured, neither by the workflow nor by the sweep', async () => {
    const m = await newMerchant('Payout amount');
    await fundMerchant(stack, m.apiKey, [10_000]);
    const created = await api<PayinBody>(stack, 'POST', '/v1/payouts', {
      key: m.apiKey,
      headers: { 'Idempotency-Key': `wrong-amount-${m.id}` },
      body: { amount: 2_010, currency: 'XOF', recipient: { phone: recipientNumber() } },
    });
    const done = await payoutEnds(m, created.body.id);
    expect(done.status).toBe('unknown');
    expect(done.failure?.code).toBe('amount_mismatch');
    await runReconciliation({ operator: 'ligdicash', kind: 'sweep' });
    const after = await api<PayinBody>(stack, 'GET', `/v1/payouts/${created.body.id}`, { key: m.apiKey });
    expect(after.body.status).toBe('unknown');
    expect(await balanceOf(stack, m.apiKey)).toMatchObject({ available: 10_000 - 2_010, on_hold: 2_010 });
  });

  it('one that failed never turns into a success: its hold was released', async () => {
    const m = await newMerchant('Failed payout');
    await fundMerchant(stack, m.apiKey, [5_000]);
    const created = await api<PayinBody>(stack, 'POST', '/v1/payouts', {
      key: m.apiKey,
      headers: { 'Idempotency-Key': `declined-${m.id}` },
      body: { amount: 2_001, currency: 'XOF', recipient: { phone: recipientNumber() } },
    });
    expect((await payoutEnds(m, created.body.id)).status).toBe('failed');
    const late = await applyTransition(stack.pool, {
      paymentId: created.body.id,
      step: 'late-execution',
      to: 'succeeded',
      actor: 'reconciliation',
      reason: 'an operator report says executed',
    });
    expect(late).toMatchObject({ applied: false, reason: 'not_allowed' });
    // The failed payout's callback is read with the payout words: confirmed, not "rejected".
    const callbacks = await eventually('payout callback settled', async () => {
      const rows = await listCallbacks(stack.pool, { paymentId: created.body.id });
      return rows.some((r) => r.verdict !== 'signalled' && r.verdict !== 'received') ? rows : undefined;
    });
    expect(callbacks.map((r) => r.verdict)).toContain('confirmed');
    expect(callbacks.map((r) => r.verdict)).not.toContain('rejected');
  });

  it("one absent from its day's report keeps its hold; the next day's absence alone does not release it either", async () => {
    const m = await newMerchant('Lagging report');
    await fundMerchant(stack, m.apiKey, [5_000]);
    const created = await api<PayinBody>(stack, 'POST', '/v1/payouts', {
      key: m.apiKey,
      headers: { 'Idempotency-Key': `lost-${m.id}` },
      body: { amount: 2_009, currency: 'XOF', recipient: { phone: recipientNumber() } },
    });
    expect((await payoutEnds(m, created.body.id)).status).toBe('unknown');
    const today = new Date().toISOString().slice(0, 10);
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const first = await runReconciliation({ operator: 'ligdicash', date: today });
    const [mine] = await discrepanciesOf(first.id, created.body.id);
    expect(mine).toMatchObject({ class: 'missing_on_operator_side', resolution: 'open' });
    expect(await balanceOf(stack, m.apiKey)).toMatchObject({ on_hold: 2_009 });
    // The next day's report does not list it either, but LigdiCash cannot say it never executed it.
    const second = await runReconciliation({ operator: 'ligdicash', date: tomorrow });
    const [next] = await discrepanciesOf(second.id, created.body.id);
    expect(next).toMatchObject({ class: 'missing_on_operator_side', resolution: 'open' });
    expect(next?.action_reason).toContain('cannot confirm');
    expect(await balanceOf(stack, m.apiKey)).toMatchObject({ on_hold: 2_009 });
  });

  it('a PayGateGlobal payout whose look-up answers "absent" while it executed is never sent again', async () => {
    const m = await newMerchant('Lagging lookup');
    const payin = await api<PayinBody>(stack, 'POST', '/v1/payins', {
      key: m.apiKey,
      body: { amount: 20_000, currency: 'XOF', mode: 'direct', customer: { phone: '+22897112233' } },
    });
    expect((await payinEnds(m, payin.body.id)).status).toBe('succeeded');
    const created = await api<PayinBody>(stack, 'POST', '/v1/payouts', {
      key: m.apiKey,
      headers: { 'Idempotency-Key': `lagging-${m.id}` },
      body: { amount: 4_108, currency: 'XOF', recipient: { phone: '+22896000108' } },
    });
    const done = await payoutEnds(m, created.body.id);
    expect(done.status).toBe('unknown');
    const sent = stack.sandbox.paygate.byIdentifier(created.body.id);
    expect(sent?.kind).toBe('disbursement');
    const attempts = [...stack.sandbox.paygate.transactions.values()].filter(
      (t) => t.identifier === created.body.id,
    );
    expect(attempts).toHaveLength(1);
    expect(await balanceOf(stack, m.apiKey)).toMatchObject({ on_hold: 4_108 });
  });
});

function notification(purchaseref: string, amount: number) {
  return new URLSearchParams({
    purchaseref,
    amount: String(amount),
    currency: '952',
    status: 'OK',
    error: '',
    payid: '99',
    paymentref: 'forged',
    mobile: '22890112233',
    clientid: '',
    cname: '',
    timestamp: '1',
  }).toString();
}

describe('callbacks', () => {
  it('a TMoney notification forged from an allowed address, without our token, credits nothing', async () => {
    const m = await newMerchant('Forged TMoney');
    const created = await api<PayinBody>(stack, 'POST', '/v1/payins', {
      key: m.apiKey,
      body: { amount: 3_009, currency: 'XOF', customer: { phone: '+22890112233' } }, // the payer never pays
    });
    expect(created.body.operator).toBe('tmoney');
    for (const path of ['/v1/callbacks/tmoney', '/v1/callbacks/tmoney/not-the-token-000000000000']) {
      const res = await fetch(`${stack.apiUrl}${path}?${notification(created.body.id, 3_009)}`);
      expect(res.status).toBe(200);
    }
    const rows = await listCallbacks(stack.pool, { operator: 'tmoney' });
    const forged = rows.filter((r) => r.rejectReason?.startsWith('notification token'));
    expect(forged.length).toBeGreaterThanOrEqual(2);
    expect(forged.every((r) => r.verdict === 'rejected')).toBe(true);
    const done = await payinEnds(m, created.body.id);
    expect(done.status).toBe('expired');
    expect(await balanceOf(stack, m.apiKey)).toMatchObject({ available: 0 });
  });

  it('a verified notification whose signal fails stays usable: the workflow finds it at its next check', async () => {
    const m = await newMerchant('Signal outage');
    const created = await api<PayinBody>(stack, 'POST', '/v1/payins', {
      key: m.apiKey,
      body: { amount: 3_009, currency: 'XOF', customer: { phone: '+22890112233' } },
    });
    // An API whose Temporal connection is closed: it stores and verifies, but cannot signal.
    const { createApp } = await import('../../api/app.js');
    const { createOperatorRules } = await import('../../operators/registry.js');
    const connection = await Connection.connect({ address: stack.config.TEMPORAL_ADDRESS });
    const broken = new Client({ connection });
    await connection.close();
    const http = await import('node:http');
    const server = http.createServer(
      createApp({
        config: stack.config,
        pool: stack.pool,
        temporal: broken,
        operators: createOperatorRules(stack.config),
        logger: createLogger({ level: 'silent' }),
      }),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as { port: number }).port;
      const res = await fetch(
        `http://127.0.0.1:${port}/v1/callbacks/tmoney/${DEV_TMONEY_NOTIFICATION_TOKEN}?${notification(created.body.id, 3_009)}`,
      );
      expect(res.status).toBe(200);
      const rows = await listCallbacks(stack.pool, { paymentId: created.body.id });
      expect(rows.map((r) => r.verdict)).toEqual(['signalled']);
      const done = await payinEnds(m, created.body.id);
      expect(done.status).toBe('succeeded');
    } finally {
      server.close();
    }
  });

  it('a TMoney return URL longer than TMoney takes is refused when the payin is created', async () => {
    const res = await api<{ type: string; code: string }>(stack, 'POST', '/v1/payins', {
      key: stack.merchant.apiKey,
      body: {
        amount: 5_000,
        currency: 'XOF',
        operator: 'tmoney',
        customer: { phone: '+22890112233' },
        return_url: `https://shop.example/${'x'.repeat(140)}`,
      },
    });
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('url_too_long');
    // A declined payer goes back to the return page (which reads the outcome), not the cancel page.
    const ok = await api<{ next_action: { fields: Record<string, string> } }>(stack, 'POST', '/v1/payins', {
      key: stack.merchant.apiKey,
      body: {
        amount: 5_000,
        currency: 'XOF',
        operator: 'tmoney',
        customer: { phone: '+22890112233' },
        return_url: 'https://shop.example/back',
        cancel_url: 'https://shop.example/cancelled',
      },
    });
    expect(ok.body.next_action.fields).toMatchObject({
      accepturl: 'https://shop.example/back',
      declineurl: 'https://shop.example/back',
      cancelurl: 'https://shop.example/cancelled',
    });
  });

  it("operators' balances are the platform's: operations see them (cached), merchants see route health only", async () => {
    const merchantView = await api<{ data: Record<string, unknown>[] }>(stack, 'GET', '/v1/operators', {
      key: stack.merchant.apiKey,
    });
    expect(merchantView.status).toBe(200);
    expect(merchantView.body.data.every((o) => !('balances' in o))).toBe(true);
    const callsBefore = stack.sandbox.paygate.balanceCalls;
    for (let i = 0; i < 3; i++) {
      const admin = await api<{ data: { operator: string; balances: unknown }[] }>(
        stack,
        'GET',
        '/v1/operators',
        {
          key: ADMIN,
        },
      );
      expect(admin.body.data.find((o) => o.operator === 'paygate')?.balances).toBeInstanceOf(Array);
    }
    expect(stack.sandbox.paygate.balanceCalls - callsBefore).toBeLessThanOrEqual(1);
    expect((await api(stack, 'GET', '/v1/operators')).status).toBe(401);
  });

  it('/metrics answers only with its token', async () => {
    expect((await fetch(`${stack.apiUrl}/metrics`)).status).toBe(401);
    const res = await fetch(`${stack.apiUrl}/metrics`, { headers: { Authorization: `Bearer ${ADMIN}` } });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('passerelle_payments');
  });

  it('stores a bounded number of callbacks a minute from one address; the rest get 429 and are not stored', async () => {
    const limited = await startStack({ worker: false, env: { CALLBACK_RATE_LIMIT_PER_MINUTE: '3' } });
    const stored = async () =>
      (
        await limited.pool.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM operator_callbacks WHERE operator = 'paygate'",
        )
      ).rows[0]!.n;
    try {
      // This file's database is its own: no other callback reaches the inbox meanwhile.
      const before = await stored();
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) {
        statuses.push(
          (await fetch(`${limited.apiUrl}/v1/callbacks/paygate`, { method: 'POST', body: 'x' })).status,
        );
      }
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
      expect((await stored()) - before).toBe(3);
    } finally {
      await limited.stop();
    }
  });

  it('believes X-Forwarded-For only from a trusted proxy, for the allow-list', async () => {
    const proxied = await startStack({
      worker: false,
      env: { TRUST_PROXY: 'loopback', TMONEY_CALLBACK_ALLOWED_IPS: '10.9.9.9' },
    });
    const direct = await startStack({ worker: false, env: { TMONEY_CALLBACK_ALLOWED_IPS: '10.9.9.9' } });
    try {
      // The allow-list guards live payments (test mode takes the sandbox's settings, which have none).
      const m = await newMerchant('Proxied');
      const paymentId = await insertBarePayin(stack.pool, m.id, {
        operator: 'tmoney',
        amount: 100,
        livemode: true,
      });
      const path = `/v1/callbacks/tmoney/${DEV_TMONEY_NOTIFICATION_TOKEN}?${notification(paymentId, 100)}`;
      const reason = async (st: TestStack) => {
        const res = await fetch(`${st.apiUrl}${path}`, { headers: { 'X-Forwarded-For': '10.9.9.9' } });
        const { id } = (await res.json()) as { id: number };
        return (await listCallbacks(st.pool, { operator: 'tmoney' })).find((r) => r.id === id)?.rejectReason;
      };
      expect(await reason(proxied)).not.toContain('not allowed'); // past the allow-list
      expect(await reason(direct)).toContain('not allowed for a live payment'); // the header alone proves nothing
    } finally {
      await Promise.all([proxied.stop(), direct.stop()]);
    }
  });
});

describe('the API', () => {
  it('replays a finished request by its Idempotency-Key before checking anything again', async () => {
    const m = await newMerchant('Replay first');
    await fundMerchant(stack, m.apiKey, [5_000]);
    const body = { amount: 3_000, currency: 'XOF', recipient: { phone: recipientNumber() } };
    const key = `replay-${m.id}`;
    const first = await api<PayinBody>(stack, 'POST', '/v1/payouts', {
      key: m.apiKey,
      body,
      headers: { 'Idempotency-Key': key },
    });
    expect(first.status).toBe(201);
    await payoutEnds(m, first.body.id);
    // The balance no longer fits the same payout: a new one would be 422, the replay is still its 201.
    const again = await api<PayinBody>(stack, 'POST', '/v1/payouts', {
      key: m.apiKey,
      body,
      headers: { 'Idempotency-Key': key },
    });
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body.id).toBe(first.body.id);
  });

  it('creates one transfer for two simultaneous requests with one key, and refuses a refund of its collection', async () => {
    const m = await newMerchant('Transfer twice');
    const body = {
      amount: 2_500,
      currency: 'XOF',
      mode: 'direct',
      sender: { phone: '+22890112233' },
      recipient: { phone: '+22897112233' },
    };
    const headers = { 'Idempotency-Key': `same-${m.id}` };
    const answers = await Promise.all(
      [1, 2, 3].map(() =>
        api<{ id: string; status: string }>(stack, 'POST', '/v1/transfers', { key: m.apiKey, body, headers }),
      ),
    );
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
    const transferId = answers[0]!.body.id;
    const { rows } = await stack.pool.query<{ kind: string }>(
      'SELECT kind FROM payments WHERE transfer_id = $1',
      [transferId],
    );
    expect(rows.map((r) => r.kind).sort()).toEqual(['payin', 'payout']);
    const done = await eventually('transfer completed', async () => {
      const r = await api<{ status: string; legs: { collection: { id: string } } }>(
        stack,
        'GET',
        `/v1/transfers/${transferId}`,
        {
          key: m.apiKey,
        },
      );
      return r.body.status === 'completed' ? r.body : undefined;
    });
    const refund = await api<{ code: string }>(
      stack,
      'POST',
      `/v1/payins/${done.legs.collection.id}/refunds`,
      {
        key: m.apiKey,
        body: { amount: 1_000 },
      },
    );
    expect(refund.status).toBe(422);
    expect(refund.body.code).toBe('transfer_leg_not_refundable');
  });

  it('the sweep ends a payout recorded but never started (nothing held), which then blocks nothing', async () => {
    const m = await newMerchant('Never started');
    const id = newId('pay');
    await insertPayment(
      stack.pool,
      {
        id,
        merchantId: m.id,
        livemode: false,
        kind: 'payout',
        amount: 1_500,
        currency: 'XOF',
        operator: 'ligdicash',
        network: 'orange_bf',
        mode: 'mobile_money',
        customer: { phone: recipientNumber() },
        metadata: {},
        deadlineAt: new Date(Date.now() + 86_400_000),
        workflowId: `payout-${id}`,
      },
      cardVaultRing(stack.config),
    );
    await stack.pool.query("UPDATE payments SET created_at = now() - interval '1 hour' WHERE id = $1", [id]);
    await runReconciliation({ operator: 'ligdicash', kind: 'sweep' });
    const after = (await getPayment(stack.pool, id))!;
    expect(after.status).toBe('failed');
    expect(after.failure?.code).toBe('not_started');
  });

  it('the sweep works through a backlog of unknown payouts in turn, not the same oldest batch each time', async () => {
    const m = await newMerchant('Backlog');
    const ids = [newId('pay'), newId('pay')];
    for (const [i, id] of ids.entries()) {
      await insertPayment(
        stack.pool,
        {
          id,
          merchantId: m.id,
          livemode: false,
          kind: 'payout',
          amount: 1_000 + i,
          currency: 'XOF',
          operator: 'paygate',
          network: 'moov_tg',
          mode: 'mobile_money',
          customer: { phone: '+22896000300' },
          metadata: {},
          deadlineAt: new Date(),
          workflowId: `payout-${id}`,
        },
        cardVaultRing(stack.config),
      );
      // Older than anything else in the database, and of unknown outcome (PayGateGlobal cannot tell).
      await stack.pool.query(
        "UPDATE payments SET status = 'unknown', created_at = now() - make_interval(days => 6, secs => $2) WHERE id = $1",
        [id, 10 - i],
      );
    }
    const activities = sweepActivities(stack.temporal, 1);
    const swept = async () =>
      (
        await stack.pool.query<{ id: string }>(
          'SELECT id FROM payments WHERE id = ANY($1::text[]) AND last_swept_at IS NOT NULL ORDER BY id',
          [ids],
        )
      ).rows.map((r) => r.id);
    await activities.sweepOperator({ runId: `rotate-1-${m.id}`, operator: 'paygate', triggeredBy: 'test' });
    expect(await swept()).toEqual([ids[0]]);
    await activities.sweepOperator({ runId: `rotate-2-${m.id}`, operator: 'paygate', triggeredBy: 'test' });
    expect(await swept()).toEqual([...ids].sort());
  });

  it('neutralises spreadsheet formulas in the CSV export of a report', async () => {
    const started = new Date(Date.now() - 60_000).toISOString();
    await fetch(`${stack.sandboxUrl}/ligdicash/_sandbox/report-adjustments`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify([
        { type: 'extra', reference: '=HYPERLINK("http://evil.example","x")', amount: 1_234 },
      ]),
    });
    try {
      const run = await runReconciliation({
        operator: 'ligdicash',
        from: started,
        to: new Date(Date.now() + 60_000).toISOString(),
      });
      const csv = await (
        await fetch(`${stack.apiUrl}/v1/reconciliation/runs/${run.id}/discrepancies.csv`, {
          headers: { Authorization: `Bearer ${ADMIN}` },
        })
      ).text();
      expect(csv).toContain(`"'=HYPERLINK(""http://evil.example"",""x"")"`);
      expect(csv).not.toMatch(/(^|,)=HYPERLINK/m);
    } finally {
      await fetch(`${stack.sandboxUrl}/ligdicash/_sandbox/report-adjustments`, { method: 'DELETE' });
    }
  });
});
