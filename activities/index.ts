import { createCardActivities } from './card-activities.js';
import { createProcessorCardActivities } from './processor-card-activities.js';
import type { GimConnection } from '../operators/gim/connection.js';
import { Context } from '@temporalio/activity';
import type { Pool } from '../db/pool.js';
import { runWithCancellation } from '../lib/cancellation.js';
import { ConfigError, cardVaultRing, type Config } from '../lib/config.js';
import { isOperatorName, modesAtLiveEndpoint, operatorTiming } from '../lib/operators.js';
import { SEND_ACTIVITY_TIMEOUT_MS, SEND_CALLS_PER_ACTIVITY } from '../lib/timeouts.js';
import type { Logger } from '../lib/logger.js';
import { createCardProcessor, createOperators } from '../operators/registry.js';
import type { OperatorAdapters } from '../operators/registry.js';
import { createCallbackActivities } from './callback-activities.js';
import { createCheckoutActivities } from './checkout-activities.js';
import { createDisbursementActivities } from './disbursement-activities.js';
import { createPayinActivities } from './payin-activities.js';
import { createOperatorPacer, type OperatorPacer } from './operator-pacing.js';
import { createReconciliationActivities } from './reconciliation/index.js';
import { createTransferActivities } from './transfer-activities.js';

/** Every activity the payments worker registers. */
export function createActivities(deps: {
  config: Config;
  pool: Pool;
  logger: Logger;
  /** One set of adapters per process (token caches), shared by the workers of its task queues. */
  operators?: OperatorAdapters;
  /** The process's GIM-UEMOA switch connection, when cards are configured (GIM_HOST). */
  gim?: GimConnection;
  /** The operators' rate limits across all workers (default: paced on this pool). */
  pacer?: OperatorPacer;
}) {
  const operators = deps.operators ?? createOperators(deps.config);
  checkSendTimeouts(operators);
  const shared = {
    pool: deps.pool,
    operators,
    publicBaseUrl: deps.config.PUBLIC_BASE_URL,
    logger: deps.logger,
    vault: cardVaultRing(deps.config),
    circuit: {
      threshold: deps.config.CIRCUIT_FAILURE_THRESHOLD,
      cooldownSeconds: deps.config.CIRCUIT_COOLDOWN_SECONDS,
    },
    sendLeaseMarginMs: deps.config.SEND_LEASE_MARGIN_MS,
    pacer: deps.pacer ?? createConfiguredPacer(deps.config, deps.pool),
  };
  return withHeartbeats({
    ...createPayinActivities(shared),
    ...createCallbackActivities(shared),
    ...createDisbursementActivities(shared),
    ...createTransferActivities({
      ...shared,
      timingFor: (operator) => operatorTiming(deps.config, operator),
    }),
    ...createCheckoutActivities({
      ...shared,
      timingFor: (operator) => operatorTiming(deps.config, operator),
    }),
    ...createReconciliationActivities({
      ...shared,
      timingFor: (operator) => operatorTiming(deps.config, operator),
      settlementModes: (operator) => modesAtLiveEndpoint(deps.config, operator),
      sweep: {
        lookbackDays: deps.config.SWEEP_LOOKBACK_DAYS,
        batch: deps.config.SWEEP_BATCH,
        recheckMinutes: deps.config.SWEEP_RECHECK_MINUTES,
      },
    }),
    ...createProcessorCardActivities({
      pool: deps.pool,
      logger: deps.logger,
      processor: createCardProcessor(deps.config, deps.logger),
      publicBaseUrl: deps.config.PUBLIC_BASE_URL,
      merchant: { id: deps.config.PROCESSOR_MERCHANT_ID, mcc: deps.config.PROCESSOR_MCC },
      circuit: shared.circuit,
    }),
    ...createCardActivities({
      pool: deps.pool,
      logger: deps.logger,
      ring: cardVaultRing(deps.config),
      gim: deps.gim,
      acquirer: {
        id: deps.config.GIM_ACQUIRER_ID,
        terminalId: deps.config.GIM_TERMINAL_ID,
        merchantId: deps.config.GIM_MERCHANT_ID,
      },
      circuit: shared.circuit,
    }),
  });
}

/** Paces each operator's calls at its configured rate limit (the operator table's `rateLimit`). */
export function createConfiguredPacer(config: Config, pool: Pool): OperatorPacer {
  return createOperatorPacer(pool, (operator) => {
    if (!isOperatorName(operator)) throw new Error(`unknown operator ${operator}`);
    return config.operators[operator].rateLimit;
  });
}

/**
 * Refuses operator timeouts that a send activity could not outlive: its attempt would time out
 * while its calls are still in flight, and the retry would wait on the lease for nothing.
 */
export function checkSendTimeouts(operators: OperatorAdapters): void {
  for (const op of [...Object.values(operators.live), ...Object.values(operators.test)]) {
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
 * and its operator calls see its cancellation (a timed-out attempt's call does not go on). A
 * local activity does not: it has no heartbeat (the server would answer "unknown activity" to
 * each, logged as a warning); the workflow task it runs in is what the server watches.
 */
export function withHeartbeats<T extends Record<string, (...args: never[]) => Promise<unknown>>>(
  activities: T,
): T {
  return Object.fromEntries(
    Object.entries(activities).map(([name, fn]) => [
      name,
      async (...args: never[]) => {
        const context = Context.current();
        const timer = context.info.isLocal
          ? undefined
          : setInterval(() => context.heartbeat(), HEARTBEAT_EVERY_MS);
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
