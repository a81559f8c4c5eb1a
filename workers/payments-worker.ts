import { existsSync } from 'node:fs';
import { NativeConnection, Runtime, Worker, makeTelemetryFilterString } from '@temporalio/worker';
import { createActivities } from '../activities/index.js';
import { createPool, type Pool } from '../db/pool.js';
import type { Config } from '../lib/config.js';
import type { Logger } from '../lib/logger.js';
import { WORKFLOWS_PATH } from './bundle.js';
import { ensureSearchAttributes } from './search-attributes.js';
import { ensureSchedules } from './schedules.js';
import { Client, Connection } from '@temporalio/client';

export interface PaymentsWorker {
  worker: Worker;
  connection: NativeConnection;
  pool: Pool;
  /** Resolves when the worker has stopped (after shutdown() or a fatal error). */
  run(): Promise<void>;
  shutdown(): Promise<void>;
}

let runtimeInstalled = false;

/** Builds the worker that runs payment workflows and their activities on one task queue. */
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
      telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN' }) } },
      // The entry point decides how to stop (it closes the pool after the worker drains).
      shutdownSignals: [],
    });
  }
  const pool = createPool(config.DATABASE_URL, config.DATABASE_POOL_SIZE);
  const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  const added = await ensureSearchAttributes(connection, config.TEMPORAL_NAMESPACE);
  if (added.length) logger.info({ added }, 'registered search attributes');
  // A client for what activities start or look at (late refunds, stuck workflows) and for the schedules.
  const clientConnection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  const temporal = new Client({ connection: clientConnection, namespace: config.TEMPORAL_NAMESPACE });
  if (config.SCHEDULES_ENABLED) {
    const schedules = await ensureSchedules(temporal, config);
    logger.info(schedules, 'reconciliation schedules in place');
  }

  const bundlePath = config.WORKFLOW_BUNDLE_PATH;
  const worker = await Worker.create({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    ...(bundlePath && existsSync(bundlePath)
      ? { workflowBundle: { codePath: bundlePath } }
      : { workflowsPath: WORKFLOWS_PATH }),
    activities: createActivities({ config, pool, logger, temporal }),
    maxCachedWorkflows: config.WORKER_MAX_CACHED_WORKFLOWS,
    shutdownGraceTime: '10 seconds',
  });

  let stopped: Promise<void> | undefined;
  const running = worker.run();
  return {
    worker,
    connection,
    pool,
    run: () => running,
    shutdown: async () => {
      stopped ??= (async () => {
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await running.catch(() => undefined);
        await connection.close();
        await clientConnection.close();
        await pool.end();
      })();
      await stopped;
    },
  };
}
