import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Payload } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PayloadEncryptionCodec } from '../../lib/payload-codec.js';
import { getPayment, type PaymentRecord } from '../../db/payments.js';
import { createLogger } from '../../lib/logger.js';
import { startGimSwitch, type GimSwitch } from '../../sandbox/gim/switch.js';
import { getCardAuthorisation } from '../../db/card-authorisations.js';
import { startCardPayin } from '../support/cards.js';
import { expectBalancedLedger } from '../support/money.js';
import { api, eventually, startStack, type TestStack } from '../support/stack.js';

/**
 * Card payins on GIM-UEMOA through the real worker, Temporal and PostgreSQL, against the switch
 * simulator over TCP: authorised then captured; declined; unanswered (lost, late, forged, or on a
 * connection that drops) and reversed until the switch acknowledges, never captured.
 */
const MAC_KEY = '0123456789ABCDEFFEDCBA9876543210';
let gim: { port: number; state: GimSwitch; close(): Promise<void> };
let stack: TestStack;
const logLines: string[] = [];
const execFileAsync = promisify(execFile);

beforeAll(async () => {
  gim = await startGimSwitch({
    host: '127.0.0.1',
    port: 0,
    macKeyHex: MAC_KEY,
    lateMs: 5_000,
    logger: createLogger({ level: 'silent' }),
  });
  stack = await startStack({
    env: { GIM_HOST: '127.0.0.1', GIM_PORT: String(gim.port), GIM_MAC_KEY: MAC_KEY, GIM_TIMEOUT_MS: '3000' },
    // Every log line of the API, the worker and the sandbox, at debug: searched for card numbers.
    logs: { write: (line: string) => void logLines.push(line) },
  });
});
afterAll(async () => {
  await stack?.stop();
  await gim?.close();
});

async function cardPayin(amount: number, pan?: string): Promise<{ id: string; result: string }> {
  const started = await startCardPayin(stack, amount, pan);
  return { id: started.id, result: await started.result };
}

/**
 * Every payload of a history (inputs, results, signals, memos, failures' details), but the search
 * attributes: Temporal indexes those in clear (payment id, merchant, kind, operator, status,
 * amount; never card or phone data), so no codec may touch them.
 */
function collectPayloads(value: unknown, found: Payload[] = []): Payload[] {
  if (Array.isArray(value)) for (const v of value) collectPayloads(v, found);
  else if (value && typeof value === 'object' && !(value instanceof Uint8Array)) {
    const o = value as Record<string, unknown>;
    if (o.metadata && typeof o.metadata === 'object' && 'data' in o) found.push(o);
    else
      for (const [k, v] of Object.entries(o))
        if (k !== 'searchAttributes' && k !== 'indexedFields') collectPayloads(v, found);
  }
  return found;
}

/**
 * The history as `temporal workflow show --output json` exports it, decoding through our codec
 * endpoint when given its authorization (every base64 field also decoded into the text searched).
 */
async function exportHistory(workflowId: string, codecAuth?: string): Promise<string> {
  // Asynchronous: the codec endpoint it calls is served by this very process.
  const { stdout: json } = await execFileAsync(
    process.env.TEMPORAL_CLI_PATH ?? 'temporal',
    [
      'workflow',
      'show',
      '--workflow-id',
      workflowId,
      '--address',
      stack.config.TEMPORAL_ADDRESS,
      '--output',
      'json',
      ...(codecAuth ? ['--codec-endpoint', `${stack.apiUrl}/ops/codec`, '--codec-auth', codecAuth] : []),
    ],
    { encoding: 'utf8' },
  );
  const decodedFields: string[] = [];
  JSON.parse(json, (_key, value: unknown) => {
    if (typeof value === 'string' && /^[A-Za-z0-9+/]{8,}={0,2}$/.test(value))
      decodedFields.push(Buffer.from(value, 'base64').toString('latin1'));
    return value;
  });
  return `${json}\n${decodedFields.join('\n')}`;
}

async function paymentOf(id: string): Promise<PaymentRecord> {
  return (await getPayment(stack.pool, id))!;
}

async function atSwitch(id: string) {
  const auth = (await getCardAuthorisation(stack.pool, id))!;
  return { auth, tx: gim.state.byRrn(auth.rrn) };
}

describe('card payins on GIM-UEMOA', () => {
  it('approved: captured by a completion advice, then credited; the payment keeps no card number', async () => {
    const { id, result } = await cardPayin(5_000);
    expect(result).toBe('captured');
    const payment = await paymentOf(id);
    expect(payment).toMatchObject({ status: 'succeeded', operator: 'gim', mode: 'card' });
    expect(payment.metadata).toMatchObject({
      card_first_six: '497010',
      card_last_four: '0014',
      card_brand: 'visa',
    });
    expect(JSON.stringify(payment)).not.toContain('4970100000000014');
    const { auth, tx } = await atSwitch(id);
    expect(auth).toMatchObject({ outcome: 'approved', responseCode: '00', captureSends: 1 });
    expect(auth.capturedAt).not.toBeNull();
    expect(auth.rrn).toMatch(/^\d{4}\d{6}00$/);
    expect(tx).toMatchObject({ captured: 1, reversed: false, amount: 5_000 });
    await expectBalancedLedger(stack.pool);
  });

  it('the card number is nowhere but in the vault: no table, no workflow history', async () => {
    const pan = '5555555555554444';
    const { id, result } = await cardPayin(4_200, pan);
    expect(result).toBe('captured');
    // Every table of the database, as text (bytea as hex), searched for the number: only the vault
    // holds it, encrypted (its text would not match either).
    const { rows: tables } = await stack.pool.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`,
    );
    const found: string[] = [];
    for (const { table_name: table } of tables) {
      const { rows } = await stack.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM "${table}" t WHERE t::text LIKE $1 OR t::text LIKE $2`,
        [`%${pan}%`, `%${Buffer.from(pan).toString('hex')}%`],
      );
      if (rows[0]!.n > 0) found.push(table);
    }
    expect(found).toEqual([]);
    // The workflow's history as the Temporal server keeps it: every payload encrypted, so not even
    // the payment id is in clear there (the search attributes, which are not payloads, name it).
    const history = await stack.temporal.workflow.getHandle(`payin-${id}`).fetchHistory();
    const payloads = collectPayloads(history);
    expect(payloads.length).toBeGreaterThan(3);
    expect(payloads.filter((p) => !PayloadEncryptionCodec.isEncrypted(p))).toEqual([]);
    const payloadText = payloads.map((p) => Buffer.from(p.data ?? []).toString('latin1')).join('\n');
    expect(payloadText).not.toContain(id);
    expect(payloadText).not.toContain(pan);
    // Decoded (as operations staff see it, through the codec endpoint): the payment, never the card.
    const exported = await exportHistory(`payin-${id}`, `Bearer ${stack.config.OPERATIONS_CODEC_KEY}`);
    expect(exported).toContain(id);
    expect(exported).not.toContain(pan);
    // Without the operations key the codec endpoint decodes nothing.
    await expect(
      exportHistory(`payin-${id}`, 'Bearer not-the-operations-key-0000000000000'),
    ).rejects.toThrow();
    // Exported without it: the payloads stay ciphertext (the payment id shows only in search attributes).
    const opaque = await exportHistory(`payin-${id}`);
    expect(opaque).toContain('binary/encrypted');
    expect(opaque).not.toContain(pan);
    expect(opaque).not.toContain('"paymentId"');
    expect(exported).toContain('"paymentId"');
    // The logs of the whole card payin (API, worker, switch connection), at debug level.
    const logs = logLines.join('');
    expect(logs).toContain(id);
    expect(logs).not.toContain(pan);
    expect(logs).not.toContain(pan.slice(6));
  });

  it('a mobile-money payer’s number is in no log and in no history payload, only in its payment', async () => {
    const phone = '+22670123477';
    const created = await api<{ id: string; status: string }>(stack, 'POST', '/v1/payins', {
      key: stack.merchant.apiKey,
      body: { amount: 2_000, currency: 'XOF', description: 'Order 77', mode: 'direct', customer: { phone } },
    });
    expect(created.status).toBe(201);
    await eventually('the payin ended', async () => {
      const p = await paymentOf(created.body.id);
      return ['succeeded', 'failed', 'expired'].includes(p.status) ? p : undefined;
    });
    const national = phone.slice(4);
    // Read once the workflow has ended: the last local activity's marker is written with the
    // workflow task it ran in, which may complete just after the end it recorded is in the database.
    const handle = stack.temporal.workflow.getHandle(`payin-${created.body.id}`);
    await handle.result();
    const history = await handle.fetchHistory();
    // The SDK writes the bookkeeping of each local activity (its sequence number, attempt, type and
    // times) as a marker's plain `data`, outside the payload codec; its result is encrypted like
    // every other payload. That bookkeeping holds nothing else: checked key by key.
    const markerData = new Set(
      (history.events ?? []).flatMap((e) =>
        e.markerRecordedEventAttributes?.markerName === 'core_local_activity'
          ? (e.markerRecordedEventAttributes.details?.data?.payloads ?? [])
          : [],
      ),
    );
    expect(markerData.size).toBeGreaterThanOrEqual(1); // the send, and the confirmation after a callback
    for (const bookkeeping of markerData) {
      const fields = JSON.parse(Buffer.from(bookkeeping.data!).toString('utf8')) as Record<string, unknown>;
      expect(Object.keys(fields).sort()).toEqual(
        [
          'activity_id',
          'activity_type',
          'attempt',
          'backoff',
          'complete_time',
          'original_schedule_time',
          'seq',
        ].sort(),
      );
    }
    const payloads = collectPayloads(history).filter((p) => !markerData.has(p));
    expect(payloads.length).toBeGreaterThan(0);
    expect(payloads.filter((p) => !PayloadEncryptionCodec.isEncrypted(p))).toEqual([]);
    expect(JSON.stringify(history)).not.toContain(national);
    const exported = await exportHistory(`payin-${created.body.id}`);
    expect(exported).not.toContain(national);
    const logs = logLines.join('');
    expect(logs).toContain(created.body.id);
    expect(logs).not.toContain(national);
  });

  it('declined by the issuer: failed, nothing to reverse or capture', async () => {
    const { id, result } = await cardPayin(7_002);
    expect(result).toBe('declined');
    expect(await paymentOf(id)).toMatchObject({ status: 'failed', failure: { code: 'insufficient_funds' } });
    const { auth, tx } = await atSwitch(id);
    expect(auth).toMatchObject({
      outcome: 'declined',
      responseCode: '51',
      reversalSends: 0,
      captureSends: 0,
    });
    expect(tx).toMatchObject({ held: false, captured: 0 });
  });

  it('no answer, a late one, a forged one, a dropped connection: each reversed, none captured, the card not charged', async () => {
    // The dropped connection (7009) goes last: a drop also loses whatever else was in flight on it.
    const runs = await Promise.all([7_005, 7_006, 7_008].map((amount) => cardPayin(amount)));
    // The late approval arrives after the reversal: it matches nothing, and captures nothing.
    const late = await atSwitch(runs[1]!.id);
    await eventually('the late 0110 sent', () =>
      Promise.resolve(late.tx!.answers.some((a) => a.mti === '0110') ? true : undefined),
    );
    runs.push(await cardPayin(7_009));
    for (const { id, result } of runs) {
      expect(result).toBe('reversed');
      expect(await paymentOf(id)).toMatchObject({
        status: 'failed',
        failure: { code: 'authorisation_reversed' },
      });
      const { auth, tx } = await atSwitch(id);
      expect(auth.outcome).toBe('no_answer');
      expect(auth.reversedAt).not.toBeNull();
      expect(tx).toMatchObject({ reversed: true, captured: 0, held: false });
    }
    expect(await paymentOf(runs[1]!.id)).toMatchObject({ status: 'failed' });
  });

  it('the switch down when a reversal is due: it is sent again and again until the switch is back and acknowledges', async () => {
    const running = cardPayin(7_005);
    const id = await eventually('the payin recorded', async () => {
      const { rows } = await stack.pool.query<{ id: string }>(
        "SELECT id FROM payments WHERE merchant_id = $1 AND amount = 7005 AND status = 'pending' ORDER BY created_at DESC LIMIT 1",
        [stack.merchant.id],
      );
      return rows[0]?.id;
    });
    const { auth } = await atSwitch(id);
    await eventually('the authorisation at the switch', () =>
      Promise.resolve(gim.state.byRrn(auth.rrn) ? true : undefined),
    );
    gim.state.setDown(true);
    // Each reversal attempt is counted before it goes: they pile up while the switch is down.
    await eventually(
      'reversal attempts while down',
      async () => ((await getCardAuthorisation(stack.pool, id))!.reversalSends >= 2 ? true : undefined),
      30_000,
    );
    gim.state.setDown(false);
    expect((await running).result).toBe('reversed');
    const after = await atSwitch(id);
    expect(after.auth.reversalSends).toBeGreaterThanOrEqual(3);
    expect(after.tx).toMatchObject({ reversed: true, captured: 0 });
    // The switch saw the authorisation, then only repeats (the first sends never reached it).
    expect(after.tx!.mtis[0]).toBe('0100');
    for (const mti of after.tx!.mtis.slice(1)) expect(['0420', '0421']).toContain(mti);
  });

  async function refundOf(payinId: string, body: Record<string, unknown>) {
    return api<{ id: string; status: string; code?: string; failure?: { code: string } | null }>(
      stack,
      'POST',
      `/v1/payins/${payinId}/refunds`,
      { key: stack.merchant.apiKey, body },
    );
  }

  async function refundEnds(id: string) {
    return eventually(`refund ${id} ended`, async () => {
      const r = await api<{ status: string; failure: { code: string } | null }>(
        stack,
        'GET',
        `/v1/refunds/${id}`,
        {
          key: stack.merchant.apiKey,
        },
      );
      return ['succeeded', 'failed', 'unknown'].includes(r.body.status) ? r.body : undefined;
    });
  }

  it('refunds back to the card: a 0200 (processing code 20) under its own STAN and RRN; partially refunded; never to a number', async () => {
    const { id, result } = await cardPayin(9_000);
    expect(result).toBe('captured');
    const toNumber = await refundOf(id, { amount: 1_000, recipient: { phone: '+22670112233' } });
    expect(toNumber.status).toBe(400);
    const created = await refundOf(id, { amount: 2_500 });
    expect(created.status, JSON.stringify(created.body)).toBe(202);
    expect(await refundEnds(created.body.id)).toMatchObject({ status: 'succeeded' });
    expect(await paymentOf(id)).toMatchObject({ status: 'partially_refunded' });
    const auth = (await getCardAuthorisation(stack.pool, created.body.id))!;
    const payinAuth = (await getCardAuthorisation(stack.pool, id))!;
    expect(auth.rrn).not.toBe(payinAuth.rrn);
    expect(auth.cardToken).toBe(payinAuth.cardToken);
    expect(gim.state.byRrn(auth.rrn)).toMatchObject({
      kind: 'refund',
      amount: 2_500,
      credited: true,
      reversed: false,
    });
    // Not more than remains, and not a payin that was never captured.
    const tooMuch = await refundOf(id, { amount: 7_000 });
    expect(tooMuch.body.code).toBe('refund_exceeds_remaining');
    const declined = await cardPayin(7_001);
    expect((await refundOf(declined.id, {})).body.code).toBe('payin_not_refundable');
    await expectBalancedLedger(stack.pool);
  });

  it('a refund whose answer never comes is reversed until acknowledged, then failed: the hold goes back to the merchant', async () => {
    const { id, result } = await cardPayin(9_500);
    expect(result).toBe('captured');
    const created = await refundOf(id, { amount: 7_005 });
    expect(created.status).toBe(202);
    expect(await refundEnds(created.body.id)).toMatchObject({
      status: 'failed',
      failure: { code: 'refund_reversed' },
    });
    expect(await paymentOf(id)).toMatchObject({ status: 'succeeded' });
    const auth = (await getCardAuthorisation(stack.pool, created.body.id))!;
    expect(auth).toMatchObject({ outcome: 'no_answer' });
    expect(auth.reversedAt).not.toBeNull();
    expect(gim.state.byRrn(auth.rrn)).toMatchObject({ kind: 'refund', reversed: true });
    await expectBalancedLedger(stack.pool);
  });

  it('every authorisation at the switch was either captured or reversed, none both; STANs never repeat', async () => {
    const { rows } = await stack.pool.query<{ stan: string; rrn: string }>(
      `SELECT a.stan, a.rrn FROM card_authorisations a JOIN payments p ON p.id = a.payment_id WHERE p.merchant_id = $1`,
      [stack.merchant.id],
    );
    expect(new Set(rows.map((r) => r.stan)).size).toBe(rows.length);
    for (const { rrn } of rows) {
      const tx = gim.state.byRrn(rrn);
      // One that never reached the switch (in flight on a dropped connection) has nothing to settle.
      if (!tx) continue;
      expect(tx.captured > 0 && tx.reversed).toBe(false);
      if (tx.kind === 'authorisation' && (tx.responseCode === '00' || tx.held))
        expect(tx.captured > 0 || tx.reversed).toBe(true);
    }
  });
});
