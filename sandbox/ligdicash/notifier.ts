import type { Logger } from 'pino';
import type { SandboxConfig } from '../config.js';
import { deliver, type CallbackDelivery } from '../delivery.js';

export { later, type CallbackDelivery } from '../delivery.js';

/**
 * Posts one LigdiCash event to the merchant's callback URL the way LigdiCash does: twice, as
 * form-urlencoded (nested values as JSON strings) and as JSON, each retried until answered 2xx.
 * Every delivery is recorded, so that tests can compare with the merchant's inbox.
 */
export class CallbackNotifier {
  constructor(
    private readonly config: SandboxConfig,
    private readonly logger: Logger,
  ) {}

  async notify(
    url: string,
    callback: Record<string, unknown>,
    deliveries: CallbackDelivery[],
    copies = 1,
  ): Promise<void> {
    if (!url) return;
    const form = new URLSearchParams();
    for (const [k, v] of Object.entries(callback)) {
      form.set(k, v === null || v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v));
    }
    for (let copy = 0; copy < copies; copy++) {
      await this.post(url, 'application/x-www-form-urlencoded', form.toString(), deliveries);
      await this.post(url, 'application/json', JSON.stringify(callback), deliveries);
    }
  }

  private async post(
    url: string,
    contentType: string,
    body: string,
    deliveries: CallbackDelivery[],
  ): Promise<void> {
    const ok = await deliver(
      url,
      { method: 'POST', contentType, body, userAgent: 'LigdiCash-Sandbox/1.0' },
      deliveries,
      this.config.SANDBOX_CALLBACK_RETRIES,
    );
    if (!ok) this.logger.warn({ url }, 'ligdicash sandbox gave up a callback');
  }
}

/** The merchant's LigdiCash wallet: payins credit it, executed payouts draw on it. */
export class MerchantWallet {
  constructor(public balance: number) {}
}
