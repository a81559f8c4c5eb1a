import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

/**
 * A merchant's webhook receiver for the crash test and the benchmarks: verifies every delivery
 * with the endpoint's secret (the `standardwebhooks` library, as a merchant would), and by the
 * run's own randomness fails (500), answers too slowly, or disappears for a while.
 */
export class WebhookReceiver {
  /** Event ids received with a valid signature and answered 2xx, with the first arrival time. */
  readonly delivered = new Map<string, number>();
  /** Deliveries whose signature did not verify (must stay 0). */
  badSignatures = 0;
  answers: Record<string, number> = {};
  private verifier?: Webhook;
  private server?: http.Server;
  port = 0;

  constructor(
    private readonly behaviour: {
      random?: () => number;
      /** Share of deliveries answered 500. */
      failRate?: number;
      /** Share answered after `slowMs` (beyond the sender's timeout: a failed attempt). */
      slowRate?: number;
      slowMs?: number;
    } = {},
  ) {}

  set secret(secret: string) {
    this.verifier = new Webhook(secret);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/webhooks`;
  }

  private count(what: string) {
    this.answers[what] = (this.answers[what] ?? 0) + 1;
  }

  async start(port = this.port): Promise<void> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
        let id: string;
        try {
          id = (this.verifier!.verify(body, headers) as { id: string }).id;
        } catch {
          this.badSignatures++;
          this.count('400 bad signature');
          res.writeHead(400).end();
          return;
        }
        const roll = this.behaviour.random?.() ?? 1;
        if (roll < (this.behaviour.failRate ?? 0)) {
          this.count('500');
          res.writeHead(500).end('failing on purpose');
        } else if (roll < (this.behaviour.failRate ?? 0) + (this.behaviour.slowRate ?? 0)) {
          this.count('slow');
          setTimeout(() => res.writeHead(204).end(), this.behaviour.slowMs ?? 0);
        } else {
          this.count('204');
          if (!this.delivered.has(id)) this.delivered.set(id, Date.now());
          res.writeHead(204).end();
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Gone (connections refused) for `ms`, then back on the same port. */
  async disappear(ms: number): Promise<void> {
    await this.stop();
    await new Promise((r) => setTimeout(r, ms));
    await this.start(this.port);
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
