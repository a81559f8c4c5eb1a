import express, { type Express } from 'express';
import type { Logger } from 'pino';
import type { SandboxConfig } from './config.js';
import { ligdicashSandbox, type LigdicashSandbox } from './ligdicash/router.js';

export interface Sandbox {
  app: Express;
  /** LigdiCash's records: invoices (payins), withdrawals (payouts), the merchant wallet. */
  ligdicash: LigdicashSandbox['book'];
  ligdicashPayouts: LigdicashSandbox['withdrawals'];
}

/** Every operator simulator, each under its own base path. */
export function createSandbox(config: SandboxConfig, logger: Logger): Sandbox {
  const app = express();
  app.disable('x-powered-by');
  const ligdicash = ligdicashSandbox(config, logger.child({ operator: 'ligdicash' }));
  app.use('/ligdicash', ligdicash.router);
  app.get('/', (_req, res) => {
    res.json({
      operators: {
        ligdicash: {
          base_url: `${config.SANDBOX_PUBLIC_URL}/ligdicash/pay/v01/`,
          scenarios: `${config.SANDBOX_PUBLIC_URL}/ligdicash/_sandbox/scenarios`,
        },
      },
    });
  });
  return { app, ligdicash: ligdicash.book, ligdicashPayouts: ligdicash.withdrawals };
}
