import { randomUUID } from 'node:crypto';
import { insertCardPayin } from '../../db/card-authorisations.js';
import { insertProcessorCardPayinRows } from '../../db/card-processor.js';
import { inTransaction } from '../../db/pool.js';
import { vaultCard } from '../../db/card-vault.js';
import { cardVaultRing } from '../../lib/config.js';
import { newId } from '../../lib/ids.js';
import type { TestStack } from './stack.js';

/**
 * A GIM-UEMOA card payin as the hosted checkout makes one (docs/cards.md): the card vaulted, the
 * payment and its identity at the switch recorded; its `cardPayin` workflow started.
 */
export async function startCardPayin(
  stack: TestStack,
  amount: number,
  pan = '4970100000000014',
): Promise<{ id: string; result: Promise<string> }> {
  const card = await vaultCard(stack.pool, cardVaultRing(stack.config), { pan, expiry: '2812' });
  const id = newId('pay');
  await insertCardPayin(stack.pool, {
    id,
    merchantId: stack.merchant.id,
    livemode: false,
    amount,
    currency: 'XOF',
    card,
    deadlineAt: new Date(Date.now() + 600_000),
    acquirer: stack.config.GIM_ACQUIRER_ID,
  });
  const handle = await stack.temporal.workflow.start('cardPayin', {
    taskQueue: stack.config.TEMPORAL_TASK_QUEUE,
    workflowId: `payin-${id}`,
    args: [{ paymentId: id }],
  });
  return { id, result: handle.result() as Promise<string> };
}

/**
 * A Visa/Mastercard card payin as the hosted checkout makes one (docs/cards.md): tokenised at the
 * processor with its security code, vaulted, its payment and 3-D Secure identity recorded; its
 * `cardProcessorPayin` workflow started. A frictionless card by default (3-D Secure `Y`).
 */
export async function startProcessorCardPayin(
  stack: TestStack,
  amount: number,
  pan = '4000000000000101',
): Promise<{ id: string; result: Promise<string> }> {
  const tokenised = await fetch(`${stack.sandboxUrl}/processor/v1/tokens`, {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${stack.config.PROCESSOR_API_KEY}`,
      'Content-Type': 'application/json',
    },
    body: JSON.stringify({
      card: { number: pan, expiryMonth: '12', expiryYear: '2030', securityCode: '737' },
    }),
  });
  const { id: processorToken } = (await tokenised.json()) as { id: string };
  const card = await vaultCard(stack.pool, cardVaultRing(stack.config), { pan, expiry: '3012' });
  const id = newId('pay');
  await inTransaction(stack.pool, (client) =>
    insertProcessorCardPayinRows(client, {
      id,
      merchantId: stack.merchant.id,
      livemode: false,
      amount,
      currency: 'XOF',
      card,
      processorToken,
      threeDSServerTransID: randomUUID(),
      browser: { acceptHeader: 'text/html', userAgent: 'test', language: 'fr' },
      deadlineAt: new Date(Date.now() + 600_000),
      returnUrl: `${stack.apiUrl}/pay/test-${id}`,
    }),
  );
  const handle = await stack.temporal.workflow.start('cardProcessorPayin', {
    taskQueue: stack.config.TEMPORAL_TASK_QUEUE,
    workflowId: `payin-${id}`,
    args: [{ paymentId: id, challengeSeconds: 600 }],
  });
  return { id, result: handle.result() as Promise<string> };
}
