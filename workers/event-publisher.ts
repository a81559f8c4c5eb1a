import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { warnExpiringApiKeys } from '../db/api-keys.js';
import { listenForEvents, publishEvents } from '../db/events.js';
import { apiKeyView } from '../db/resource-views.js';
import type { Pool } from '../db/pool.js';
import { markDeliveriesDispatched, undispatchedDeliveries } from '../db/webhooks.js';
import type { Config } from '../lib/config.js';
import type { Logger } from '../lib/logger.js';
import type { WebhookDeliveriesInput } from '../workflows/webhooks.js';

export interface EventPublisher {
  /** Runs one pass now (tests wait on its result instead of on time). */
  publishNow(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Moves the outbox along: events committed since the last pass get their positions and their
 * deliveries (db/events.ts publishEvents), and each batch of deliveries gets its workflow. Woken
 * by PostgreSQL's NOTIFY at the commit of any event, and every EVENT_PUBLISH_INTERVAL_MS as a
 * safety net (a missed notification, Temporal unreachable at the last pass). Any number of
 * workers may run it: positions are given under a lock, and a delivery workflow's id is fixed
 * before it is started, so a second start of it is refused by Temporal.
 */
export function startEventPublisher(deps: {
  config: Config;
  pool: Pool;
  temporal: Client;
  logger: Logger;
}): EventPublisher {
  const { config, pool, temporal } = deps;
  const logger = deps.logger.child({ component: 'event-publisher' });
  let running: Promise<void> | undefined;
  let again = false;
  let stopped = false;

  const dispatch = async () => {
    for (;;) {
      const batches = await undispatchedDeliveries(pool, 50);
      for (const b of batches) {
        const args: [WebhookDeliveriesInput] = [{ deliveryIds: b.deliveryIds }];
        try {
          await temporal.workflow.start('deliverWebhooks', {
            taskQueue: config.TEMPORAL_TASK_QUEUE,
            workflowId: b.workflowId,
            args,
            // A finished batch is never started again under its id (that would deliver twice).
            workflowIdReusePolicy: 'REJECT_DUPLICATE',
          });
        } catch (err) {
          if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        }
        await markDeliveriesDispatched(pool, b.workflowId);
      }
      if (batches.length < 50) return;
    }
  };

  // Keys close to their expiry are looked for once a minute (their warning is an event).
  let keysCheckedAt = 0;
  const warnExpiringKeys = async () => {
    if (Date.now() - keysCheckedAt < 60_000) return;
    keysCheckedAt = Date.now();
    const production = config.NODE_ENV === 'production';
    for (const key of await warnExpiringApiKeys(pool, (k) => apiKeyView(k, production))) {
      logger.warn(
        { merchantId: key.merchantId, apiKeyId: key.id, expiresAt: key.expiresAt },
        'API key expires within 7 days: rotate it',
      );
    }
  };

  const pass = async () => {
    do {
      again = false;
      await warnExpiringKeys();
      for (;;) {
        const published = await publishEvents(pool);
        if (published.events) logger.debug(published, 'events published');
        if (published.events < 500) break;
      }
      await dispatch();
    } while (again && !stopped);
  };

  const publishNow = (): Promise<void> => {
    if (running) {
      again = true;
      return running;
    }
    running = pass()
      .catch((err: unknown) => logger.warn({ err }, 'event publication failed; retried on the next pass'))
      .finally(() => {
        running = undefined;
      });
    return running;
  };

  // A NOTIFY starts a pass after a short gathering time; those that come meanwhile join it.
  let gathering: NodeJS.Timeout | undefined;
  const publishSoon = () => {
    gathering ??= setTimeout(() => {
      gathering = undefined;
      void publishNow();
    }, config.EVENT_PUBLISH_GATHER_MS);
  };
  const listener = listenForEvents(config.DATABASE_URL, 'passerelle_events', publishSoon, (err) =>
    logger.warn({ err }, 'event notifications interrupted; listening again'),
  );
  const timer = setInterval(() => void publishNow(), config.EVENT_PUBLISH_INTERVAL_MS);
  return {
    publishNow,
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      clearTimeout(gathering);
      await listener.close();
      await running;
    },
  };
}
