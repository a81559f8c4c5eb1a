import { insertCardPayin } from '../../db/card-authorisations.js';
import { vaultCard } from '../../db/card-vault.js';
import { cardVaultRing } from '../../lib/config.js';
import { newId } from '../../lib/ids.js';
import type { TestStack } from './stack.js';

/**
 * A card payin as the hosted checkout will make one (docs/cards.md): the card vaulted, the
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
