import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Request, Response } from 'express';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  eventView,
  eventsAfterPosition,
  getMerchantEvent,
  lastEventPosition,
  listenForEvents,
  type EventListener,
  type StoredEvent,
} from '../db/events.js';
import type { Pool } from '../db/pool.js';
import type { Logger } from '../lib/logger.js';
import { currentMerchant, principalOfAuthorization, type AuthDeps } from './auth.js';
import { Problem, problemBody } from './problems.js';

export const EVENT_STREAM_PATH = '/v1/events/stream';

/** A stream's reader that falls this far behind is cut off; it resumes from its last event id. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
const PAGE = 200;
const KEEPALIVE_MS = 25_000;

interface Subscriber {
  merchantId: string;
  livemode: boolean;
  position: number;
  send(events: StoredEvent[]): Promise<void>;
  busy: boolean;
  again: boolean;
  closed: boolean;
}

/**
 * The live stream of a merchant's events, over WebSocket (the integration specification's
 * choice) or Server-Sent Events (curl and browsers' EventSource) at the same path. It follows
 * event positions (db/events.ts publishEvents: given after commit, in order, under a lock), so a
 * reader resuming after an event id gets every later event once: no gap, no duplicate.
 */
export class EventStreamHub {
  private readonly subscribers = new Set<Subscriber>();
  private listener?: EventListener;
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 4096 });

  constructor(private readonly deps: { pool: Pool; databaseUrl: string; logger: Logger; auth: AuthDeps }) {}

  /** Where a reader starts: after the event it names (its own), or after the latest event. */
  private async startPosition(
    owner: { merchantId: string; livemode: boolean },
    after: string | undefined,
  ): Promise<number> {
    if (!after) return lastEventPosition(this.deps.pool);
    const event = /^evt_[a-z2-7]{24}$/.test(after)
      ? await getMerchantEvent(this.deps.pool, owner, after)
      : undefined;
    if (!event) {
      throw new Problem('validation-error', `No event ${after} to resume after`, {
        errors: [{ field: 'after', message: 'must be the id of one of your events' }],
      });
    }
    if (event.position === null) {
      throw new Problem('service-unavailable', `Event ${after} is not published yet; retry in a second`);
    }
    return event.position;
  }

  private subscribe(sub: Subscriber): () => void {
    this.subscribers.add(sub);
    this.listener ??= listenForEvents(
      this.deps.databaseUrl,
      'passerelle_events_published',
      () => {
        for (const s of this.subscribers) void this.pump(s);
      },
      (err) => this.deps.logger.warn({ err }, 'event stream notifications interrupted'),
    );
    void this.pump(sub);
    return () => {
      sub.closed = true;
      this.subscribers.delete(sub);
    };
  }

  private async pump(sub: Subscriber): Promise<void> {
    if (sub.busy) {
      sub.again = true;
      return;
    }
    sub.busy = true;
    try {
      do {
        sub.again = false;
        for (;;) {
          if (sub.closed) return;
          const events = await eventsAfterPosition(this.deps.pool, sub, sub.position, PAGE);
          if (!events.length) break;
          await sub.send(events);
          sub.position = events[events.length - 1]!.position!;
          if (events.length < PAGE) break;
        }
      } while (sub.again);
    } catch (err) {
      this.deps.logger.warn(
        { err, merchantId: sub.merchantId },
        'event stream read failed; retried at the next event',
      );
    } finally {
      sub.busy = false;
    }
  }

  /** `GET /v1/events/stream` with `Accept: text/event-stream` (resume: `Last-Event-ID` or `?after=`). */
  async serveSse(req: Request, res: Response): Promise<void> {
    const merchant = currentMerchant(res.locals);
    // A plain GET would wait for ever: the stream is for readers that ask for it.
    if (!(req.header('accept') ?? '').includes('text/event-stream')) {
      throw new Problem(
        'not-acceptable',
        'Ask for Accept: text/event-stream, or open a WebSocket at this path; GET /v1/events lists events',
      );
    }
    const after =
      req.header('last-event-id') ?? (typeof req.query.after === 'string' ? req.query.after : undefined);
    const position = await this.startPosition(
      { merchantId: merchant.id, livemode: merchant.livemode },
      after || undefined,
    );
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(': passerelle event stream\n\n');
    const unsubscribe = this.subscribe({
      merchantId: merchant.id,
      livemode: merchant.livemode,
      position,
      busy: false,
      again: false,
      closed: false,
      send: async (events) => {
        for (const e of events) {
          const ok = res.write(`id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(eventView(e))}\n\n`);
          if (!ok) await new Promise<void>((resolve) => res.once('drain', () => resolve()));
        }
      },
    });
    const keepalive = setInterval(() => res.write(': keep-alive\n\n'), KEEPALIVE_MS);
    res.on('close', () => {
      clearInterval(keepalive);
      unsubscribe();
    });
  }

  /** The WebSocket upgrade of `GET /v1/events/stream` (key in `Authorization`; resume: `?after=`). */
  async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const refuse = (problem: Problem) => {
      const body = JSON.stringify(problemBody(problem, url.pathname));
      socket.end(
        `HTTP/1.1 ${problem.status} ${problem.status === 401 ? 'Unauthorized' : 'Error'}\r\n` +
          'Content-Type: application/problem+json\r\n' +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    };
    try {
      const { merchant, livemode } = await principalOfAuthorization(
        this.deps.auth,
        req.headers.authorization,
      );
      const owner = { merchantId: merchant.id, livemode };
      const after = url.searchParams.get('after') ?? req.headers['last-event-id'];
      const position = await this.startPosition(
        owner,
        typeof after === 'string' && after ? after : undefined,
      );
      this.wss.handleUpgrade(req, socket, head, (ws) => this.serveSocket(ws, owner, position));
    } catch (err) {
      refuse(err instanceof Problem ? err : new Problem('internal-error'));
    }
  }

  private serveSocket(
    ws: WebSocket,
    owner: { merchantId: string; livemode: boolean },
    position: number,
  ): void {
    const unsubscribe = this.subscribe({
      ...owner,
      position,
      busy: false,
      again: false,
      closed: false,
      send: async (events) => {
        for (const e of events) {
          if (ws.readyState !== ws.OPEN) return;
          if (ws.bufferedAmount > MAX_BUFFERED_BYTES) {
            ws.close(1013, 'reader too slow: resume with ?after=<last event id>');
            return;
          }
          await new Promise<void>((resolve) => ws.send(JSON.stringify(eventView(e)), () => resolve()));
        }
      },
    });
    const keepalive = setInterval(() => ws.ping(), KEEPALIVE_MS);
    ws.on('message', () => undefined);
    ws.on('close', () => {
      clearInterval(keepalive);
      unsubscribe();
    });
    ws.on('error', () => ws.terminate());
  }

  /** Sends the WebSocket upgrades of `server` for the stream's path here. */
  attach(server: Server): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const path = (req.url ?? '').split('?')[0];
      if (path === EVENT_STREAM_PATH) void this.handleUpgrade(req, socket, head);
      else socket.destroy();
    });
  }

  async close(): Promise<void> {
    for (const client of this.wss.clients) client.terminate();
    this.subscribers.clear();
    await this.listener?.close();
    this.listener = undefined;
  }
}
