import { createLogger } from '../lib/logger.js';
import { createSandbox } from './app.js';
import { loadSandboxConfig } from './config.js';
import { gimControlRouter, startGimSwitch } from './gim/switch.js';

/** The MAC key of development and tests (docs/gim-uemoa.md): GIM_MAC_KEY's default too. */
const DEV_GIM_MAC_KEY = '0123456789ABCDEFFEDCBA9876543210';

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
// GIM-UEMOA's card switch speaks ISO 8583 over TCP on a port of its own (docs/gim-uemoa.md); its
// control routes are under /gim. A taken port leaves the HTTP simulators running.
const gimPort = Number(config.env.SANDBOX_GIM_PORT ?? 8583);
const gim = await startGimSwitch({
  host: config.HOST,
  port: gimPort,
  macKeyHex: config.env.SANDBOX_GIM_MAC_KEY ?? DEV_GIM_MAC_KEY,
  lateMs: Number(config.env.SANDBOX_GIM_LATE_MS ?? 20_000),
  logger: logger.child({ operator: 'gim' }),
}).catch((err: Error) => {
  logger.warn({ err: err.message, port: gimPort }, 'GIM-UEMOA switch not started');
  return undefined;
});
if (gim) app.use('/gim', gimControlRouter(gim.state));
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
