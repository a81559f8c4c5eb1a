import { Client, Connection } from '@temporalio/client';
import { createOperatorRules } from '../operators/registry.js';
import { createPool } from '../db/pool.js';
import { configWarnings, loadConfigOrExit } from '../lib/config.js';
import { createLogger } from '../lib/logger.js';
import { temporalDataConverter } from '../lib/payload-codec.js';
import { createApp, eventStreamOf } from './app.js';

/** API entry point: `tsx api/server.ts` (or `node dist/api/server.js`). */
const config = loadConfigOrExit();
const logger = createLogger({ name: 'api', level: config.LOG_LEVEL });
for (const warning of configWarnings(config)) logger.warn({ config: true }, warning);
const pool = createPool(config.DATABASE_URL, config.DATABASE_POOL_SIZE);
// Lazy: the API starts even while Temporal is still starting; /healthz says when it answers.
const connection = Connection.lazy({ address: config.TEMPORAL_ADDRESS });
const temporal = new Client({
  connection,
  namespace: config.TEMPORAL_NAMESPACE,
  dataConverter: temporalDataConverter(config),
});
const app = createApp({ config, pool, temporal, operators: createOperatorRules(config), logger });

const server = app.listen(config.PORT, config.HOST, () => {
  logger.info({ url: `http://${config.HOST}:${config.PORT}` }, 'API listening');
});
eventStreamOf(app).attach(server);
server.on('error', (err) => {
  logger.fatal({ err }, 'API could not listen');
  process.exit(1);
});

let stopping = false;
async function stop(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'API stopping');
  server.close();
  server.closeIdleConnections();
  await eventStreamOf(app).close();
  await Promise.allSettled([pool.end(), connection.close()]);
  process.exit(0);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
