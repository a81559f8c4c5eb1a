import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { Pool } from '../db/pool.js';
import { runWithCancellation } from '../lib/cancellation.js';
import { ConfigError, operatorTiming, type Config } from '../lib/config.js';
import { SEND_ACTIVITY_TIMEOUT_MS, SEND_CALLS_PER_ACTIVITY } from '../lib/timeouts.js';
import type { Logger } from '../lib/logger.js';
import { createOperators } from '../operators/registry.js';
import {
  OPERATORS,
  type CallbackInput,
  type CallbackPayment,
  type CallbackParseResult,
  type OperatorAdapter,
  type OperatorBalance,
  type OperatorName,
  type ParsedCallback,
  type PayinDraft,
  type PaymentRefs,
  type PayoutDraft,
} from '../operators/types.js';
import type { PaymentFailure, PaymentKind } from '../lib/payments.js';
import { createDisbursementActivities } from './disbursement-activities.js';
import { createPayinActivities } from './payin-activities.js';
import { createReconciliationActivities } from './reconciliation-activities.js';
import { createTransferActivities } from './transfer-activities.js';

/** Every activity the payments worker registers. */
export function createActivities(deps: {
  config: Config;
  pool: Pool;
  logger: Logger;
  temporal: Client;
  /** One set of adapters per process (token caches), shared by the workers of its task queues. */
  operators?: Record<OperatorName, OperatorAdapter>;
}) {
  const operators = deps.operators ?? createOperators(deps.config);
  checkSendTimeouts(operators);
  const shared = {
    pool: deps.pool,
    operators,
    publicBaseUrl: deps.config.PUBLIC_BASE_URL,
    logger: deps.logger,
    circuit: {
      threshold: deps.config.CIRCUIT_FAILURE_THRESHOLD,
      cooldownSeconds: deps.config.CIRCUIT_COOLDOWN_SECONDS,
    },
  };
  return withHeartbeats({
    ...createPayinActivities(shared),
    ...createDisbursementActivities(shared),
    ...createTransferActivities({
      ...shared,
      timingFor: (operator) => operatorTiming(deps.config, operator),
    }),
    ...createReconciliationActivities({
      ...shared,
      temporal: deps.temporal,
      taskQueue: deps.config.TEMPORAL_TASK_QUEUE,
      timingFor: (operator) => operatorTiming(deps.config, operator),
      sweep: {
        lookbackDays: deps.config.SWEEP_LOOKBACK_DAYS,
        batch: deps.config.SWEEP_BATCH,
        recheckMinutes: deps.config.SWEEP_RECHECK_MINUTES,
      },
    }),
  });
}

/**
 * Refuses operator timeouts that a send activity could not outlive: its attempt would time out
 * while its calls are still in flight, and the retry would wait on the lease for nothing.
 */
export function checkSendTimeouts(operators: Record<OperatorName, OperatorAdapter>): void {
  for (const op of Object.values(operators)) {
    const worst = op.worstCaseCallMs * SEND_CALLS_PER_ACTIVITY;
    if (worst + 15_000 > SEND_ACTIVITY_TIMEOUT_MS) {
      throw new ConfigError([
        `${op.name}: HTTP timeouts allow a send to take ${Math.round(worst / 1000)} s, more than the send activity's ${SEND_ACTIVITY_TIMEOUT_MS / 1000} s; lower its *_HTTP_TIMEOUT_MS`,
      ]);
    }
  }
}

/** How often a running activity tells Temporal it is alive. */
const HEARTBEAT_EVERY_MS = 1_000;

/**
 * Every activity heartbeats while it runs, so that with the workflows' short heartbeat timeout a
 * worker that dies mid-activity is noticed in seconds instead of at the activity's full timeout;
 * and its operator calls see its cancellation (a timed-out attempt's call does not go on).
 */
function withHeartbeats<T extends Record<string, (...args: never[]) => Promise<unknown>>>(activities: T): T {
  return Object.fromEntries(
    Object.entries(activities).map(([name, fn]) => [
      name,
      async (...args: never[]) => {
        const context = Context.current();
        const timer = setInterval(() => context.heartbeat(), HEARTBEAT_EVERY_MS);
        try {
          // Operator calls made by this activity are aborted when it is cancelled or timed out.
          return await runWithCancellation(context.cancellationSignal, () => fn(...args));
        } finally {
          clearInterval(timer);
        }
      },
    ]),
  ) as T;
}

/**
 * What the API may ask of the operator adapters without moving money: early validation of a
 * payin or payout and reading a callback. Everything that talks to an operator runs as an activity.
 */
export interface OperatorRules {
  isOperator(name: string): name is OperatorName;
  validatePayin(operator: OperatorName, req: PayinDraft): PaymentFailure | undefined;
  validatePayout(operator: OperatorName, req: PayoutDraft): PaymentFailure | undefined;
  parseCallback(operator: OperatorName, input: CallbackInput, payment?: CallbackPayment): CallbackParseResult;
  callbackReferenceMatches(
    operator: OperatorName,
    payment: PaymentRefs & { kind: PaymentKind },
    cb: ParsedCallback,
  ): boolean;
  /** The operator's own balances, for operators that report them (PayGateGlobal). */
  balances(operator: OperatorName): Promise<OperatorBalance[] | undefined>;
}

export function createOperatorRules(config: Config): OperatorRules {
  const operators = createOperators(config);
  return {
    isOperator: (name): name is OperatorName => (OPERATORS as readonly string[]).includes(name),
    validatePayin: (operator, req) => operators[operator].validatePayin(req),
    validatePayout: (operator, req) => operators[operator].validatePayout(req),
    parseCallback: (operator, input, payment) => operators[operator].parseCallback(input, payment),
    callbackReferenceMatches: (operator, payment, cb) =>
      operators[operator].callbackReferenceMatches(payment, cb),
    balances: async (operator) => operators[operator].balances?.(),
  };
}

export { callbackUrlFor, checkoutUrlFor } from './payin-activities.js';
export { createOperators } from '../operators/registry.js';
export { OPERATORS } from '../operators/types.js';
export type { CallbackInput, CallbackParseResult, OperatorName } from '../operators/types.js';
