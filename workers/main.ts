import { configWarnings, loadConfigOrExit } from '../lib/config.js';
import { createLogger } from '../lib/logger.js';
import { createPaymentsWorker } from './payments-worker.js';

/** Worker entry point: `tsx workers/main.ts`. Stops cleanly on SIGINT/SIGTERM (in-flight tasks drain). */
const config = loadConfigOrExit();
const logger = createLogger({ name: 'worker', level: config.LOG_LEVEL });
for (const warning of configWarnings(config)) logger.warn({ config: true }, warning);

const started = await createPaymentsWorker(config, logger).catch((err: unknown) => {
  logger.fatal({ err }, 'worker could not start (is Temporal running at TEMPORAL_ADDRESS?)');
  process.exit(1);
});
logger.info({ taskQueue: config.TEMPORAL_TASK_QUEUE, address: config.TEMPORAL_ADDRESS }, 'worker running');

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    logger.info({ signal }, 'worker stopping');
    void started.shutdown().then(() => process.exit(0));
  });
}
await started.run().catch((err: unknown) => {
  logger.fatal({ err }, 'worker failed');
  process.exit(1);
});
