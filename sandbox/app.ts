import express, { type Express } from 'express';
import type { Logger } from 'pino';
import type { SandboxConfig } from './config.js';
import { ligdicashSandbox, type LigdicashSandbox } from './ligdicash/router.js';
import { paygateSandbox, type PaygateSandbox } from './paygate/router.js';
import { tmoneySandbox } from './tmoney/router.js';
import type { TmoneySandbox } from './tmoney/tmoney.js';

export interface Sandbox {
  app: Express;
  /** LigdiCash's records: invoices (payins), withdrawals (payouts), the merchant wallet. */
  ligdicash: LigdicashSandbox['book'];
  ligdicashPayouts: LigdicashSandbox['withdrawals'];
  tmoney: TmoneySandbox;
  paygate: PaygateSandbox;
}

/** Every operator simulator, each under its own base path. */
export function createSandbox(config: SandboxConfig, logger: Logger): Sandbox {
  const app = express();
  app.disable('x-powered-by');
  const ligdicash = ligdicashSandbox(config, logger.child({ operator: 'ligdicash' }));
  app.use('/ligdicash', ligdicash.router);
  const tmoney = tmoneySandbox(config, logger.child({ operator: 'tmoney' }));
  app.use('/tmoney', tmoney.router);
  const paygate = paygateSandbox(config, logger.child({ operator: 'paygate' }));
  app.use('/paygate', paygate.router);
  app.get('/', (_req, res) => {
    res.json({
      operators: {
        ligdicash: {
          base_url: `${config.SANDBOX_PUBLIC_URL}/ligdicash/pay/v01/`,
          scenarios: `${config.SANDBOX_PUBLIC_URL}/ligdicash/_sandbox/scenarios`,
        },
        tmoney: {
          online: `${config.SANDBOX_PUBLIC_URL}/tmoney/online/online.php`,
          mbanking: `${config.SANDBOX_PUBLIC_URL}/tmoney/mbanking/v2/`,
          scenarios: `${config.SANDBOX_PUBLIC_URL}/tmoney/_sandbox/scenarios`,
        },
        paygate: {
          base_url: `${config.SANDBOX_PUBLIC_URL}/paygate/`,
          scenarios: `${config.SANDBOX_PUBLIC_URL}/paygate/_sandbox/scenarios`,
        },
      },
    });
  });
  return {
    app,
    ligdicash: ligdicash.book,
    ligdicashPayouts: ligdicash.withdrawals,
    tmoney: tmoney.tmoney,
    paygate: paygate.paygate,
  };
}
