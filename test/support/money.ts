import { expect } from 'vitest';
import { checkLedger } from '../../db/ledger.js';
import { insertPayment } from '../../db/payments.js';
import type { Pool } from '../../db/pool.js';
import { newId } from '../../lib/ids.js';
import { api, ligdicashControl, payinReaches, type PayinBody, type TestStack } from './stack.js';

/** Funds a merchant the way production does: payins paid through the sandbox. */
export async function fundMerchant(stack: TestStack, key: string, amounts: number[]): Promise<string[]> {
  const ids: string[] = [];
  for (const amount of amounts) {
    const created = await api<PayinBody>(stack, 'POST', '/v1/payins', {
      key,
      body: { amount, currency: 'XOF', description: 'Funding' },
    });
    // 202 when the worker is still starting: wait for the invoice before paying it.
    expect([201, 202]).toContain(created.status);
    const open = await payinReaches(
      { ...stack, merchant: { ...stack.merchant, apiKey: key } },
      created.body.id,
      ['action_required'],
    );
    await ligdicashControl(stack, open.operator_reference!, 'pay', '22676000001');
    ids.push(created.body.id);
  }
  for (const id of ids) {
    const done = await payinReachesWithKey(stack, key, id);
    expect(done.status).toBe('succeeded');
  }
  return ids;
}

async function payinReachesWithKey(stack: TestStack, key: string, id: string) {
  return payinReaches({ ...stack, merchant: { ...stack.merchant, apiKey: key } }, id, [
    'succeeded',
    'failed',
    'expired',
  ]);
}

export interface BalanceBody {
  balances: { currency: string; available: number; on_hold: number; pending: number }[];
}

export async function balanceOf(
  stack: TestStack,
  key: string,
): Promise<{ available: number; on_hold: number; pending: number }> {
  const res = await api<BalanceBody>(stack, 'GET', '/v1/balance', { key });
  expect(res.status).toBe(200);
  const xof = res.body.balances.find((b) => b.currency === 'XOF');
  return { available: xof?.available ?? 0, on_hold: xof?.on_hold ?? 0, pending: xof?.pending ?? 0 };
}

export async function expectBalancedLedger(pool: Pool): Promise<void> {
  expect(await checkLedger(pool)).toEqual({
    unbalancedEntries: 0,
    entriesWithoutLines: 0,
    cachedBalanceMismatches: 0,
    negativeMerchantBalances: 0,
  });
}

/** A distinct Orange Burkina number per call: LigdiCash refuses a payout to a number with one pending. */
let serial = 0;
export function recipientNumber(): string {
  serial++;
  return `+22676${String((process.pid * 1000 + serial) % 1_000_000).padStart(6, '0')}`;
}

/**
 * A redirect payin (LigdiCash, 1,000 XOF, test mode unless told) recorded straight in the
 * database (`created`, with its event), with no workflow: for tests about what the database or a
 * callback does with a payment's rows.
 */
export async function insertBarePayin(
  pool: Pool,
  merchantId: string,
  o: { operator?: string; amount?: number; livemode?: boolean } = {},
): Promise<string> {
  const id = newId('pay');
  await insertPayment(pool, {
    id,
    merchantId,
    livemode: o.livemode ?? false,
    kind: 'payin',
    amount: o.amount ?? 1000,
    currency: 'XOF',
    operator: o.operator ?? 'ligdicash',
    mode: 'redirect',
    customer: {},
    metadata: {},
    deadlineAt: new Date(Date.now() + 60_000),
    workflowId: `payin-${id}`,
  });
  return id;
}
