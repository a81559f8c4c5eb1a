import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';

/**
 * `passerelle webhooks listen`: a receiver on this machine for a developer's test key. It
 * registers itself as a webhook endpoint of the merchant (a test key may point at 127.0.0.1),
 * verifies every delivery with the endpoint's secret through the `standardwebhooks` library,
 * prints it, and deletes the endpoint when stopped (Ctrl-C).
 */
export async function listenForWebhooks(o: {
  apiUrl: string;
  apiKey: string;
  port: number;
  eventTypes: string[];
  json: boolean;
  out: (line: string) => void;
}): Promise<{ endpointId: string; url: string; stop(): Promise<void> }> {
  // Known once the endpoint is registered (a delivery before that is answered 400, and retried).
  const state: { verifier?: Webhook } = {};
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      try {
        if (!state.verifier) throw new WebhookVerificationError('no secret yet');
        const event = state.verifier.verify(body, headers) as {
          id: string;
          type: string;
          data: { id?: string; status?: string };
        };
        o.out(
          o.json
            ? JSON.stringify({ verified: true, ...event })
            : `✓ ${event.id} ${event.type} ${event.data.id ?? ''} ${event.data.status ?? ''} (signature verified)`,
        );
        res.writeHead(204).end();
      } catch (err) {
        o.out(
          o.json
            ? JSON.stringify({
                verified: false,
                error: (err as Error).message,
                webhook_id: headers['webhook-id'],
              })
            : `✗ ${headers['webhook-id'] ?? '(no webhook-id)'}: ${(err as Error).message}`,
        );
        res.writeHead(400).end('signature not verified');
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, '127.0.0.1', () => resolve());
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks`;
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${o.apiUrl}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${o.apiKey}`,
        ...(body ? { 'Content-Type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text}`);
    return JSON.parse(text) as { id: string; secret?: string };
  };
  let endpoint: { id: string; secret?: string };
  try {
    endpoint = await call('POST', '/v1/webhook-endpoints', {
      url,
      event_types: o.eventTypes,
      description: 'passerelle webhooks listen',
    });
  } catch (err) {
    server.close();
    throw err;
  }
  state.verifier = new Webhook(endpoint.secret!);
  return {
    endpointId: endpoint.id,
    url,
    stop: async () => {
      await call('DELETE', `/v1/webhook-endpoints/${endpoint.id}`).catch(() => undefined);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
