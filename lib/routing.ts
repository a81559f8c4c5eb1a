import type { Network } from './networks.js';
import { OPERATORS, OPERATOR_TABLE, type OperatorName } from './operators.js';

/**
 * Which operators can carry a payment to a network: the default routing table, derived from the
 * networks each operator's entry in the operator table carries, operators in the table's order. A
 * merchant may narrow and reorder it (merchant_routes); an explicit operator must be in it.
 * Sources: the networks each operator serves in ../shared/reference/ (LigdiCash guide §1.5,
 * TMoney for Togocel, PayGateGlobal for Flooz and TMoney). Documented in docs/routing.md.
 */
export type RoutedOperator = OperatorName;
export type RoutedKind = 'payin' | 'payout';

export const DEFAULT_ROUTES: Partial<Record<Network, Record<RoutedKind, readonly RoutedOperator[]>>> =
  defaultRoutes();

function defaultRoutes(): Partial<Record<Network, Record<RoutedKind, RoutedOperator[]>>> {
  const routes: Partial<Record<Network, Record<RoutedKind, RoutedOperator[]>>> = {};
  for (const operator of OPERATORS) {
    const { networks } = OPERATOR_TABLE[operator];
    for (const kind of ['payin', 'payout'] as const) {
      for (const network of networks[kind]) {
        const entry = (routes[network] ??= { payin: [], payout: [] });
        entry[kind].push(operator);
      }
    }
  }
  return routes;
}

/** With no number and no network (a redirect payin where the payer picks on the page): LigdiCash's page offers every method. */
export const DEFAULT_OPERATOR_WITHOUT_NETWORK: RoutedOperator = 'ligdicash';

export type RouteChoice =
  | { ok: true; routes: RoutedOperator[] }
  | { ok: false; code: 'no_route' | 'operator_not_allowed' | 'network_not_served'; message: string };

/**
 * The ordered routes for a payment. `merchantRoutes` (when configured) narrows and orders the
 * default table; `operator` (when the merchant names one) must be among the allowed routes.
 */
export function chooseRoutes(q: {
  network: Network | undefined;
  kind: RoutedKind;
  operator?: RoutedOperator;
  merchantRoutes?: readonly string[];
}): RouteChoice {
  if (!q.network) {
    const only = q.operator ?? DEFAULT_OPERATOR_WITHOUT_NETWORK;
    return { ok: true, routes: [only] };
  }
  const served = DEFAULT_ROUTES[q.network]?.[q.kind] ?? [];
  if (served.length === 0) {
    return {
      ok: false,
      code: 'network_not_served',
      message: `No operator carries ${q.kind}s for ${q.network}`,
    };
  }
  const allowed = q.merchantRoutes
    ? q.merchantRoutes.filter((op): op is RoutedOperator => (served as readonly string[]).includes(op))
    : [...served];
  if (q.operator) {
    if (!(served as readonly string[]).includes(q.operator)) {
      return {
        ok: false,
        code: 'network_not_served',
        message: `${q.operator} does not carry ${q.kind}s for ${q.network}`,
      };
    }
    if (!allowed.includes(q.operator)) {
      return {
        ok: false,
        code: 'operator_not_allowed',
        message: `${q.operator} is not among your routes for ${q.network}`,
      };
    }
    return { ok: true, routes: [q.operator] };
  }
  if (allowed.length === 0)
    return {
      ok: false,
      code: 'no_route',
      message: `None of your routes carries ${q.kind}s for ${q.network}`,
    };
  return { ok: true, routes: allowed };
}
