import { nextStan } from '../db/card-authorisations.js';
import { GimConnection } from '../operators/gim/connection.js';
import { SoftwareHsm } from '../operators/gim/hsm.js';
import { existsSync } from 'node:fs';
import { NativeConnection, Runtime, Worker, makeTelemetryFilterString } from '@temporalio/worker';
import { metricsTelemetry, recordOperatorCallMetrics, recordProcessMemoryMetrics } from './telemetry.js';
import { createActivities, createConfiguredPacer, withHeartbeats } from '../activities/index.js';
import { withOperatorPacing } from '../activities/operator-pacing.js';
import { createOperators } from '../operators/registry.js';
import { createPool, type Pool } from '../db/pool.js';
import type { Config } from '../lib/config.js';
import type { Logger } from '../lib/logger.js';
import { temporalDataConverter } from '../lib/payload-codec.js';
import { OPERATORS } from '../lib/operators.js';
import {
  operatorPollingQueue,
  operatorQueue,
  pollingQueue,
  reconciliationQueue,
  webhooksQueue,
} from '../lib/task-queues.js';
import { createWebhookActivities } from '../activities/webhook-activities.js';
import { startEventPublisher, type EventPublisher } from './event-publisher.js';
import { WORKFLOWS_PATH } from './bundle.js';
import { ensureSearchAttributes } from './search-attributes.js';
import { ensureSchedules } from './schedules.js';
import { Client, Connection } from '@temporalio/client';

export interface PaymentsWorker {
  worker: Worker;
  connection: NativeConnection;
  pool: Pool;
  /** The outbox publisher of this process (undefined when EVENT_PUBLISHER_ENABLED=false). */
  publisher?: EventPublisher;
  /** Resolves when the worker has stopped (after shutdown() or a fatal error). */
  run(): Promise<void>;
  shutdown(): Promise<void>;
}

let runtimeInstalled = false;

/**
 * Builds the workers of one process: the main queue (workflows, initiations, sends, database
 * steps), the polling queue and the reconciliation queue (lib/task-queues.ts), each with its own
 * activity slots and database pool.
 */
export async function createPaymentsWorker(config: Config, logger: Logger): Promise<PaymentsWorker> {
  if (!runtimeInstalled) {
    runtimeInstalled = true;
    Runtime.install({
      logger: {
        log: (level, message, meta) => {
          const lvl = level.toLowerCase() as 'trace' | 'debug' | 'info' | 'warn' | 'error';
          logger[lvl === 'trace' ? 'trace' : lvl]({ ...meta }, message);
        },
        trace: (m, meta) => logger.trace({ ...meta }, m),
        debug: (m, meta) => logger.debug({ ...meta }, m),
        info: (m, meta) => logger.info({ ...meta }, m),
        warn: (m, meta) => logger.warn({ ...meta }, m),
        error: (m, meta) => logger.error({ ...meta }, m),
      },
      telemetryOptions: {
        logging: { filter: makeTelemetryFilterString({ core: 'WARN' }) },
        metrics: metricsTelemetry(config.WORKER_METRICS_ADDRESS),
      },
      // The entry point decides how to stop (it closes the pool after the worker drains).
      shutdownSignals: [],
    });
    recordOperatorCallMetrics();
    if (config.WORKER_METRICS_ADDRESS) recordProcessMemoryMetrics();
  }
  const pool = createPool(config.DATABASE_URL, config.DATABASE_POOL_SIZE);
  // Polls and reports draw on pools of their own: neither can exhaust the connections that
  // initiations and the workflows' database steps need.
  const pollingPool = createPool(config.DATABASE_URL, config.POLLING_POOL_SIZE);
  const reconciliationPool = createPool(config.DATABASE_URL, config.RECONCILIATION_POOL_SIZE);
  // Webhook deliveries and the event publisher: a slow merchant server never holds a payment's connection.
  const webhookPool = createPool(config.DATABASE_URL, config.WEBHOOK_POOL_SIZE);
  const pools = [pool, pollingPool, reconciliationPool, webhookPool];
  const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  if (config.TEMPORAL_REGISTER_SEARCH_ATTRIBUTES) {
    const added = await ensureSearchAttributes(connection, config.TEMPORAL_NAMESPACE);
    if (added.length) logger.info({ added }, 'registered search attributes');
  }
  // A client for the reconciliation schedules (activities use the worker's own connection).
  const clientConnection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  const dataConverter = temporalDataConverter(config);
  const temporal = new Client({
    connection: clientConnection,
    namespace: config.TEMPORAL_NAMESPACE,
    dataConverter,
  });
  if (config.SCHEDULES_ENABLED) {
    const schedules = await ensureSchedules(temporal, config);
    logger.info(schedules, 'reconciliation schedules in place');
  }

  const bundlePath = config.WORKFLOW_BUNDLE_PATH;
  const operators = createOperators(config);
  const common = {
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    // Every payload encrypted before it leaves the process (lib/payload-codec.ts).
    dataConverter,
    // In-flight activities get this long to finish on shutdown, then are cancelled; the worker
    // is forced down after shutdownForceTime so a stuck call cannot hold a deploy.
    shutdownGraceTime: '10 seconds',
    shutdownForceTime: '30 seconds',
  };
  // The card switch's connection (docs/gim-uemoa.md): one per worker process, kept signed on.
  const gim = config.GIM_HOST
    ? new GimConnection({
        host: config.GIM_HOST,
        port: config.GIM_PORT,
        hsm: new SoftwareHsm(config.GIM_MAC_KEY),
        nextStan: () => nextStan(pool, config.GIM_ACQUIRER_ID),
        echoSeconds: config.GIM_ECHO_SECONDS,
        timeoutMs: config.GIM_TIMEOUT_MS,
        logger: logger.child({ operator: 'gim' }),
      })
    : undefined;
  gim?.start();
  // Every operator call takes its slot in its operator's lane, a row of the database that all
  // workers share (activities/operator-pacing.ts); polls reserve theirs on the polling pool.
  const pacer = createConfiguredPacer(config, pool);
  const pollPacer = createConfiguredPacer(config, pollingPool);
  const activities = createActivities({ config, pool, logger, operators, gim, pacer });
  const pollingActivities = createActivities({
    config,
    pool: pollingPool,
    logger,
    operators,
    pacer: pollPacer,
  });
  const workers = await Promise.all([
    // Workflows, initiations and sends, and the short database steps.
    Worker.create({
      ...common,
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      ...(bundlePath && existsSync(bundlePath)
        ? { workflowBundle: { codePath: bundlePath } }
        : { workflowsPath: WORKFLOWS_PATH, bundlerOptions: { preloadModules: [WORKFLOWS_PATH] } }),
      activities,
      maxCachedWorkflows: config.WORKER_MAX_CACHED_WORKFLOWS,
      // A workflow task sent to this worker's own (sticky) queue goes back to the shared queue
      // after this long unanswered: how long a payment waits when the worker that ran it died.
      stickyQueueScheduleToStartTimeout: `${config.WORKER_STICKY_QUEUE_TIMEOUT_SECONDS} seconds`,
      maxConcurrentActivityTaskExecutions: config.WORKER_ACTIVITY_SLOTS,
    }),
    // Status polls and look-ups: many at once, mostly waiting on operators.
    Worker.create({
      ...common,
      taskQueue: pollingQueue(config.TEMPORAL_TASK_QUEUE),
      activities: pollingActivities,
      maxConcurrentActivityTaskExecutions: config.WORKER_POLLING_SLOTS,
    }),
    // Each operator's calls, under its rate limit across all workers (the server enforces
    // maxTaskQueueActivitiesPerSecond per task queue, and each call also takes its slot in the
    // operator's lane on the database, which the local sends of shape 3 payins share): sends and
    // confirmations, then polls.
    ...OPERATORS.flatMap((name) => {
      const { rateLimit } = config.operators[name];
      return [
        Worker.create({
          ...common,
          taskQueue: operatorQueue(config.TEMPORAL_TASK_QUEUE, name),
          activities: withOperatorPacing(activities, pacer, name, 'sends'),
          maxConcurrentActivityTaskExecutions: config.WORKER_ACTIVITY_SLOTS,
          maxTaskQueueActivitiesPerSecond: rateLimit.sendsPerSecond,
          maxConcurrentActivityTaskPolls: 2,
        }),
        Worker.create({
          ...common,
          taskQueue: operatorPollingQueue(config.TEMPORAL_TASK_QUEUE, name),
          activities: withOperatorPacing(pollingActivities, pollPacer, name, 'polls'),
          maxConcurrentActivityTaskExecutions: config.WORKER_POLLING_SLOTS,
          maxTaskQueueActivitiesPerSecond: rateLimit.pollsPerSecond,
          maxConcurrentActivityTaskPolls: 2,
        }),
      ];
    }),
    // Sweeps and settlement reports: few, long.
    Worker.create({
      ...common,
      taskQueue: reconciliationQueue(config.TEMPORAL_TASK_QUEUE),
      activities: createActivities({ config, pool: reconciliationPool, logger, operators }),
      maxConcurrentActivityTaskExecutions: config.WORKER_RECONCILIATION_SLOTS,
    }),
    // Webhook deliveries: one attempt per activity, mostly waiting on merchants' servers.
    Worker.create({
      ...common,
      taskQueue: webhooksQueue(config.TEMPORAL_TASK_QUEUE),
      activities: withHeartbeats(
        createWebhookActivities({
          pool: webhookPool,
          logger,
          timeoutMs: config.WEBHOOK_TIMEOUT_MS,
          schedule: {
            delaysMs: config.WEBHOOK_RETRY_SECONDS,
            windowMs: config.WEBHOOK_RETRY_WINDOW_SECONDS * 1000,
          },
        }),
      ),
      maxConcurrentActivityTaskExecutions: config.WORKER_WEBHOOK_SLOTS,
    }),
  ]);
  const worker = workers[0];
  const publisher = config.EVENT_PUBLISHER_ENABLED
    ? startEventPublisher({ config, pool: webhookPool, temporal, logger })
    : undefined;

  let stopped: Promise<void> | undefined;
  // If one of the workers fails, the others are stopped: the process ends and is restarted whole.
  const running = Promise.all(
    workers.map((w) =>
      w.run().catch((err: unknown) => {
        for (const other of workers) if (other.getState() === 'RUNNING') other.shutdown();
        throw err;
      }),
    ),
  ).then(() => undefined);
  return {
    worker,
    connection,
    pool,
    publisher,
    run: () => running,
    shutdown: async () => {
      stopped ??= (async () => {
        await publisher?.stop();
        for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
        await running.catch(() => undefined);
        await gim?.close();
        await connection.close();
        await clientConnection.close();
        await Promise.all(pools.map((p) => p.end()));
      })();
      await stopped;
    },
  };
}
