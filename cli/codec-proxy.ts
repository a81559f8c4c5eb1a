import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { allowCodecOrigin } from '../lib/payload-codec.js';

/**
 * `passerelle codec-proxy`: the Temporal UI's codec server on an operations person's own machine.
 * The UI (in that person's browser) sends it the payloads it shows; it forwards them to the API's
 * codec endpoint with the operations codec key that person holds, and hands back the decoded
 * payloads. The payload keys never leave the servers; the key stays on this machine; whoever
 * lacks it sees only ciphertext in the UI.
 */
export async function startCodecProxy(o: {
  apiUrl: string;
  operationsKey: string;
  port: number;
  /** The Temporal UI's origin, allowed to call from the browser (CORS). */
  uiOrigins: string[];
}): Promise<{ url: string; stop(): Promise<void> }> {
  const origins = new Set(o.uiOrigins);
  const server = http.createServer((req, res) => {
    const allowed = allowCodecOrigin(req.headers.origin, origins, (name, value) =>
      res.setHeader(name, value),
    );
    if (req.method === 'OPTIONS') return void res.writeHead(allowed ? 204 : 403).end();
    // The protocol: only the last part of the path says which (Temporal's codec server protocol).
    const direction = /\/(decode|encode)\/?$/.exec(req.url ?? '')?.[1];
    if (req.method !== 'POST' || !direction) return void res.writeHead(404).end();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      fetch(`${o.apiUrl}/ops/codec/${direction}`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${o.operationsKey}`,
          'content-type': 'application/json',
          'x-namespace': String(req.headers['x-namespace'] ?? ''),
        },
        body: Buffer.concat(chunks),
        signal: AbortSignal.timeout(15_000),
      })
        .then(async (answer) => {
          res.writeHead(answer.status, {
            'content-type': answer.headers.get('content-type') ?? 'application/json',
          });
          res.end(Buffer.from(await answer.arrayBuffer()));
        })
        .catch((err: Error) => {
          res.writeHead(502, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: `the API's codec endpoint did not answer: ${err.message}` }));
        });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
