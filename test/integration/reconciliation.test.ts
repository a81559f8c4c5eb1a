import { execFile } from 'node:child_process';
import { Readable } from 'node:stream';
import ExcelJS from 'exceljs';
import { storeExport } from '../../api/settlement-files.js';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMerchant, setLateSuccessPolicy } from '../../db/merchants.js';
import { setFeeSchedule } from '../../db/fees.js';
import { insertPayment, rememberPayerPhone } from '../../db/payments.js';
import { newId } from '../../lib/ids.js';
import { scheduleIds } from '../../workers/schedules.js';
import { createPaymentsWorker } from '../../workers/payments-worker.js';
import { createLogger } from '../../lib/logger.js';
import { cardVaultRing, loadConfig } from '../../lib/config.js';
import {
  type PayinBody,
  ROOT,
  type TestStack,
  api,
  eventually,
  ligdicashControl,
  payinReaches,
  recordHistory,
  startStack,
} from '../support/stack.js';
import { balanceOf, expectBalancedLedger, fundMerchant, recipientNumber } from '../support/money.js';
import { hiddenFields, postForm } from '../support/togo.js';
import { useOwnDatabase } from '../support/own-database.js';

/**
 * Reconciliation: the operators' settlement reports matched against our payments and ledger
 * (each discrepancy class found and classified; each policy applied once, and not again), the
 * sweep, and the schedules. Runs go through the API and the real workflows.
 */
let stack: TestStack;
const ADMIN = 'test-admin-key-0123456789';
let periodFrom: string;

// Its checks read what every file's stack writes: a database of its own (test/support/own-database.ts).
useOwnDatabase();
beforeAll(async () => {
  periodFrom = new Date(Date.now() - 1000).toISOString();
  stack = await startStack({
    env: {
      LIGDICASH_PAYIN_DEADLINE_SECONDS: '3',
      LIGDICASH_HTTP_TIMEOUT_MS: '1500',
      SWEEP_RECHECK_MINUTES: '0',
    },
    sandboxEnv: { SANDBOX_AMBIGUOUS_DELAY_MS: '3000', SANDBOX_LATE_CALLBACK_MS: '5000' },
  });
});
afterAll(async () => {
  await stack?.stop();
});

type Discrepancy = {
  id: number;
  class: string;
  our_reference: string | null;
  payment_id: string | null;
  resolution: string;
  action: string | null;
  action_reason: string | null;
  resolution_note: string | null;
  resolved_by: string | null;
  our_amount: number | null;
  their_amount: number | null;
  their_status: string | null;
};
type Run = {
  id: string;
  workflow_id: string;
  status: string;
  lines_ingested: number;
  summary: Record<string, number>;
  discrepancies: { data: Discrepancy[]; has_more: boolean; next_cursor: string | null };
};

async function reconcile(operator: string, body: Record<string, unknown> = {}): Promise<Run> {
  const started = await api<{ id: string }>(stack, 'POST', '/v1/reconciliation/runs', {
    key: ADMIN,
    body: { operator, from: periodFrom, to: new Date(Date.now() + 60_000).toISOString(), ...body },
  });
  expect(started.status).toBe(202);
  // Readable at its Location the moment 202 is answered.
  const location = started.headers.get('location')!;
  expect(location).toBe(`/v1/reconciliation/runs/${started.body.id}`);
  const first = await api<Run>(stack, 'GET', location, { key: ADMIN });
  expect(first.status).toBe(200);
  return eventually(
    `run ${started.body.id}`,
    async () => {
      const res = await api<Run>(stack, 'GET', `/v1/reconciliation/runs/${started.body.id}?limit=1000`, {
        key: ADMIN,
      });
      return res.status === 200 && res.body.status !== 'running' ? res.body : undefined;
    },
    60_000,
  );
}

function adjust(operator: string, adjustments: unknown[]) {
  return fetch(`${stack.sandboxUrl}/${operator}/_sandbox/report-adjustments`, {
    method: adjustments.length ? 'POST' : 'DELETE',
    headers: { 'Content-Type': 'application/json' },
    body: adjustments.length ? JSON.stringify(adjustments) : undefined,
  });
}

async function paidPayin(key: string, amount: number): Promise<string> {
  const created = await api<PayinBody>(stack, 'POST', '/v1/payins', {
    key,
    body: { amount, currency: 'XOF' },
  });
  await ligdicashControl(stack, created.body.operator_reference!, 'pay', '22676000001');
  await payinReaches({ ...stack, merchant: { ...stack.merchant, apiKey: key } }, created.body.id, [
    'succeeded',
  ]);
  return created.body.id;
}

describe('settlement reconciliation (LigdiCash report)', () => {
  it('finds and classifies every kind of discrepancy, and nothing else', async () => {
    const m = await createMerchant(stack.pool, 'Reconciled');
    const clean = await paidPayin(m.apiKey, 5_000);
    const omitted = await paidPayin(m.apiKey, 5_100);
    const amount = await paidPayin(m.apiKey, 5_200);
    const status = await paidPayin(m.apiKey, 5_300);
    const duplicated = await paidPayin(m.apiKey, 5_400);
    // A payment whose ledger posting is missing (as if a bug had lost it), unknown to LigdiCash too.
    const unposted = newId('pay');
    await insertPayment(stack.pool, {
      id: unposted,
      merchantId: m.merchant.id,
      livemode: false,
      kind: 'payin',
      amount: 700,
      currency: 'XOF',
      operator: 'ligdicash',
      mode: 'redirect',
      customer: {},
      metadata: {},
      deadlineAt: new Date(),
      workflowId: `payin-${unposted}`,
    });
    await stack.pool.query("UPDATE payments SET status = 'succeeded' WHERE id = $1", [unposted]);
    const stranger = 'pay_strangerstrangerstrang';
    await adjust('ligdicash', [
      { type: 'omit', reference: omitted },
      { type: 'amount', reference: amount, amount: 5_199 },
      { type: 'status', reference: status, status: 'nocompleted' },
      { type: 'duplicate', reference: duplicated },
      { type: 'extra', reference: stranger, amount: 900 },
    ]);
    try {
      const run = await reconcile('ligdicash');
      expect(run.status).toBe('completed');
      const byClass = (c: string) =>
        run.discrepancies.data
          .filter((d) => d.class === c)
          .map((d) => d.our_reference)
          .sort();
      expect(byClass('missing_on_operator_side')).toEqual([omitted, unposted].sort());
      expect(byClass('amount_mismatch')).toEqual([amount]);
      expect(byClass('status_mismatch')).toEqual([status]);
      expect(byClass('duplicate_line')).toEqual([duplicated]);
      expect(byClass('missing_on_our_side')).toEqual([stranger]);
      expect(byClass('ledger_mismatch')).toEqual([unposted]);
      expect(run.discrepancies.data.map((d) => d.our_reference)).not.toContain(clean);
      const mismatch = run.discrepancies.data.find((d) => d.class === 'amount_mismatch')!;
      expect([mismatch.our_amount, mismatch.their_amount]).toEqual([5_200, 5_199]);
      // None of these is for a policy: they stay open for review.
      expect(run.discrepancies.data.every((d) => d.resolution === 'open')).toBe(true);
      // Each is an operations event, written with it; merchants do not see them.
      const events = await api<{ data: Array<{ type: string; data: { run_id: string; class: string } }> }>(
        stack,
        'GET',
        '/v1/reconciliation/events?limit=100',
        { key: ADMIN },
      );
      const ofRun = events.body.data.filter((e) => e.data.run_id === run.id);
      expect(ofRun.map((e) => e.data.class).sort()).toEqual(
        run.discrepancies.data.map((d) => d.class).sort(),
      );
      expect(ofRun.every((e) => e.type === 'reconciliation.discrepancy_found')).toBe(true);
      const merchantView = await api<{ data: unknown[] }>(
        stack,
        'GET',
        '/v1/events?type=payin.succeeded&limit=1',
        {
          key: m.apiKey,
        },
      );
      expect(merchantView.status).toBe(200);
      expect((await api(stack, 'GET', '/v1/reconciliation/events', { key: m.apiKey })).status).toBe(401);

      const filtered = await api<Run>(
        stack,
        'GET',
        `/v1/reconciliation/runs/${run.id}?class=amount_mismatch`,
        { key: ADMIN },
      );
      expect(filtered.body.discrepancies.data.map((d) => d.class)).toEqual(['amount_mismatch']);
      const csv = await fetch(`${stack.apiUrl}/v1/reconciliation/runs/${run.id}/discrepancies.csv`, {
        headers: { Authorization: `Bearer ${ADMIN}` },
      });
      const csvText = await csv.text();
      expect(csv.headers.get('content-type')).toContain('text/csv');
      expect(csvText.split('\r\n')[0]).toBe(
        'id,class,payment_id,merchant_id,our_reference,operator_reference,line_no,our_amount,their_amount,our_status,their_status,resolution,action,action_reason,resolution_note,resolved_by,resolved_at',
      );
      expect(csvText).toContain(stranger);
      const xml = await (
        await fetch(`${stack.apiUrl}/v1/reconciliation/runs/${run.id}/discrepancies.xml`, {
          headers: { Authorization: `Bearer ${ADMIN}` },
        })
      ).text();
      expect(xml).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>/);
      expect(xml).toContain('<reconciliationReport xmlns="urn:passerelle:reconciliation:1"');
      expect((xml.match(/<discrepancy /g) ?? []).length).toBe(run.discrepancies.data.length);

      // A person closes the amount mismatch with a note: it is no longer open, and stays reported.
      const note = 'LigdiCash confirmed 5 199 by e-mail; 1 XOF written off';
      const resolve = (id: number | string, body: Record<string, unknown>, key = ADMIN) =>
        api<Discrepancy & { type?: string }>(
          stack,
          'POST',
          `/v1/reconciliation/discrepancies/${id}/resolve`,
          {
            key,
            body,
          },
        );
      const closed = await resolve(mismatch.id, { note, resolved_by: 'awa' });
      expect(closed.status).toBe(200);
      expect(closed.body).toMatchObject({
        resolution: 'resolved',
        resolution_note: note,
        resolved_by: 'awa',
      });
      expect((await resolve(mismatch.id, { note, resolved_by: 'awa' })).status).toBe(200);
      expect((await resolve(mismatch.id, { note: 'another story' })).status).toBe(409);
      expect((await resolve(mismatch.id, { note }, m.apiKey)).status).toBe(401);
      expect((await resolve(999_999_999, { note })).status).toBe(404);
      expect((await resolve('abc', { note })).status).toBe(404);
      expect((await resolve(mismatch.id, { note: '' })).status).toBe(400);
      const open = await api<Run>(stack, 'GET', `/v1/reconciliation/runs/${run.id}?resolution=open`, {
        key: ADMIN,
      });
      expect(open.body.discrepancies.data.map((d) => d.id)).not.toContain(mismatch.id);
      const csvAfter = await (
        await fetch(`${stack.apiUrl}/v1/reconciliation/runs/${run.id}/discrepancies.csv`, {
          headers: { Authorization: `Bearer ${ADMIN}` },
        })
      ).text();
      expect(csvAfter).toContain(note);
      // A later run finds the same mismatch again: recorded closed, with the person's note.
      const again = await reconcile('ligdicash');
      const carried = again.discrepancies.data.find(
        (d) => d.class === 'amount_mismatch' && d.our_reference === amount,
      )!;
      expect(carried).toMatchObject({ resolution: 'resolved', resolution_note: note, resolved_by: 'awa' });
      expect(again.summary.resolved_earlier).toBeGreaterThanOrEqual(1);
    } finally {
      await adjust('ligdicash', []);
    }
  });

  it('applies each policy once: late success credited, an unknown payout the report shows executed captured, one it does not list kept on hold; a re-run changes nothing', async () => {
    const m = await createMerchant(stack.pool, 'Policies');
    await fundMerchant(stack, m.apiKey, [20_000]);
    // A payin we expired (the payer never finished in time), that LigdiCash completes later.
    const late = await api<PayinBody>(stack, 'POST', '/v1/payins', {
      key: m.apiKey,
      body: { amount: 1_003, currency: 'XOF' },
    });
    await payinReaches(
      { ...stack, merchant: { ...stack.merchant, apiKey: m.apiKey } },
      late.body.id,
      ['expired'],
      15_000,
    );
    await ligdicashControl(stack, late.body.operator_reference!, 'complete');
    // Two payouts of unknown outcome: one executed at LigdiCash, one lost.
    const executed = await api<{ id: string; status: string }>(stack, 'POST', '/v1/payouts', {
      key: m.apiKey,
      body: { amount: 2_002, currency: 'XOF', recipient: { phone: recipientNumber() } },
    });
    const lost = await api<{ id: string; status: string }>(stack, 'POST', '/v1/payouts', {
      key: m.apiKey,
      body: { amount: 2_009, currency: 'XOF', recipient: { phone: recipientNumber() } },
    });
    expect([executed.body.status, lost.body.status]).toEqual(['unknown', 'unknown']);
    const before = await balanceOf(stack, m.apiKey);
    expect(before.on_hold).toBe(2_002 + 2_009);

    const first = await reconcile('ligdicash');
    const action = (ref: string) =>
      first.discrepancies.data.find((d) => d.our_reference === ref && d.resolution === 'auto_resolved')
        ?.action;
    expect(action(late.body.id)).toBe('late_credit');
    expect(action(executed.body.id)).toBe('capture');
    // Absent from one report is not "never executed" (it may be on the next day's): hold kept.
    expect(action(lost.body.id)).toBeUndefined();
    expect(first.discrepancies.data.find((d) => d.our_reference === lost.body.id)?.class).toBe(
      'missing_on_operator_side',
    );
    const after = await balanceOf(stack, m.apiKey);
    expect(after).toMatchObject({ available: before.available + 1_003, on_hold: 2_009 });
    const latePayin = await api<PayinBody>(stack, 'GET', `/v1/payins/${late.body.id}`, { key: m.apiKey });
    expect(latePayin.body.status).toBe('succeeded');
    await expectBalancedLedger(stack.pool);

    const second = await reconcile('ligdicash');
    expect(
      second.discrepancies.data.filter((d) =>
        [late.body.id, executed.body.id].includes(d.our_reference ?? ''),
      ),
    ).toEqual([]);
    expect(await balanceOf(stack, m.apiKey)).toEqual(after);
    const { rows } = await stack.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM journal_entries WHERE payment_id = ANY($1::text[])`,
      [[late.body.id, executed.body.id, lost.body.id]],
    );
    // late credit, hold + capture, hold: four entries, none twice.
    expect(rows[0]!.n).toBe(4);
  });

  it('ends payins left unknown: declined at the operator, or never reached it', async () => {
    const m = await createMerchant(stack.pool, 'Unknown payins');
    const unknownPayin = async (amount: number) => {
      const id = newId('pay');
      await insertPayment(
        stack.pool,
        {
          id,
          merchantId: m.merchant.id,
          livemode: false,
          kind: 'payin',
          amount,
          currency: 'XOF',
          operator: 'ligdicash',
          mode: 'direct',
          customer: { phone: '+22670111222' },
          metadata: {},
          deadlineAt: new Date(),
          workflowId: `payin-${id}`,
        },
        cardVaultRing(stack.config),
      );
      // As a direct payin whose initiation answer was lost (workflows/payin.ts): never re-sent.
      await stack.pool.query("UPDATE payments SET status = 'unknown' WHERE id = $1", [id]);
      return id;
    };
    const declined = await unknownPayin(3_100);
    const neverSent = await unknownPayin(3_200);
    await adjust('ligdicash', [{ type: 'extra', reference: declined, amount: 3_100, status: 'nocompleted' }]);
    try {
      const run = await reconcile('ligdicash');
      const action = (ref: string) => run.discrepancies.data.find((d) => d.our_reference === ref)?.action;
      // The report's `nocompleted` carries no sub-code: LigdiCash's word for a payer who did not pay.
      expect(action(declined)).toBe('end_cancelled');
      expect(action(neverSent)).toBe('end_failed');
      const statusOf = async (id: string) =>
        (await api<PayinBody>(stack, 'GET', `/v1/payins/${id}`, { key: m.apiKey })).body.status;
      expect([await statusOf(declined), await statusOf(neverSent)]).toEqual(['cancelled', 'failed']);
      expect(await balanceOf(stack, m.apiKey)).toMatchObject({ available: 0, on_hold: 0 });
      const again = await reconcile('ligdicash');
      expect(
        again.discrepancies.data.filter((d) => [declined, neverSent].includes(d.our_reference ?? '')),
      ).toEqual([]);
    } finally {
      await adjust('ligdicash', []);
    }
  });

  it('refunds a late payment at once, in full, when the merchant chose that policy: the merchant ends where it was', async () => {
    const m = await createMerchant(stack.pool, 'Refund late');
    expect(await setLateSuccessPolicy(stack.pool, m.merchant.id, 'refund')).toBe(true);
    // A 2 % payin fee: the merchant is credited 983 of the 1,003 the payer paid.
    await setFeeSchedule(stack.pool, {
      merchantId: m.merchant.id,
      kind: 'payin',
      currency: 'XOF',
      percentBps: 200,
      fixedAmount: 0,
    });
    const late = await api<PayinBody>(stack, 'POST', '/v1/payins', {
      key: m.apiKey,
      body: { amount: 1_003, currency: 'XOF' },
    });
    await payinReaches(
      { ...stack, merchant: { ...stack.merchant, apiKey: m.apiKey } },
      late.body.id,
      ['expired'],
      15_000,
    );
    // The payer pays late, on the page: LigdiCash reports the number that paid.
    await fetch(
      `${stack.sandboxUrl}/ligdicash/_sandbox/invoices/${encodeURIComponent(late.body.operator_reference!)}/complete`,
      { method: 'POST' },
    );
    await rememberPayerPhone(stack.pool, cardVaultRing(stack.config), late.body.id, '22676000042');
    const run = await reconcile('ligdicash');
    const d = run.discrepancies.data.find((x) => x.our_reference === late.body.id)!;
    expect(d.action).toBe('late_credit_and_refund');
    // The refund's workflow is a child of the run's (ABANDON): no activity starts a workflow.
    const refundId = /refund (pay_[a-z2-7]{24})/.exec(d.action_reason ?? '')?.[1];
    expect(refundId).toBeDefined();
    const refundWorkflow = await eventually('late refund started', async () =>
      stack.temporal.workflow
        .getHandle(`refund-${refundId}`)
        .describe()
        .catch(() => undefined),
    );
    expect(refundWorkflow.parentExecution?.workflowId).toBe(run.workflow_id);
    const refunded = await eventually('late refund paid', async () => {
      const r = await api<PayinBody>(stack, 'GET', `/v1/payins/${late.body.id}`, { key: m.apiKey });
      return r.body.status === 'refunded' ? r.body : undefined;
    });
    expect(refunded.status).toBe('refunded');
    // The payer got all 1,003 back; our fee went back to the merchant, who ends at zero.
    const refunds = await api<{ data: { amount: number; status: string }[] }>(
      stack,
      'GET',
      `/v1/payins/${late.body.id}/refunds`,
      { key: m.apiKey },
    );
    expect(refunds.body.data.map((r) => [r.amount, r.status])).toEqual([[1_003, 'succeeded']]);
    expect(await balanceOf(stack, m.apiKey)).toMatchObject({ available: 0, on_hold: 0 });
    await expectBalancedLedger(stack.pool);
    await recordHistory(stack, run.workflow_id, 'settlement-late-refund-as-child', 'workflow');
  });
});

describe('exports uploaded from the back-office', () => {
  it('reads a LigdiCash CSV export with French headers, matches it like a report, and a second upload changes nothing', async () => {
    const from = new Date(Date.now() - 1000).toISOString();
    const m = await createMerchant(stack.pool, 'Uploaded');
    const clean = await paidPayin(m.apiKey, 5_000);
    const short = await paidPayin(m.apiKey, 5_200);
    const to = new Date(Date.now() + 1000).toISOString();
    const tokenOf = async (id: string) =>
      (await api<PayinBody>(stack, 'GET', `/v1/payins/${id}`, { key: m.apiKey })).body.operator_reference!;
    const stranger = 'pay_uploadstrangerstrangers';
    const csv = [
      'Date;Référence marchand;Token;Type;Montant;Devise;Statut',
      `2026-11-22 10:00:00;${clean};${await tokenOf(clean)};paiement;5 000;XOF;completed`,
      `2026-11-22 10:01:00;${short};${await tokenOf(short)};paiement;5 199;XOF;completed`,
      ';;;;;;',
      `2026-11-22 10:02:00;${stranger};tok;paiement;900;XOF;completed`,
    ].join('\r\n');
    const upload = (body: string, contentType = 'text/csv') =>
      api<{
        id: string;
        run_id: string;
        lines: number;
        unreadable_lines: number;
        duplicate: boolean;
        detail?: string;
      }>(
        stack,
        'POST',
        `/v1/reconciliation/reports?operator=ligdicash&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}&filename=export.csv`,
        { key: ADMIN, rawBody: body, headers: { 'Content-Type': contentType } },
      );
    const first = await upload(csv);
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({ lines: 3, unreadable_lines: 0, duplicate: false });
    const run = await eventually(`run ${first.body.run_id}`, async () => {
      const r = await api<Run>(stack, 'GET', `/v1/reconciliation/runs/${first.body.run_id}?limit=1000`, {
        key: ADMIN,
      });
      return r.status === 200 && r.body.status !== 'running' ? r.body : undefined;
    });
    expect(run.status).toBe('completed');
    const found = run.discrepancies.data.map((d) => [d.class, d.our_reference]);
    expect(found).toContainEqual(['amount_mismatch', short]);
    expect(found).toContainEqual(['missing_on_our_side', stranger]);
    expect(found.map(([, ref]) => ref)).not.toContain(clean);

    const again = await upload(csv);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id: first.body.id, run_id: first.body.run_id, duplicate: true });

    const noStatus = await upload('Date;Référence marchand;Montant\r\n2026-11-22;x;100');
    expect(noStatus.status).toBe(400);
    expect(noStatus.body.detail).toContain('status');
    expect((await upload(csv, 'application/pdf')).status).toBe(415);
    // A file the reader cannot make lines of is the file's fault, and stores nothing.
    const endless = await upload(`Date;Référence marchand;Token;Montant;Statut\r\n${'x'.repeat(70_000)}`);
    expect(endless.status).toBe(400);
    expect(endless.body.detail).toContain('cannot be read');
    const broken = await upload(
      'PK\u0003\u0004 not really a workbook',
      'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
    );
    expect(broken.status).toBe(400);
    expect(
      (
        await api(stack, 'POST', '/v1/reconciliation/reports?operator=ligdicash&date=2026-11-22', {
          key: m.apiKey,
          rawBody: csv,
          headers: { 'Content-Type': 'text/csv' },
        })
      ).status,
    ).toBe(401);
  });
});

describe('exports uploaded from the back-office, as XLSX', () => {
  it('reads the first worksheet of a workbook, numbers and dates in cells', async () => {
    const from = new Date(Date.now() - 1000).toISOString();
    const m = await createMerchant(stack.pool, 'Uploaded XLSX');
    const paid = await paidPayin(m.apiKey, 6_100);
    const to = new Date(Date.now() + 1000).toISOString();
    const token = (await api<PayinBody>(stack, 'GET', `/v1/payins/${paid}`, { key: m.apiKey })).body
      .operator_reference!;
    const workbook = new ExcelJS.Workbook();
    const sheet = workbook.addWorksheet('Transactions');
    sheet.addRow(['Date', 'Référence marchand', 'Token', 'Type', 'Montant', 'Devise', 'Statut']);
    sheet.addRow([new Date(), paid, token, 'paiement', 6_000, 'XOF', 'completed']);
    workbook.addWorksheet('Totaux').addRow(['Total', 6_000]);
    const file = Buffer.from(await workbook.xlsx.writeBuffer());
    const res = await fetch(
      `${stack.apiUrl}/v1/reconciliation/reports?operator=ligdicash&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`,
      {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${ADMIN}`,
          'Content-Type': 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
        },
        body: file,
      },
    );
    expect(res.status).toBe(202);
    const body = (await res.json()) as { run_id: string; lines: number };
    expect(body.lines).toBe(1);
    const run = await eventually(`run ${body.run_id}`, async () => {
      const r = await api<Run>(stack, 'GET', `/v1/reconciliation/runs/${body.run_id}`, { key: ADMIN });
      return r.status === 200 && r.body.status !== 'running' ? r.body : undefined;
    });
    // Its one line states 6,000 for a payin of 6,100 (other payments of the period are not ours here).
    expect(
      run.discrepancies.data.filter((d) => d.our_reference === paid).map((d) => [d.class, d.their_amount]),
    ).toEqual([['amount_mismatch', 6_000]]);
  });
});

describe('exports beyond their bounds', () => {
  it('stops reading a workbook at its line limit (a zip bomb inflates far beyond its bytes), storing nothing', async () => {
    const workbook = new ExcelJS.Workbook();
    const sheet = workbook.addWorksheet('Transactions');
    sheet.addRow(['Date', 'Référence marchand', 'Token', 'Type', 'Montant', 'Devise', 'Statut']);
    for (let i = 0; i < 5; i++)
      sheet.addRow(['2026-11-22', `pay_${i}`, 't', 'paiement', 100, 'XOF', 'completed']);
    const file = Buffer.from(await workbook.xlsx.writeBuffer());
    const period = {
      periodStart: new Date('2026-11-22T00:00:00Z'),
      periodEnd: new Date('2026-11-23T00:00:00Z'),
    };
    await expect(
      storeExport(stack.pool, {
        operator: 'ligdicash',
        body: Readable.from([file]),
        type: 'xlsx',
        contentType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
        filename: 'bomb.xlsx',
        ...period,
        maxBytes: 10_000_000,
        maxLines: 3,
      }),
    ).rejects.toMatchObject({ type: 'payload-too-large' });
    const { rows } = await stack.pool.query(
      "SELECT 1 FROM reconciliation_uploads WHERE filename = 'bomb.xlsx'",
    );
    expect(rows).toEqual([]);
  });
});

describe('reports of the other operators', () => {
  it('TMoney and PayGateGlobal reports match clean payments with no discrepancy', async () => {
    const m = await createMerchant(stack.pool, 'Togo reconciled');
    const tm = await api<PayinBody>(stack, 'POST', '/v1/payins', {
      key: m.apiKey,
      body: { amount: 4_500, currency: 'XOF', mode: 'direct', customer: { phone: '+22890123123' } },
    });
    const pg = await api<PayinBody>(stack, 'POST', '/v1/payins', {
      key: m.apiKey,
      body: { amount: 4_600, currency: 'XOF', mode: 'direct', customer: { phone: '+22897123123' } },
    });
    for (const id of [tm.body.id, pg.body.id])
      await payinReaches({ ...stack, merchant: { ...stack.merchant, apiKey: m.apiKey } }, id, ['succeeded']);
    for (const [operator, id] of [
      ['tmoney', tm.body.id],
      ['paygate', pg.body.id],
    ] as const) {
      const run = await reconcile(operator);
      expect(run.status).toBe('completed');
      expect(run.lines_ingested).toBeGreaterThanOrEqual(1);
      expect(run.discrepancies.data.filter((d) => d.our_reference === id)).toEqual([]);
    }
    await adjust('paygate', [{ type: 'amount', reference: pg.body.id, amount: 4_601 }]);
    try {
      const run = await reconcile('paygate');
      expect(
        run.discrepancies.data.filter((d) => d.our_reference === pg.body.id).map((d) => d.class),
      ).toEqual(['amount_mismatch']);
    } finally {
      await adjust('paygate', []);
    }
  });
});

describe('reports of Orange Money and MTN MoMo', () => {
  it('match clean payments and payouts (XOF and GHS) and find an amount mismatch and a payment missing on our side', async () => {
    const m = await createMerchant(stack.pool, 'Orange and MTN reconciled');
    const as = { ...stack, merchant: { ...stack.merchant, apiKey: m.apiKey } };
    const create = (body: Record<string, unknown>) =>
      api<PayinBody>(stack, 'POST', '/v1/payins', { key: m.apiKey, body: { mode: 'direct', ...body } });
    const orange = await create({ amount: 4_700, currency: 'XOF', customer: { phone: '+2250708123123' } });
    const mtnXof = await create({ amount: 4_800, currency: 'XOF', customer: { phone: '+2250508123123' } });
    const mtnGhs = await create({ amount: 2_550, currency: 'GHS', customer: { phone: '+233241231231' } });
    await fetch(`${stack.sandboxUrl}/orange/_sandbox/transactions/${orange.body.id}/pay`, { method: 'POST' });
    for (const p of [orange, mtnXof, mtnGhs]) await payinReaches(as, p.body.id, ['succeeded']);
    for (const [operator, ids] of [
      ['orange', [orange.body.id]],
      ['mtn', [mtnXof.body.id, mtnGhs.body.id]],
    ] as const) {
      const run = await reconcile(operator);
      expect(run.status).toBe('completed');
      expect(run.lines_ingested).toBeGreaterThanOrEqual(ids.length);
      expect(run.discrepancies.data.filter((d) => ids.includes(d.our_reference ?? ''))).toEqual([]);
    }
    await adjust('mtn', [
      { type: 'amount', reference: mtnGhs.body.id, amount: 2_549 },
      { type: 'extra', reference: 'pay_neverheardofthisone000', amount: 1_000 },
    ]);
    try {
      const run = await reconcile('mtn');
      const ours = run.discrepancies.data.filter((d) =>
        [mtnGhs.body.id, 'pay_neverheardofthisone000'].includes(d.our_reference ?? ''),
      );
      expect(ours.map((d) => [d.our_reference, d.class]).sort()).toEqual(
        [
          [mtnGhs.body.id, 'amount_mismatch'],
          ['pay_neverheardofthisone000', 'missing_on_our_side'],
        ].sort(),
      );
      // Cedis are read to the pesewa: the report's "25.49" is 2549, not 2550.
      expect(ours.find((d) => d.our_reference === mtnGhs.body.id)).toMatchObject({
        our_amount: 2_550,
        their_amount: 2_549,
      });
    } finally {
      await adjust('mtn', []);
    }
  });
});

describe('command line', () => {
  const cli = (...args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', path.join(ROOT, 'cli', 'passerelle.ts'), ...args],
        { env: { ...process.env, ...stack.env }, timeout: 60_000 },
        (err, stdout, stderr) => resolve({ code: err ? (err.code as number) : 0, stdout, stderr }),
      );
    });

  it('reconciles an operator for a period and prints the summary; refuses a bad period', async () => {
    const ok = await cli(
      'reconcile',
      '--operator',
      'tmoney',
      '--from',
      periodFrom,
      '--to',
      new Date(Date.now() + 60_000).toISOString(),
      '--json',
    );
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    const summary = JSON.parse(ok.stdout) as { runId: string; status: string };
    expect(summary.status).toBe('completed');
    const run = await api<Run>(stack, 'GET', `/v1/reconciliation/runs/${summary.runId}`, { key: ADMIN });
    expect(run.body).toMatchObject({ status: 'completed', operator: 'tmoney', triggered_by: 'cli' });

    const bad = await cli('reconcile', '--operator', 'tmoney', '--from', periodFrom);
    expect(bad.code).toBe(64);
    expect(bad.stderr).toContain('give both --from and --to');
    const unknown = await cli('reconcile', '--operator', 'wave', '--date', '2026-11-01');
    expect(unknown.code).toBe(64);
  });
});

describe('sweep', () => {
  it('settles a payin whose callback never came, after its workflow expired it', async () => {
    const m = await createMerchant(stack.pool, 'Swept');
    const created = await api<PayinBody>(stack, 'POST', '/v1/payins', {
      key: m.apiKey,
      body: { amount: 1_003, currency: 'XOF' },
    }); // no callbacks
    await payinReaches(
      { ...stack, merchant: { ...stack.merchant, apiKey: m.apiKey } },
      created.body.id,
      ['expired'],
      15_000,
    );
    await ligdicashControl(stack, created.body.operator_reference!, 'complete'); // paid late, and no callback
    const started = await api<{ id: string }>(stack, 'POST', '/v1/reconciliation/runs', {
      key: ADMIN,
      body: { operator: 'ligdicash', kind: 'sweep' },
    });
    const run = await eventually(`sweep ${started.body.id}`, async () => {
      const r = await api<Run>(stack, 'GET', `/v1/reconciliation/runs/${started.body.id}`, { key: ADMIN });
      return r.status === 200 && r.body.status === 'completed' ? r.body : undefined;
    });
    expect(run.discrepancies.data.find((d) => d.payment_id === created.body.id)?.action).toBe('late_credit');
    const now = await api<PayinBody>(stack, 'GET', `/v1/payins/${created.body.id}`, { key: m.apiKey });
    expect(now.body.status).toBe('succeeded');
    expect(await balanceOf(stack, m.apiKey)).toMatchObject({ available: 1_003 });
  });

  it("settles a hosted payin's attempts paid after the end: the expired payin succeeds; a second payment goes back", async () => {
    const m = await createMerchant(stack.pool, 'Hosted swept');
    const as = { ...stack, merchant: { ...stack.merchant, apiKey: m.apiKey } };
    type Hosted = PayinBody & { attempts: { id: string; status: string }[] };
    const hosted = async () => {
      const res = await api<Hosted>(stack, 'POST', '/v1/payins', {
        key: m.apiKey,
        body: { amount: 2_200, currency: 'XOF', mode: 'hosted', expires_in: 10 },
      });
      expect(res.status).toBe(201);
      return res.body;
    };
    /** The payer chooses Moov Burkina and a number on the hosted page. */
    const choose = async (h: Hosted, phone: string) => {
      const url = h.next_action!.url!;
      const nonce = hiddenFields(await (await fetch(`${url}?another=1`)).text()).nonce!;
      expect((await postForm(url, { action: 'pay', nonce, network: 'moov_bf', phone })).status).toBe(303);
    };
    const sweep = async () => {
      const started = await api<{ id: string }>(stack, 'POST', '/v1/reconciliation/runs', {
        key: ADMIN,
        body: { operator: 'ligdicash', kind: 'sweep' },
      });
      return eventually(`sweep ${started.body.id}`, async () => {
        const r = await api<Run>(stack, 'GET', `/v1/reconciliation/runs/${started.body.id}`, { key: ADMIN });
        return r.status === 200 && r.body.status === 'completed' ? r.body : undefined;
      });
    };
    const tokenOf = async (attemptId: string) =>
      (await payinReaches(as, attemptId, ['expired'], 15_000)).operator_reference!;

    // 1. The payer never approved in time (sandbox: 000009, nothing happens): expired.
    const first = await hosted();
    await choose(first, '70000009');
    const expired = (await payinReaches(as, first.id, ['expired'], 30_000)) as Hosted;
    // 2. Another: one attempt left waiting (000009), another that pays.
    const second = await hosted();
    await choose(second, '70000009');
    await choose(second, '70112299');
    const paid = (await payinReaches(as, second.id, ['succeeded'], 30_000)) as Hosted;
    const waiting = paid.attempts.find((a) => a.id !== paid.operator_reference)!;

    // Both waiting attempts turn out paid (the payer approved late; no callback).
    await ligdicashControl(stack, await tokenOf(expired.attempts[0]!.id), 'complete');
    await ligdicashControl(stack, await tokenOf(waiting.id), 'complete');
    const run = await sweep();
    const action = (id: string) => run.discrepancies.data.find((d) => d.payment_id === id)?.action;
    expect(action(expired.attempts[0]!.id)).toBe('late_credit');
    const now = await api<Hosted>(stack, 'GET', `/v1/payins/${first.id}`, { key: m.apiKey });
    expect(now.body.status).toBe('succeeded');
    expect(now.body.operator_reference).toBe(expired.attempts[0]!.id);
    // The merchant's policy is "credit", but this payer paid twice: the late one goes back.
    expect(action(waiting.id)).toBe('late_credit_and_refund');
    await eventually(
      'the second payment to be refunded',
      async () => {
        const r = await api<PayinBody>(stack, 'GET', `/v1/payins/${waiting.id}`, { key: m.apiKey });
        return r.body.status === 'refunded' ? true : undefined;
      },
      45_000,
    );
    expect((await api<Hosted>(stack, 'GET', `/v1/payins/${second.id}`, { key: m.apiKey })).body.status).toBe(
      'succeeded',
    );
    await expectBalancedLedger(stack.pool);
  });

  it('refuses merchants on the operations routes', async () => {
    const res = await api<{ type: string }>(stack, 'GET', '/v1/reconciliation/runs', {
      key: stack.merchant.apiKey,
    });
    expect(res.status).toBe(401);
    const bad = await api<{ errors: { field: string }[] }>(stack, 'POST', '/v1/reconciliation/runs', {
      key: ADMIN,
      body: { operator: 'nobody' },
    });
    expect(bad.status).toBe(400);
  });
});

describe('schedules', () => {
  it('are created by the worker, there after a restart, and never duplicated', async () => {
    const config = loadConfig({ ...stack.env, SCHEDULES_ENABLED: 'true', SWEEP_INTERVAL_SECONDS: '600' });
    const logger = createLogger({ level: 'silent' });
    const list = async () => {
      const ids: string[] = [];
      for await (const s of stack.temporal.schedule.list()) ids.push(s.scheduleId);
      return ids.filter((id) => scheduleIds().includes(id)).sort();
    };
    try {
      for (let start = 0; start < 2; start++) {
        const worker = await createPaymentsWorker(config, logger);
        await worker.shutdown();
        const ids = await eventually('schedules listed', async () => {
          const found = await list();
          return found.length === scheduleIds().length ? found : undefined;
        });
        expect(ids).toEqual([...scheduleIds()].sort());
      }
      const sweep = await stack.temporal.schedule.getHandle('sweep-ligdicash').describe();
      expect(sweep.spec.intervals?.[0]?.every).toBe(600_000);
      const settlement = await stack.temporal.schedule.getHandle('settlement-tmoney').describe();
      expect(settlement.action.type).toBe('startWorkflow');
      // Under SKIP, a stuck run would block every later one: scheduled runs are bounded.
      if (sweep.action.type !== 'startWorkflow' || settlement.action.type !== 'startWorkflow')
        throw new Error('schedules start workflows');
      expect(sweep.action.workflowRunTimeout).toBe(1_800_000);
      expect(settlement.action.workflowRunTimeout).toBe(6 * 3_600_000);
    } finally {
      for (const id of scheduleIds())
        await stack.temporal.schedule
          .getHandle(id)
          .delete()
          .catch(() => undefined);
    }
  });
});
