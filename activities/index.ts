import type { Pool } from '../db/pool.js';
import type { Config } from '../lib/config.js';
import type { Logger } from '../lib/logger.js';
import { createOperators } from '../operators/registry.js';
import {
  OPERATORS,
  type CallbackParseResult,
  type OperatorName,
  type PayinRequest,
} from '../operators/types.js';
import type { PaymentFailure } from '../lib/payments.js';
import { createPayinActivities } from './payin-activities.js';

/** Every activity the payments worker registers. */
export function createActivities(deps: { config: Config; pool: Pool; logger: Logger }) {
  return createPayinActivities({
    pool: deps.pool,
    operators: createOperators(deps.config),
    publicBaseUrl: deps.config.PUBLIC_BASE_URL,
    logger: deps.logger,
  });
}

/**
 * What the API may ask of the operator adapters without moving money: early validation of a
 * payin and reading a callback. Everything that talks to an operator runs as an activity.
 */
export interface OperatorRules {
  isOperator(name: string): name is OperatorName;
  validatePayin(
    operator: OperatorName,
    req: Omit<PayinRequest, 'paymentId' | 'callbackUrl'>,
  ): PaymentFailure | undefined;
  parseCallback(
    operator: OperatorName,
    input: { contentType: string | undefined; rawBody: string },
  ): CallbackParseResult;
}

export function createOperatorRules(config: Config): OperatorRules {
  const operators = createOperators(config);
  return {
    isOperator: (name): name is OperatorName => (OPERATORS as readonly string[]).includes(name),
    validatePayin: (operator, req) => operators[operator].validatePayin(req),
    parseCallback: (operator, input) => operators[operator].parseCallback(input),
  };
}

export { callbackUrlFor } from './payin-activities.js';
export type { CallbackParseResult, OperatorName } from '../operators/types.js';
