/**
 * How every simulated operator calls the merchant back: one HTTP request, retried until answered
 * 2xx, each delivery recorded so that tests can compare the sandbox's sends with the merchant's inbox.
 */
export interface CallbackDelivery {
  at: string;
  method: 'GET' | 'POST' | 'PUT';
  contentType?: string;
  attempt: number;
  httpStatus: number | null;
  error?: string;
}

export async function deliver(
  url: string,
  request: { method: 'GET' | 'POST' | 'PUT'; contentType?: string; body?: string; userAgent: string },
  deliveries: CallbackDelivery[],
  retries: number,
): Promise<boolean> {
  for (let attempt = 1; attempt <= 1 + retries; attempt++) {
    const delivery: CallbackDelivery = {
      at: new Date().toISOString(),
      method: request.method,
      ...(request.contentType ? { contentType: request.contentType } : {}),
      attempt,
      httpStatus: null,
    };
    deliveries.push(delivery);
    try {
      const res = await fetch(url, {
        method: request.method,
        headers: {
          'User-Agent': request.userAgent,
          ...(request.contentType ? { 'Content-Type': request.contentType } : {}),
        },
        body: request.body,
        signal: AbortSignal.timeout(10_000),
      });
      delivery.httpStatus = res.status;
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return true;
    } catch (err) {
      delivery.error = err instanceof Error ? err.message : String(err);
    }
    await new Promise((r) => setTimeout(r, 500 * attempt));
  }
  return false;
}

export function later(ms: number, action: () => void): void {
  setTimeout(action, ms).unref();
}

export const htmlEscape = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export const pageStyle = `body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#222}
.card{border:1px solid #ddd;border-radius:8px;padding:1.5rem}h1{font-size:1.2rem}.amount{font-size:2rem;font-weight:700}
button{font-size:1rem;padding:.6rem 1.2rem;margin:.3rem .3rem 0 0;border-radius:6px;border:1px solid #888;cursor:pointer}
.pay{background:#0a7d32;color:#fff;border-color:#0a7d32}.muted{color:#666;font-size:.85rem}.error{color:#b00}`;
