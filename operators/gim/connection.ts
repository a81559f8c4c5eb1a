import { Socket } from 'node:net';
import { transmissionTime } from '../../lib/iso8583-time.js';
import type { Logger } from '../../lib/logger.js';
import { macVerifies, type MacHsm } from './hsm.js';
import {
  FrameReader,
  describeMessage,
  frame,
  macFieldOf,
  packMessage,
  unpackMessage,
  type IsoMessage,
} from './iso8583.js';

/**
 * The worker's one connection to the GIM-UEMOA switch (docs/gim-uemoa.md, "Transport"): opened
 * and signed on at start, echoed when idle, opened again with backoff when it drops. Requests go
 * out framed and MACed; answers come back matched by STAN and RRN. A request that gets no
 * answer in time is reported as such, never retried here: whether to reverse it is the caller's
 * decision (a workflow step).
 */
export interface GimConnectionOptions {
  host: string;
  port: number;
  hsm: MacHsm;
  /** A new STAN for a network management message (transactions bring their own). */
  nextStan: () => Promise<string>;
  /** Idle time after which an echo is sent. */
  echoSeconds: number;
  /** How long an answer may take. */
  timeoutMs: number;
  logger: Logger;
  /** Backoff between connection attempts: from `minMs` doubling to `maxMs`. */
  backoff?: { minMs: number; maxMs: number };
}

export type GimAnswer =
  | { kind: 'answered'; message: IsoMessage }
  /** Sent, and no answer in time: the switch may have acted on it. */
  | { kind: 'timeout' }
  /** Sent, and the connection dropped before its answer: the switch may have acted on it. */
  | { kind: 'connection_lost' }
  /** Nothing was sent (not connected or not signed on): sending again is safe. */
  | { kind: 'not_sent'; detail: string };

export type GimConnectionState = 'connecting' | 'signing_on' | 'ready' | 'closed';

export { transmissionTime };

/** The MTI of the answer to a request: 0100 → 0110, 0221 → 0230, 0421 → 0430. */
export function answerMti(requestMti: string): string {
  const base = Math.floor(Number(requestMti) / 10) * 10;
  return String(base + 10).padStart(4, '0');
}

function matchKey(mti: string, fields: IsoMessage['fields']): string {
  const stan = typeof fields[11] === 'string' ? fields[11].padStart(6, '0') : '';
  const rrn = typeof fields[37] === 'string' ? fields[37] : '';
  return `${mti}:${stan}:${rrn}`;
}

interface Pending {
  resolve(answer: GimAnswer): void;
  timer: NodeJS.Timeout;
}

export class GimConnection {
  private socket: Socket | undefined;
  private reader = new FrameReader();
  private readonly pending = new Map<string, Pending>();
  private stateValue: GimConnectionState = 'connecting';
  private readyWaiters: (() => void)[] = [];
  private echoTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private backoffMs: number;
  /** Counts kept for monitoring and tests. */
  readonly counts = { connects: 0, signOns: 0, echoes: 0, macFailures: 0, unmatched: 0 };

  constructor(private readonly options: GimConnectionOptions) {
    this.backoffMs = options.backoff?.minMs ?? 1_000;
  }

  get state(): GimConnectionState {
    return this.stateValue;
  }

  /** Connects (and keeps connecting until `close`). */
  start(): void {
    this.connect();
  }

  /** Resolves once signed on; rejects after `timeoutMs`. */
  ready(timeoutMs = this.options.timeoutMs): Promise<void> {
    if (this.stateValue === 'ready') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('GIM switch: not signed on in time')), timeoutMs);
      this.readyWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /**
   * Sends a request (its field 7 set to now, its MAC computed) and waits for its answer. Only a
   * signed-on connection sends transactions; network management goes out as soon as connected.
   */
  async request(message: IsoMessage, timeoutMs = this.options.timeoutMs): Promise<GimAnswer> {
    const management = message.mti.startsWith('08');
    const socket = this.socket;
    if (!socket || this.stateValue === 'closed' || (!management && this.stateValue !== 'ready')) {
      return { kind: 'not_sent', detail: `GIM switch connection ${this.stateValue}` };
    }
    // Field 7 is now, unless the caller recorded the one it sends (an original that a reversal's
    // field 90 will name).
    const fields = { 7: transmissionTime(new Date()), ...message.fields };
    const bytes = await this.sign({ mti: message.mti, fields });
    const key = matchKey(answerMti(message.mti), fields);
    if (this.pending.has(key)) return { kind: 'not_sent', detail: `a request ${key} is already waiting` };
    return new Promise<GimAnswer>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(key);
        resolve({ kind: 'timeout' });
      }, timeoutMs);
      this.pending.set(key, { resolve, timer });
      socket.write(frame(bytes));
      this.armEcho();
    });
  }

  async close(): Promise<void> {
    this.stateValue = 'closed';
    clearTimeout(this.echoTimer);
    clearTimeout(this.reconnectTimer);
    this.failPending();
    const socket = this.socket;
    this.socket = undefined;
    if (socket && !socket.destroyed) {
      await new Promise<void>((resolve) => {
        socket.once('close', () => resolve());
        socket.destroy();
      });
    }
  }

  /** The message with its MAC (field 64 or 128, whose bit is set in the bitmap the MAC covers). */
  private async sign(message: IsoMessage): Promise<Buffer> {
    const macField = macFieldOf(message.fields);
    const unsigned = packMessage({
      mti: message.mti,
      fields: { ...message.fields, [macField]: Buffer.alloc(8) },
    });
    const mac = await this.options.hsm.mac(unsigned.subarray(0, unsigned.length - 8));
    return Buffer.concat([unsigned.subarray(0, unsigned.length - 8), mac]);
  }

  private connect(): void {
    if (this.stateValue === 'closed') return;
    this.stateValue = 'connecting';
    this.reader = new FrameReader();
    const socket = new Socket();
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      for (const bytes of this.reader.push(chunk)) void this.receive(bytes);
    });
    socket.on('error', (err) =>
      this.options.logger.warn({ err: err.message }, 'GIM switch connection error'),
    );
    socket.on('close', () => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      clearTimeout(this.echoTimer);
      this.failPending();
      if (this.stateValue === 'closed') return;
      this.stateValue = 'connecting';
      this.options.logger.warn({ retryInMs: this.backoffMs }, 'GIM switch connection closed; reconnecting');
      this.reconnectTimer = setTimeout(() => this.connect(), this.backoffMs);
      this.backoffMs = Math.min(this.backoffMs * 2, this.options.backoff?.maxMs ?? 30_000);
    });
    socket.connect(this.options.port, this.options.host, () => {
      this.counts.connects++;
      void this.signOn(socket);
    });
  }

  private async signOn(socket: Socket): Promise<void> {
    this.stateValue = 'signing_on';
    const answer = await this.request({
      mti: '0800',
      fields: { 11: await this.options.nextStan(), 70: '001' },
    });
    // The connection may have been closed or replaced while the sign-on was out.
    if (this.socket !== socket || (this.stateValue as GimConnectionState) === 'closed') return;
    if (answer.kind === 'answered' && answer.message.fields[39] === '00') {
      this.counts.signOns++;
      this.stateValue = 'ready';
      this.backoffMs = this.options.backoff?.minMs ?? 1_000;
      this.options.logger.info('GIM switch: signed on');
      for (const waiter of this.readyWaiters.splice(0)) waiter();
      this.armEcho();
      return;
    }
    this.options.logger.warn(
      { answer: answer.kind === 'answered' ? answer.message.fields[39] : answer.kind },
      'GIM switch refused the sign-on; reconnecting',
    );
    socket.destroy();
  }

  /** An echo after `echoSeconds` without traffic; an unanswered echo drops the connection. */
  private armEcho(): void {
    clearTimeout(this.echoTimer);
    if (this.stateValue !== 'ready') return;
    this.echoTimer = setTimeout(() => {
      void (async () => {
        const socket = this.socket;
        const answer = await this.request({
          mti: '0800',
          fields: { 11: await this.options.nextStan(), 70: '301' },
        });
        if (answer.kind === 'answered') this.counts.echoes++;
        else if (answer.kind !== 'not_sent' && socket === this.socket) socket?.destroy();
      })();
    }, this.options.echoSeconds * 1000);
    this.echoTimer.unref();
  }

  private async receive(bytes: Buffer): Promise<void> {
    let message: IsoMessage;
    try {
      message = unpackMessage(bytes);
    } catch (err) {
      this.options.logger.warn(
        { err: (err as Error).message },
        'GIM switch sent an unreadable message; dropped',
      );
      return;
    }
    const macField = macFieldOf(message.fields);
    if (
      !(await macVerifies(
        this.options.hsm,
        bytes.subarray(0, bytes.length - 8),
        message.fields[macField] as Buffer | undefined,
      ))
    ) {
      this.counts.macFailures++;
      this.options.logger.warn(
        { message: describeMessage(message) },
        'GIM switch message with a wrong MAC; dropped',
      );
      return;
    }
    this.armEcho();
    if (message.mti === '0800') {
      // The switch's own echo or sign-on: answered at once.
      const socket = this.socket;
      const answer = await this.sign({
        mti: '0810',
        fields: { 7: transmissionTime(new Date()), 11: message.fields[11], 39: '00', 70: message.fields[70] },
      });
      socket?.write(frame(answer));
      return;
    }
    const key = matchKey(message.mti, message.fields);
    const waiting = this.pending.get(key);
    if (!waiting) {
      this.counts.unmatched++;
      this.options.logger.warn(
        { message: describeMessage(message) },
        'GIM switch answer matches no waiting request (late or repeated); dropped',
      );
      return;
    }
    this.pending.delete(key);
    clearTimeout(waiting.timer);
    waiting.resolve({ kind: 'answered', message });
  }

  private failPending(): void {
    for (const [key, waiting] of this.pending) {
      clearTimeout(waiting.timer);
      this.pending.delete(key);
      waiting.resolve({ kind: 'connection_lost' });
    }
  }
}
