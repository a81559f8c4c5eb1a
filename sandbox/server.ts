import { createLogger } from '../lib/logger.js';
import { createSandbox } from './app.js';
import { loadSandboxConfig } from './config.js';

/** Sandbox entry point: `tsx sandbox/server.ts`. */
let config;
try {
  config = loadSandboxConfig();
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(78);
}
const logger = createLogger({ name: 'sandbox', level: config.LOG_LEVEL });
const { app } = createSandbox(config, logger);
const server = app.listen(config.SANDBOX_PORT, config.HOST, () => {
  logger.info({ url: config.SANDBOX_PUBLIC_URL }, 'sandbox listening');
});
server.on('error', (err) => {
  logger.fatal({ err }, 'sandbox could not listen');
  process.exit(1);
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  });
}
