import type { OperatorName } from '../lib/operators.js';
import type { OperatorRules } from '../operators/registry.js';
import { operatorsDown } from '../db/operator-health.js';
import type { Pool } from '../db/pool.js';
import { merchantRoutes } from '../db/routes.js';
import type { Network } from '../lib/networks.js';
import type { PaymentFailure } from '../lib/payments.js';
import { chooseRoutes, type RoutedKind } from '../lib/routing.js';
import type { PayinDraft, PayoutDraft } from '../operators/types.js';
import { Problem } from './problems.js';

/**
 * The operators a payment may go through, in order: the routing table (lib/routing.ts) narrowed by
 * the merchant's routes and its explicit choice, then by what each operator accepts (currency,
 * amount range, mode); operators whose circuit is open go last. An impossible combination is a 422.
 */
async function routesFor(
  pool: Pool,
  q: {
    merchantId: string;
    livemode: boolean;
    kind: RoutedKind;
    network: Network | undefined;
    operator?: OperatorName;
  },
  accepts: (operator: OperatorName) => PaymentFailure | undefined,
): Promise<OperatorName[]> {
  const configured = q.network ? await merchantRoutes(pool, q.merchantId, q.network, q.kind) : undefined;
  const choice = chooseRoutes({
    network: q.network,
    kind: q.kind,
    operator: q.operator,
    merchantRoutes: configured,
  });
  if (!choice.ok) throw new Problem('payment-not-possible', choice.message, { code: choice.code });
  const usable: OperatorName[] = [];
  let firstRefusal: PaymentFailure | undefined;
  for (const operator of choice.routes) {
    const refusal = accepts(operator);
    if (refusal) firstRefusal ??= refusal;
    else usable.push(operator);
  }
  if (usable.length === 0) {
    throw new Problem('payment-not-possible', firstRefusal?.message ?? 'No route can take this payment', {
      code: firstRefusal?.code ?? 'no_route',
    });
  }
  const down = await operatorsDown(pool, usable, q.livemode);
  return [...usable.filter((o) => !down.has(o)), ...usable.filter((o) => down.has(o))];
}

export function payinRoutesFor(
  pool: Pool,
  operators: OperatorRules,
  q: { merchantId: string; livemode: boolean; operator?: OperatorName; draft: PayinDraft },
): Promise<OperatorName[]> {
  return routesFor(
    pool,
    {
      merchantId: q.merchantId,
      livemode: q.livemode,
      kind: 'payin',
      network: q.draft.network,
      operator: q.operator,
    },
    (op) => operators.validatePayin(op, q.draft),
  );
}

/** A payout goes through one route (never failed over: its outcome must stay with one operator). */
export async function payoutRouteFor(
  pool: Pool,
  operators: OperatorRules,
  q: { merchantId: string; livemode: boolean; operator?: OperatorName; draft: PayoutDraft },
): Promise<OperatorName> {
  const routes = await routesFor(
    pool,
    {
      merchantId: q.merchantId,
      livemode: q.livemode,
      kind: 'payout',
      network: q.draft.network,
      operator: q.operator,
    },
    (op) => operators.validatePayout(op, q.draft),
  );
  return routes[0]!;
}
