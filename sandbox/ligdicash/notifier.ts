import type { Logger } from 'pino';
import type { SandboxConfig } from '../config.js';

export interface CallbackDelivery {
  at: string;
  contentType: 'application/x-www-form-urlencoded' | 'application/json';
  attempt: number;
  httpStatus: number | null;
  error?: string;
}

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
    contentType: CallbackDelivery['contentType'],
    payload: string,
    deliveries: CallbackDelivery[],
  ) {
    for (let attempt = 1; attempt <= 1 + this.config.SANDBOX_CALLBACK_RETRIES; attempt++) {
      const delivery: CallbackDelivery = {
        at: new Date().toISOString(),
        contentType,
        attempt,
        httpStatus: null,
      };
      deliveries.push(delivery);
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'Content-Type': contentType, 'User-Agent': 'LigdiCash-Sandbox/1.0' },
          body: payload,
          signal: AbortSignal.timeout(10_000),
        });
        delivery.httpStatus = res.status;
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) return;
      } catch (err) {
        delivery.error = err instanceof Error ? err.message : String(err);
      }
      await new Promise((r) => setTimeout(r, 500 * attempt));
    }
    this.logger.warn({ url }, 'ligdicash sandbox gave up a callback');
  }
}

/** The merchant's LigdiCash wallet: payins credit it, executed payouts draw on it. */
export class MerchantWallet {
  constructor(public balance: number) {}
}

export function later(ms: number, action: () => void): void {
  setTimeout(action, ms).unref();
}
