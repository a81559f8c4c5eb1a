import { describe, expect, it } from 'vitest';
import { getCardAuthorisation } from '../../db/card-authorisations.js';
import { startCardPayin, startProcessorCardPayin } from '../support/cards.js';
import { expectBalancedLedger } from '../support/money.js';
import { api, eventually, spawnPollingWorker } from '../support/stack.js';
import { killed, useCrashStack } from '../support/worker-crash.js';

/**
 * DESIGN.md rule 7: kill the worker at any moment and every payment still reaches a final state.
 * Card authorisations and transfers here; payins and payouts in worker-crash.test.ts.
 */
const crash = useCrashStack();

describe('worker killed during a card authorisation', () => {
  it('the authorisation re-sent by the next worker (same STAN and RRN) is not a second one; unanswered, it is reversed, never captured', async () => {
    crash.worker = await spawnPollingWorker(crash.stack);
    // The switch approves, holds, and answers only after 4 s (sandbox 7006): kill the worker while it waits.
    const started = await startCardPayin(crash.stack, 7_006);
    const auth = await eventually('the authorisation recorded', () =>
      getCardAuthorisation(crash.stack.pool, started.id),
    );
    await eventually(
      'the 0100 at the switch',
      () => Promise.resolve(crash.gim.state.byRrn(auth.rrn) ? true : undefined),
      30_000,
      5,
    );
    await killed(crash.worker);
    crash.worker = await spawnPollingWorker(crash.stack);
    expect(await started.result).toBe('reversed');
    const tx = crash.gim.state.byRrn(auth.rrn)!;
    // Held once whatever was re-sent, then released; never captured.
    expect(tx).toMatchObject({ reversed: true, captured: 0, held: false });
    expect(tx.mtis.filter((m) => m === '0100').length).toBeGreaterThanOrEqual(1);
    expect(tx.mtis.filter((m) => m.startsWith('04')).length).toBeGreaterThanOrEqual(1);
    const { rows } = await crash.stack.pool.query<{ status: string }>(
      'SELECT status FROM payments WHERE id = $1',
      [started.id],
    );
    expect(rows[0]!.status).toBe('failed');
    await expectBalancedLedger(crash.stack.pool);
  });
});

describe('worker killed during a card authorisation at the processor', () => {
  it('re-sent by the next worker under the same Idempotency-Key: one payment at the processor, captured once, credited once', async () => {
    crash.worker = await spawnPollingWorker(crash.stack);
    // The processor records the payment at once and answers only after 4 s: kill the worker meanwhile.
    const started = await startProcessorCardPayin(crash.stack, 8_006);
    const atProcessor = () =>
      [...crash.stack.sandbox.processor.payments.values()].filter((p) => p.reference === started.id);
    await eventually(
      'the authorisation at the processor',
      () => (atProcessor().length ? true : undefined),
      30_000,
      5,
    );
    await killed(crash.worker);
    crash.worker = await spawnPollingWorker(crash.stack);
    expect(await started.result).toBe('captured');
    expect(atProcessor()).toHaveLength(1);
    expect(atProcessor()[0]).toMatchObject({ status: 'captured', amount: 8_006 });
    const { rows } = await crash.stack.pool.query<{ status: string }>(
      'SELECT status FROM payments WHERE id = $1',
      [started.id],
    );
    expect(rows[0]!.status).toBe('succeeded');
    await expectBalancedLedger(crash.stack.pool);
  });
});

describe('worker killed during a transfer', () => {
  it('at each step boundary: collected once, never paid out twice, refunded once, books balanced', async () => {
    crash.worker = await spawnPollingWorker(crash.stack);
    const created = await api<{ id: string; legs: { collection: { id: string } } }>(
      crash.stack,
      'POST',
      '/v1/transfers',
      {
        key: crash.stack.merchant.apiKey,
        body: {
          amount: 4_104,
          currency: 'XOF',
          sender: { phone: '+22890555501' },
          recipient: { phone: '+22897555501' },
        },
      },
    );
    expect([201, 202]).toContain(created.status);
    const id = created.body.id;
    const statusIs = (wanted: string) =>
      eventually(
        `transfer ${id} ${wanted}`,
        async () => {
          const { rows } = await crash.stack.pool.query<{ status: string }>(
            'SELECT status FROM transfers WHERE id = $1',
            [id],
          );
          return rows[0]?.status === wanted ? true : undefined;
        },
        45_000,
        5,
      );
    for (const boundary of ['disbursing', 'refunding']) {
      await statusIs(boundary);
      await killed(crash.worker);
      crash.worker = await spawnPollingWorker(crash.stack);
    }
    await statusIs('refunded');
    const { rows } = await crash.stack.pool.query<{ id: string; kind: string }>(
      'SELECT id, kind FROM payments WHERE transfer_id = $1',
      [id],
    );
    const ids = rows.map((r) => r.id);
    const tmoney = [...crash.stack.sandbox.tmoney.transactions.values()].filter(
      (t) => ids.includes(t.refCommande) && t.executed,
    );
    const paygate = [...crash.stack.sandbox.paygate.transactions.values()].filter(
      (t) => ids.includes(t.identifier) && t.executed,
    );
    expect(tmoney.map((t) => [t.kind, t.montant])).toEqual([
      ['debit', 4_104],
      ['credit', 4_104],
    ]);
    expect(paygate).toEqual([]);
    await expectBalancedLedger(crash.stack.pool);
  });
});
