import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../lib/logger.js';
import { startGimSwitch } from '../../sandbox/gim/switch.js';
import { startCardPayin, startProcessorCardPayin } from '../support/cards.js';
import { getCardAuthorisation } from '../../db/card-authorisations.js';
import { getPayment } from '../../db/payments.js';
import { inTransaction } from '../../db/pool.js';
import { insertCardRefund } from '../../api/card-refunds.js';
import { newId } from '../../lib/ids.js';
import { cardSweep } from '../../workflows/card-recovery.js';
import { expectBalancedLedger } from '../support/money.js';
import { api, eventually, startStack, type PayinBody, type TestStack } from '../support/stack.js';
import { hiddenFields, postForm } from '../support/togo.js';
import { useOwnDatabase } from '../support/own-database.js';

/**
 * The card rails' route health, counted like an operator's (docs/cards.md): authorisations a rail
 * never answers open its circuit; the hosted checkout then sends no card to it, and
 * `GET /v1/operators` shows it down. And the card sweep: a card payin whose workflow is gone is
 * settled from what its rail holds. Its database is its own: the circuits, and the payins the card
 * sweep looks at, would otherwise be every test file's.
 */
const MAC_KEY = '0123456789ABCDEFFEDCBA9876543210';
let gim: Awaited<ReturnType<typeof startGimSwitch>>;
let stack: TestStack;

// Its checks read what every file's stack writes: a database of its own (test/support/own-database.ts).
useOwnDatabase();
beforeAll(async () => {
  gim = await startGimSwitch({
    host: '127.0.0.1',
    port: 0,
    macKeyHex: MAC_KEY,
    lateMs: 5_000,
    logger: createLogger({ level: 'silent' }),
  });
  stack = await startStack({
    env: {
      GIM_HOST: '127.0.0.1',
      GIM_PORT: String(gim.port),
      GIM_MAC_KEY: MAC_KEY,
      GIM_TIMEOUT_MS: '1000',
      CIRCUIT_FAILURE_THRESHOLD: '2',
      CIRCUIT_COOLDOWN_SECONDS: '600',
    },
    // The processor's slow authorisation (its test amount 8006) answers after 3 s.
    sandboxEnv: { SANDBOX_PROCESSOR_SLOW_MS: '3000' },
  });
});
afterAll(async () => {
  // The circuit is the switch's in test mode for every stack on this database: closed again
  // (this file's own database, but a run of the file alone against another should find it closed).
  await stack?.pool.query("DELETE FROM operator_health WHERE operator IN ('gim:test', 'processor:test')");
  await stack?.stop();
  await gim?.close();
});

type OperatorList = { data: { operator: string; status: string; down_until?: string }[] };

async function health(rail: string) {
  const res = await api<OperatorList>(stack, 'GET', '/v1/operators', { key: stack.merchant.apiKey });
  expect(res.status).toBe(200);
  return res.body.data.find((o) => o.operator === rail);
}

/** A hosted payin's page, and a card posted on it. */
async function hostedPage() {
  const hosted = await api<PayinBody & { next_action: { url: string } }>(stack, 'POST', '/v1/payins', {
    key: stack.merchant.apiKey,
    body: { amount: 5_000, currency: 'XOF', mode: 'hosted' },
  });
  expect(hosted.status).toBe(201);
  const url = hosted.body.next_action.url;
  const html = await (await fetch(url)).text();
  const payByCard = async (pan: string) => {
    const posted = await postForm(url, {
      action: 'card',
      nonce: hiddenFields(html).nonce!,
      card_number: pan,
      card_expiry: '12/30',
      card_cvc: '123',
    });
    return { status: posted.status, html: await posted.text() };
  };
  return { id: hosted.body.id, html, payByCard };
}

describe('card route health', () => {
  it('authorisations the switch never answers open its circuit: its cards refused on the page, the switch shown down', async () => {
    expect(await health('gim')).toEqual({ operator: 'gim', status: 'up' });
    // Two authorisations unanswered (sandbox amount 7005), each reversed: the threshold.
    const runs = [await startCardPayin(stack, 7_005), await startCardPayin(stack, 7_005)];
    for (const run of runs) expect(await run.result).toBe('reversed');
    const down = await health('gim');
    expect(down?.status).toBe('down');
    expect(Date.parse(down!.down_until!)).toBeGreaterThan(Date.now());
    expect((await health('processor'))?.status).toBe('up');

    // Visa and Mastercard still go to the processor; a GIM-UEMOA card is refused, nothing recorded.
    const page = await hostedPage();
    expect(page.html).toContain('name="card_number"');
    const refused = await page.payByCard('6280000000000008');
    expect(refused.status).toBe(400);
    expect(refused.html).toContain('Le paiement par carte est momentanément indisponible');
    const { rowCount } = await stack.pool.query('SELECT 1 FROM payments WHERE attempt_of = $1', [page.id]);
    expect(rowCount).toBe(0);
  });

  it('authorisations the processor answers with a 5xx open its circuit: with both rails down, no card is offered', async () => {
    // Sandbox amount 8003: authorised, then a 502; found by our reference, captured all the same.
    const runs = [await startProcessorCardPayin(stack, 8_003), await startProcessorCardPayin(stack, 8_003)];
    for (const run of runs) expect(await run.result).toBe('captured');
    expect((await health('processor'))?.status).toBe('down');
    const page = await hostedPage();
    expect(page.html).not.toContain('name="card_number"');
    const refused = await page.payByCard('4000000000000101');
    expect(refused.status).toBe(400);
    expect(refused.html).toContain('Le paiement par carte est momentanément indisponible');
  });
});

/** The card sweep, run now (its schedule is off in tests), to its end. */
async function runCardSweep(): Promise<{ recoveries: number }> {
  return stack.temporal.workflow.execute(cardSweep, {
    taskQueue: stack.config.TEMPORAL_TASK_QUEUE,
    workflowId: `card-sweep-test-${Date.now()}`,
    args: [{ triggeredBy: 'test' }],
  });
}

/** The payin's workflow terminated (as from the UI), its deadline passed: what the sweep looks for. */
async function abandon(paymentId: string): Promise<void> {
  await stack.temporal.workflow.getHandle(`payin-${paymentId}`).terminate('test: terminated from the UI');
  await stack.pool.query("UPDATE payments SET deadline_at = now() - interval '1 second' WHERE id = $1", [
    paymentId,
  ]);
}

async function ended(paymentId: string) {
  return eventually(`${paymentId} ended`, async () => {
    const p = await getPayment(stack.pool, paymentId);
    return p && !['created', 'pending', 'action_required'].includes(p.status) ? p : undefined;
  });
}

describe('a card payin whose workflow is gone (workflows/card-recovery.ts)', () => {
  it('at the switch: its authorisation, approved too late for its workflow, is reversed by the sweep, never captured', async () => {
    // The switch approves, and answers only after 5 s (sandbox 7006): the workflow is terminated
    // while it waits, and the approval lands on no workflow at all.
    const started = await startCardPayin(stack, 7_006);
    // Its workflow is terminated below: its result is a failure nobody waits for.
    started.result.catch(() => undefined);
    const auth = await eventually('authorisation sent', async () => {
      const a = await getCardAuthorisation(stack.pool, started.id);
      return a && gim.state.byRrn(a.rrn) ? a : undefined;
    });
    await abandon(started.id);
    await eventually('the late approval held at the switch', () =>
      Promise.resolve(gim.state.byRrn(auth.rrn)?.held ? true : undefined),
    );
    expect((await runCardSweep()).recoveries).toBeGreaterThanOrEqual(1);
    const payment = await ended(started.id);
    expect(payment).toMatchObject({ status: 'failed' });
    expect(gim.state.byRrn(auth.rrn)).toMatchObject({ reversed: true, held: false, captured: 0 });
    expect(await stack.temporal.workflow.getHandle(`card-recovery-${started.id}`).result()).toBe('reversed');
    // A second sweep finds nothing more to do.
    expect((await runCardSweep()).recoveries).toBe(0);
    await expectBalancedLedger(stack.pool);
  });

  it('at the processor: its authorisation, answered after its workflow was terminated, is voided by the sweep', async () => {
    // The processor authorises, and answers after 3 s (sandbox 8006): terminated meanwhile.
    const started = await startProcessorCardPayin(stack, 8_006);
    // Its workflow is terminated below: its result is a failure nobody waits for.
    started.result.catch(() => undefined);
    const atProcessor = () =>
      [...stack.sandbox.processor.payments.values()].filter((p) => p.reference === started.id);
    await eventually('authorisation at the processor', () =>
      Promise.resolve(atProcessor().length ? true : undefined),
    );
    await abandon(started.id);
    expect((await runCardSweep()).recoveries).toBeGreaterThanOrEqual(1);
    const payment = await ended(started.id);
    expect(payment).toMatchObject({ status: 'failed', failure: { code: 'payment_abandoned' } });
    expect(atProcessor().map((p) => p.status)).toEqual(['voided']);
    expect(await stack.temporal.workflow.getHandle(`card-recovery-${started.id}`).result()).toBe('voided');
    await expectBalancedLedger(stack.pool);
  });

  it('at the processor: an authorisation captured there after its workflow was terminated is credited, not voided', async () => {
    const started = await startProcessorCardPayin(stack, 8_006);
    // Its workflow is terminated below: its result is a failure nobody waits for.
    started.result.catch(() => undefined);
    const atProcessor = () =>
      [...stack.sandbox.processor.payments.values()].filter((p) => p.reference === started.id);
    await eventually('authorisation at the processor', () =>
      Promise.resolve(atProcessor().length ? true : undefined),
    );
    await abandon(started.id);
    // Captured at the processor all the same (a capture that was in flight, as it would arrive).
    const captured = await fetch(
      `${stack.sandboxUrl}/processor/v1/payments/${atProcessor()[0]!.id}/captures`,
      {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${stack.config.PROCESSOR_API_KEY}`,
          'Content-Type': 'application/json',
          'Idempotency-Key': `capture:${started.id}`,
        },
        body: JSON.stringify({ amount: 8_006 }),
      },
    );
    expect(captured.status).toBe(201);
    expect((await runCardSweep()).recoveries).toBeGreaterThanOrEqual(1);
    expect(await ended(started.id)).toMatchObject({ status: 'succeeded' });
    expect(atProcessor().map((p) => p.status)).toEqual(['captured']);
    expect(await stack.temporal.workflow.getHandle(`card-recovery-${started.id}`).result()).toBe('captured');
    await expectBalancedLedger(stack.pool);
  });

  it('a card refund whose workflow never ran (or is gone) is run again by the sweep, to its end', async () => {
    const paid = await startCardPayin(stack, 5_000);
    expect(await paid.result).toBe('captured');
    // Recorded as the API records one, its workflow never started (the API stopped right there).
    const refundId = newId('pay');
    await inTransaction(stack.pool, async (client) =>
      insertCardRefund(client, stack.config, {
        id: refundId,
        merchantId: stack.merchant.id,
        livemode: false,
        payin: (await getPayment(client, paid.id))!,
        amount: 2_000,
        fee: 0,
        description: 'Refund left without its workflow',
        metadata: {},
      }),
    );
    await stack.pool.query("UPDATE payments SET deadline_at = now() - interval '1 second' WHERE id = $1", [
      refundId,
    ]);
    expect((await runCardSweep()).recoveries).toBeGreaterThanOrEqual(1);
    expect(await ended(refundId)).toMatchObject({ status: 'succeeded' });
    expect((await getPayment(stack.pool, paid.id))?.status).toBe('partially_refunded');
    const refundAuth = (await getCardAuthorisation(stack.pool, refundId))!;
    expect(gim.state.byRrn(refundAuth.rrn)).toMatchObject({ credited: true, reversed: false });
    await expectBalancedLedger(stack.pool);
  });
});
