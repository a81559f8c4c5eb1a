import { randomInt } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import express, { Router } from 'express';
import type { Logger } from 'pino';
import {
  FrameReader,
  IsoFormatError,
  checkMac,
  decodeMessage,
  encodeSigned,
  frame,
  transmissionDateTime,
  type DecodedMessage,
} from './codec.js';
import { parseMacKey } from './mac.js';

/**
 * GIM-UEMOA switch simulator: ISO 8583 over TCP exactly as docs/gim-uemoa.md specifies it, with its
 * own codec (./codec.ts) and MAC (./mac.ts): nothing is shared with operators/gim/.
 *
 * Transport: any number of connections; each message is preceded by its length (2 bytes, unsigned,
 * big-endian). Port 0 binds a free port (startGimSwitch returns it).
 *
 * Every message received, in this order:
 * 1. It must decode as the profile says (MTI, binary bitmaps, ASCII fields, LLVAR, field formats),
 *    and a request must carry exactly the fields of its row in "Messages" (38 optional in 04xx).
 *    Otherwise: answered `30` (format error) when its MTI can be read, never acted on.
 *    Answers (MTI third digit odd: 0110, 0810, …) from the acquirer are logged and dropped.
 * 2. Its MAC (field 64 without a secondary bitmap, 128 with one) must verify under the MAC key
 *    (ISO 9797-1 algorithm 3, padding method 2); otherwise (wrong or missing) it is answered `63`
 *    with a correct MAC, counted in `macFailures`, never acted on.
 * 3. 0800 network management, field 70: `001` sign-on → `00`, the connection is signed on;
 *    `301` echo → `00` (`91` if not signed on); `002` sign-off → `00`, no longer signed on;
 *    any other code `12`.
 * 4. 01xx, 02xx and 04xx on a connection not signed on: `91` (nothing recorded).
 *
 * Answers (request MTI with third digit + 1 and last digit 0: 0221 → 0230, 0421 → 0430) echo the
 * request's fields 2, 3, 4, 11, 12, 13, 32, 37, 41, 42, 49, 90 (those present; 70 in 0810), add 39,
 * recompute 7 (now, UTC) and the MAC. 38 is present iff 39 is `00` and the transaction has an
 * approval code (6 digits, set on an approved 0110/0210, repeated in its 0230/0410/0430).
 *
 * 0100 authorisation (processing code 000000, else `12`) → 0110. A new RRN (field 37) is decided:
 * PAN fails Luhn (or is shorter than 12 digits) `14`; expiry (field 14, YYMM) before the current
 * UTC month, or month not 01–12, `54`; amount 0 `13`; then the amount (field 4) picks a scenario
 * from GIM_SCENARIOS (7001 `05`, 7002 `51`, 7003 `91` nothing held; 7005–7010 approved with a
 * delivery twist: see GIM_SCENARIOS); any other amount: approved `00`, the amount held.
 * A repeat 0100 (RRN already seen) is not decided again: the original decision (same 38/39) is
 * answered, with the same delivery scenario (a 7005 transaction never gets an answer, a 7009 one
 * drops the connection again), nothing held twice.
 *
 * 0200 refund (processing code 200000, else `12`) → 0210: `14`/`54`/`13` as above, else `00` and
 * the card credited; a repeat by RRN answers the original decision. Of the amount scenarios only
 * 7005 applies: the refund credited, no answer ever.
 *
 * 0220 / 0221 completion advice → 0230; 0400 reversal → 0410; 0420 / 0421 reversal advice → 0430.
 * The original is located by RRN (field 37) AND field 90: original MTI (0100 for an authorisation,
 * 0200 for a refund), STAN, field 7 (of the original or of any of its repeats), field 32 zero-padded
 * to 11, forwarding institution `00000000000`. Not located: `25` (kept in `unmatched`).
 * - 0220: original not approved or reversed `25`; field 4 above the authorised amount `13`;
 *   otherwise `00`, captured once (held → false, `captured` = 1): repeats answer `00` again.
 * - 04xx: `00`; the hold released (authorisation) or the credit withdrawn (refund), `reversed`;
 *   repeats answer `00` again. A reversal of a captured authorisation is applied and answered `00`
 *   too (logged as a warning): the record then shows both, which is the connector's bug to catch.
 *   Scenario 7010: the first 3 reversal messages of the transaction (0400/0420/0421 alike) are
 *   recorded in `mtis` but neither answered nor applied (lost); the 4th is applied and answered.
 *
 * State (GimSwitch): transactions by RRN (GimTransaction: last 4 PAN digits, amount, kind,
 * response code, approval code, held, credited, captured, reversed, MTIs received, answers sent),
 * counters (connections, sign-ons, sign-offs, echoes, MAC failures, format errors, 91s for not
 * signed on), `byRrn(rrn)`, `all()`, `authorisations()`.
 *
 * Control routes (gimControlRouter, mounted by the sandbox under /gim): GET _sandbox/transactions
 * (?rrn=), GET _sandbox/scenarios, GET _sandbox/stats, POST _sandbox/drop-connections,
 * POST _sandbox/outage {down: boolean} (while down, new connections are reset at once and the
 * existing ones were dropped).
 */

/** Amount (field 4 of a 0100) → what the switch does. Any other amount is approved. */
export const GIM_SCENARIOS: Record<number, string> = {
  7001: 'Declined 05 (do not honour); nothing held.',
  7002: 'Declined 51 (insufficient funds); nothing held.',
  7003: 'Answered 91 (issuer inoperative); nothing held.',
  7005: 'Approved and held at the issuer, but no 0110 is ever sent.',
  7006: 'Approved and held; the 0110 is sent after lateMs.',
  7007: 'Approved and held; the 0110 is sent twice.',
  7008: 'Approved and held; the 0110 carries a wrong MAC (one byte flipped).',
  7009: 'Approved and held; the connection is destroyed before the 0110.',
  7010: 'Approved normally; the first 3 reversal messages (0400/0420/0421) for it get no answer (and are not applied), the 4th is answered.',
};

export interface GimSwitchOptions {
  host: string;
  port: number;
  macKeyHex: string;
  lateMs: number;
  logger: Logger;
}

export type GimKind = 'authorisation' | 'refund';

export interface GimAnswer {
  mti: string;
  responseCode: string;
  at: string;
  /** How it was delivered when not plainly: late, sent twice (duplicate), MAC corrupted. */
  note?: 'late' | 'duplicate' | 'bad_mac';
}

export interface GimTransaction {
  rrn: string;
  kind: GimKind;
  panLast4: string;
  amount: number;
  currency: string;
  /** Field 11 and 32 of the 0100/0200, as field 90 must repeat them. */
  stan: string;
  acquirer: string;
  /** Field 7 of the 0100/0200 and of each of its repeats. */
  transmittedAt: string[];
  /** The GIM_SCENARIOS amount that applied, if any. */
  scenario: number | null;
  responseCode: string;
  approvalCode: string | null;
  /** Authorisation: the amount is held at the issuer (approved, neither captured nor reversed). */
  held: boolean;
  /** Refund: the card is credited (approved, not reversed). */
  credited: boolean;
  /** Captures applied (0 or 1: repeated advices do not capture twice). */
  captured: number;
  capturedAmount: number;
  reversed: boolean;
  /** Reversal messages (0400/0420/0421) received for it, answered or not. */
  reversalsReceived: number;
  /** Every MTI received for it, in order (MAC-valid messages on signed-on connections). */
  mtis: string[];
  answers: GimAnswer[];
  createdAt: string;
}

export interface GimUnmatched {
  mti: string;
  rrn: string;
  originalData: string;
  reason: string;
  at: string;
}

type Delivery = 'normal' | 'none' | 'late' | 'twice' | 'bad_mac' | 'destroy';

interface Connection {
  id: number;
  socket: Socket;
  signedOn: boolean;
  reader: FrameReader;
}

interface Reply {
  mti: string;
  fields: Map<number, string>;
  tx?: GimTransaction;
  delivery: Delivery;
}

/** Fields every payment message carries ("Messages"). */
const PAYMENT = [2, 3, 4, 7, 11, 12, 13, 14, 22, 32, 37, 41, 42, 49];
const ADVICE = [...PAYMENT, 90, 128];
const LAYOUTS: Record<string, { required: number[]; optional: number[] }> = {
  '0800': { required: [7, 11, 70, 128], optional: [] },
  '0100': { required: [...PAYMENT, 64], optional: [] },
  '0200': { required: [...PAYMENT, 64], optional: [] },
  '0220': { required: [...ADVICE, 38], optional: [] },
  '0221': { required: [...ADVICE, 38], optional: [] },
  '0400': { required: ADVICE, optional: [38] },
  '0420': { required: ADVICE, optional: [38] },
  '0421': { required: ADVICE, optional: [38] },
};

/** Request fields an answer repeats ("Answers echo the request's fields …"; 70 for 0810). */
const ECHOED = [2, 3, 4, 11, 12, 13, 32, 37, 41, 42, 49, 70, 90];

const DELIVERY: Record<number, Delivery> = {
  7005: 'none',
  7006: 'late',
  7007: 'twice',
  7008: 'bad_mac',
  7009: 'destroy',
};
const DECLINES: Record<number, string> = { 7001: '05', 7002: '51', 7003: '91' };
const UNANSWERED_REVERSALS = 3;

/** A request MTI (function digit even: 0100, 0220, 0421…); answers have it odd. */
function isRequest(mti: string): boolean {
  return Number(mti[2]) % 2 === 0;
}

/** 0100 → 0110, 0221 → 0230, 0421 → 0430, 0800 → 0810. */
function answerMti(mti: string): string {
  return `${mti.slice(0, 2)}${Number(mti[2]) + 1}0`;
}

function luhnValid(pan: string): boolean {
  if (!/^[0-9]{12,19}$/.test(pan)) return false;
  let sum = 0;
  for (let i = 0; i < pan.length; i++) {
    let d = Number(pan[pan.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** Field 14 (YYMM) before the current UTC month, or not a month at all. */
function expired(yymm: string, now: Date): boolean {
  const year = 2000 + Number(yymm.slice(0, 2));
  const month = Number(yymm.slice(2, 4));
  if (month < 1 || month > 12) return true;
  const y = now.getUTCFullYear();
  return year < y || (year === y && month < now.getUTCMonth() + 1);
}

function approvalCode(): string {
  return String(randomInt(0, 1_000_000)).padStart(6, '0');
}

export class GimSwitch {
  readonly transactions = new Map<string, GimTransaction>();
  /** 0220/04xx whose original could not be located (answered 25). */
  readonly unmatched: GimUnmatched[] = [];
  connections = 0;
  signOns = 0;
  signOffs = 0;
  echoes = 0;
  macFailures = 0;
  formatErrors = 0;
  notSignedOn = 0;
  refusedConnections = 0;
  down = false;

  private readonly key: Buffer;
  private readonly lateMs: number;
  private readonly log: Logger;
  private readonly open = new Map<number, Connection>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(options: Pick<GimSwitchOptions, 'macKeyHex' | 'lateMs' | 'logger'>) {
    this.key = parseMacKey(options.macKeyHex);
    this.lateMs = options.lateMs;
    this.log = options.logger.child({ sandbox: 'gim' });
  }

  // ------------------------------------------------------------------ state tests read

  byRrn(rrn: string): GimTransaction | undefined {
    return this.transactions.get(rrn.trim());
  }

  all(): GimTransaction[] {
    return [...this.transactions.values()];
  }

  authorisations(): GimTransaction[] {
    return this.all().filter((t) => t.kind === 'authorisation');
  }

  get openConnections(): number {
    return this.open.size;
  }

  stats() {
    return {
      connections: this.connections,
      openConnections: this.openConnections,
      signedOn: [...this.open.values()].filter((c) => c.signedOn).length,
      signOns: this.signOns,
      signOffs: this.signOffs,
      echoes: this.echoes,
      macFailures: this.macFailures,
      formatErrors: this.formatErrors,
      notSignedOn: this.notSignedOn,
      refusedConnections: this.refusedConnections,
      transactions: this.transactions.size,
      unmatched: this.unmatched.length,
      down: this.down,
    };
  }

  // ------------------------------------------------------------------ control

  /** Destroys every open connection; returns how many. */
  dropConnections(): number {
    const n = this.open.size;
    for (const c of this.open.values()) c.socket.destroy();
    this.log.info({ dropped: n }, 'gim: connections dropped');
    return n;
  }

  /** While down, new connections are reset at once; going down drops the open ones. */
  setDown(down: boolean): void {
    this.down = down;
    this.log.info({ down }, 'gim: outage');
    if (down) this.dropConnections();
  }

  /** Ends every connection and pending late answer (startGimSwitch's close). */
  shutdown(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const c of this.open.values()) c.socket.destroy();
  }

  // ------------------------------------------------------------------ connections

  accept(socket: Socket): void {
    if (this.down) {
      this.refusedConnections++;
      socket.resetAndDestroy();
      return;
    }
    const conn: Connection = { id: ++this.connections, socket, signedOn: false, reader: new FrameReader() };
    this.open.set(conn.id, conn);
    this.log.debug({ connection: conn.id, remote: socket.remoteAddress }, 'gim: connection');
    socket.on('data', (chunk: Buffer) => {
      for (const raw of conn.reader.push(chunk)) {
        if (socket.destroyed) return;
        try {
          this.receive(conn, raw);
        } catch (err) {
          // A simulator bug must not take the sandbox down: log it, answer nothing.
          this.log.error({ connection: conn.id, err, hex: raw.toString('hex') }, 'gim: message not handled');
        }
      }
    });
    socket.on('error', (err) => this.log.debug({ connection: conn.id, err }, 'gim: socket error'));
    socket.on('close', () => {
      this.open.delete(conn.id);
      this.log.debug({ connection: conn.id }, 'gim: connection closed');
    });
  }

  private receive(conn: Connection, raw: Buffer): void {
    let msg: DecodedMessage;
    try {
      msg = decodeMessage(raw);
    } catch (err) {
      if (!(err instanceof IsoFormatError)) throw err;
      this.formatErrors++;
      this.log.warn(
        { connection: conn.id, reason: err.message, hex: raw.toString('hex') },
        'gim: format error',
      );
      if (err.mti && isRequest(err.mti)) this.deliver(conn, this.reply(err.mti, err.partial, '30'));
      return;
    }
    const { mti } = msg;
    if (!isRequest(mti)) {
      this.log.warn({ connection: conn.id, mti }, 'gim: unsolicited answer dropped');
      return;
    }
    const mac = checkMac(msg, this.key);
    if (mac !== 'valid') {
      this.macFailures++;
      this.log.warn({ connection: conn.id, mti, rrn: msg.fields.get(37), mac }, 'gim: MAC does not verify');
      return this.deliver(conn, this.reply(mti, msg.fields, '63'));
    }
    const layout = LAYOUTS[mti];
    if (layout) {
      const present = [...msg.fields.keys(), ...msg.binary.keys()];
      const missing = layout.required.filter((n) => !present.includes(n));
      const extra = present.filter((n) => !layout.required.includes(n) && !layout.optional.includes(n));
      if (missing.length || extra.length) {
        this.formatErrors++;
        this.log.warn({ connection: conn.id, mti, missing, extra }, 'gim: fields do not match the profile');
        return this.deliver(conn, this.reply(mti, msg.fields, '30'));
      }
    }
    if (mti === '0800') return this.deliver(conn, this.network(conn, msg));
    if (!layout) {
      this.log.warn({ connection: conn.id, mti }, 'gim: MTI not in the profile');
      return this.deliver(conn, this.reply(mti, msg.fields, '12'));
    }
    if (!conn.signedOn) {
      this.notSignedOn++;
      this.log.warn({ connection: conn.id, mti }, 'gim: not signed on');
      return this.deliver(conn, this.reply(mti, msg.fields, '91'));
    }
    const reply =
      mti === '0100' || mti === '0200'
        ? this.financial(msg)
        : mti === '0220' || mti === '0221'
          ? this.completion(msg)
          : this.reversal(msg);
    this.deliver(conn, reply);
  }

  // ------------------------------------------------------------------ messages

  private network(conn: Connection, msg: DecodedMessage): Reply {
    const code = msg.fields.get(70);
    let rc = '00';
    if (code === '001') {
      conn.signedOn = true;
      this.signOns++;
    } else if (code === '002') {
      conn.signedOn = false;
      this.signOffs++;
    } else if (code === '301') {
      if (conn.signedOn) this.echoes++;
      else rc = '91';
    } else rc = '12';
    this.log.debug({ connection: conn.id, code, rc }, 'gim: network management');
    return this.reply(msg.mti, msg.fields, rc);
  }

  /** 0100 authorisation and 0200 refund: decided once per RRN, repeats answer the same. */
  private financial(msg: DecodedMessage): Reply {
    const f = (n: number) => msg.fields.get(n) ?? '';
    const kind: GimKind = msg.mti === '0100' ? 'authorisation' : 'refund';
    const rrn = f(37).trim();
    const existing = this.transactions.get(rrn);
    if (existing) {
      existing.mtis.push(msg.mti);
      if (existing.kind !== kind) {
        this.log.warn({ rrn, kind: existing.kind, mti: msg.mti }, 'gim: RRN already used by another kind');
        return this.reply(msg.mti, msg.fields, '12');
      }
      existing.transmittedAt.push(f(7));
      this.log.info({ rrn, rc: existing.responseCode }, 'gim: repeat, original decision answered');
      return this.answerFor(msg, existing);
    }
    if (f(3) !== (kind === 'authorisation' ? '000000' : '200000')) {
      this.log.warn({ rrn, mti: msg.mti, processingCode: f(3) }, 'gim: processing code not allowed');
      return this.reply(msg.mti, msg.fields, '12');
    }
    const amount = Number(f(4));
    const pan = f(2);
    let rc = '00';
    let scenario: number | null = null;
    if (!luhnValid(pan)) rc = '14';
    else if (expired(f(14), new Date())) rc = '54';
    else if (amount === 0) rc = '13';
    else if (kind === 'authorisation' && amount in GIM_SCENARIOS) {
      scenario = amount;
      rc = DECLINES[amount] ?? '00';
    } else if (kind === 'refund' && amount === 7005) {
      // A refund credited at the issuer whose answer never comes: the acquirer must reverse it.
      scenario = amount;
    }
    const approved = rc === '00';
    const tx: GimTransaction = {
      rrn,
      kind,
      panLast4: pan.slice(-4),
      amount,
      currency: f(49),
      stan: f(11),
      acquirer: f(32),
      transmittedAt: [f(7)],
      scenario,
      responseCode: rc,
      approvalCode: approved ? approvalCode() : null,
      held: approved && kind === 'authorisation',
      credited: approved && kind === 'refund',
      captured: 0,
      capturedAmount: 0,
      reversed: false,
      reversalsReceived: 0,
      mtis: [msg.mti],
      answers: [],
      createdAt: new Date().toISOString(),
    };
    this.transactions.set(rrn, tx);
    this.log.info({ rrn, kind, amount, rc, scenario, panLast4: tx.panLast4 }, 'gim: decided');
    return this.answerFor(msg, tx);
  }

  private answerFor(msg: DecodedMessage, tx: GimTransaction): Reply {
    const reply = this.reply(msg.mti, msg.fields, tx.responseCode, tx);
    const delivery = tx.scenario !== null && tx.responseCode === '00' ? DELIVERY[tx.scenario] : undefined;
    return { ...reply, delivery: delivery ?? 'normal' };
  }

  private completion(msg: DecodedMessage): Reply {
    const located = this.locate(msg, 'authorisation');
    if (!located.tx) return this.reply(msg.mti, msg.fields, '25');
    const tx = located.tx;
    tx.mtis.push(msg.mti);
    const amount = Number(msg.fields.get(4));
    let rc = '00';
    if (tx.responseCode !== '00' || tx.reversed) rc = '25';
    else if (amount > tx.amount) rc = '13';
    else if (tx.captured === 0) {
      tx.captured = 1;
      tx.capturedAmount = amount;
      tx.held = false;
      this.log.info({ rrn: tx.rrn, amount }, 'gim: captured');
    }
    const code = msg.fields.get(38)?.trim();
    if (rc === '00' && code !== tx.approvalCode)
      this.log.warn({ rrn: tx.rrn, sent: code, approvalCode: tx.approvalCode }, 'gim: 0220 field 38 differs');
    return this.reply(msg.mti, msg.fields, rc, tx);
  }

  private reversal(msg: DecodedMessage): Reply {
    const located = this.locate(msg);
    if (!located.tx) return this.reply(msg.mti, msg.fields, '25');
    const tx = located.tx;
    tx.mtis.push(msg.mti);
    tx.reversalsReceived++;
    if (tx.scenario === 7010 && tx.reversalsReceived <= UNANSWERED_REVERSALS) {
      this.log.info({ rrn: tx.rrn, mti: msg.mti, n: tx.reversalsReceived }, 'gim: 7010, reversal ignored');
      return { ...this.reply(msg.mti, msg.fields, '00', tx), delivery: 'none' };
    }
    if (!tx.reversed) {
      if (tx.captured > 0) this.log.warn({ rrn: tx.rrn }, 'gim: reversal of a captured authorisation');
      tx.reversed = true;
      tx.held = false;
      tx.credited = false;
      this.log.info({ rrn: tx.rrn, kind: tx.kind }, 'gim: reversed');
    }
    return this.reply(msg.mti, msg.fields, '00', tx);
  }

  /** The transaction a 0220/04xx names: RRN (field 37) and field 90 must both match it. */
  private locate(msg: DecodedMessage, only?: GimKind): { tx?: GimTransaction } {
    const rrn = (msg.fields.get(37) ?? '').trim();
    const original = msg.fields.get(90) ?? '';
    const tx = this.transactions.get(rrn);
    const o = {
      mti: original.slice(0, 4),
      stan: original.slice(4, 10),
      transmittedAt: original.slice(10, 20),
      acquirer: original.slice(20, 31),
      forwarding: original.slice(31, 42),
    };
    let reason: string | undefined;
    if (!tx) reason = 'unknown RRN';
    else if (only && tx.kind !== only) reason = `RRN is a ${tx.kind}`;
    else {
      const expected = {
        mti: tx.kind === 'authorisation' ? '0100' : '0200',
        stan: tx.stan,
        acquirer: tx.acquirer.padStart(11, '0'),
        forwarding: '00000000000',
      };
      const wrong: string[] = (Object.keys(expected) as (keyof typeof expected)[]).filter(
        (k) => o[k] !== expected[k],
      );
      if (!tx.transmittedAt.includes(o.transmittedAt)) wrong.push('transmittedAt');
      if (wrong.length) reason = `field 90 does not match the original (${wrong.join(', ')})`;
    }
    if (reason === undefined) return { tx };
    this.unmatched.push({ mti: msg.mti, rrn, originalData: original, reason, at: new Date().toISOString() });
    this.log.warn({ mti: msg.mti, rrn, original, reason }, 'gim: original not located, 25');
    return {};
  }

  // ------------------------------------------------------------------ answers

  private reply(mti: string, request: Map<number, string>, rc: string, tx?: GimTransaction): Reply {
    const fields = new Map<number, string>();
    for (const n of ECHOED) {
      const v = request.get(n);
      if (v !== undefined) fields.set(n, v);
    }
    if (!mti.startsWith('08')) fields.delete(70);
    fields.set(39, rc);
    if (rc === '00' && tx?.approvalCode) fields.set(38, tx.approvalCode);
    return { mti: answerMti(mti), fields, tx, delivery: 'normal' };
  }

  private deliver(conn: Connection, reply: Reply): void {
    const rc = reply.fields.get(39) ?? '';
    switch (reply.delivery) {
      case 'none':
        this.log.info({ rrn: reply.tx?.rrn, mti: reply.mti }, 'gim: answer withheld');
        return;
      case 'destroy':
        this.log.info({ rrn: reply.tx?.rrn }, 'gim: connection destroyed instead of answering');
        conn.socket.destroy();
        return;
      case 'late': {
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          if (conn.socket.destroyed) {
            this.log.info({ rrn: reply.tx?.rrn }, 'gim: late answer not sent, connection gone');
            return;
          }
          this.send(conn, reply, rc, 'late');
        }, this.lateMs);
        this.timers.add(timer);
        return;
      }
      case 'twice':
        this.send(conn, reply, rc);
        this.send(conn, reply, rc, 'duplicate');
        return;
      case 'bad_mac':
        this.send(conn, reply, rc, 'bad_mac');
        return;
      case 'normal':
        this.send(conn, reply, rc);
    }
  }

  private send(conn: Connection, reply: Reply, rc: string, note?: GimAnswer['note']): void {
    if (conn.socket.destroyed) return;
    const fields = new Map(reply.fields);
    fields.set(7, transmissionDateTime());
    const bytes = encodeSigned(reply.mti, fields, this.key);
    if (note === 'bad_mac') bytes[bytes.length - 1]! ^= 0xff;
    conn.socket.write(frame(bytes));
    reply.tx?.answers.push({
      mti: reply.mti,
      responseCode: rc,
      at: new Date().toISOString(),
      ...(note && { note }),
    });
    this.log.debug({ connection: conn.id, mti: reply.mti, rc, rrn: reply.tx?.rrn, note }, 'gim: answer sent');
  }
}

/** Starts the simulator (port 0: any free port, returned). */
export async function startGimSwitch(
  options: GimSwitchOptions,
): Promise<{ port: number; state: GimSwitch; close(): Promise<void> }> {
  const state = new GimSwitch(options);
  const server = createServer((socket) => state.accept(socket));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  options.logger.info({ host: options.host, port }, 'gim: switch listening');
  return {
    port,
    state,
    close: () =>
      new Promise<void>((resolve, reject) => {
        state.shutdown();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

/** Control routes (not GIM's), mounted by the sandbox under /gim. */
export function gimControlRouter(state: GimSwitch): Router {
  const router = Router();
  router.get('/_sandbox/scenarios', (_req, res) => {
    res.json(GIM_SCENARIOS);
  });
  router.get('/_sandbox/transactions', (req, res) => {
    const rrn = typeof req.query.rrn === 'string' ? req.query.rrn.trim() : undefined;
    const all = state.all();
    res.json(rrn === undefined ? all : all.filter((t) => t.rrn === rrn));
  });
  router.get('/_sandbox/stats', (_req, res) => {
    res.json(state.stats());
  });
  router.post('/_sandbox/drop-connections', (_req, res) => {
    res.json({ dropped: state.dropConnections() });
  });
  router.post('/_sandbox/outage', express.json(), (req, res) => {
    const down = (req.body as { down?: unknown } | undefined)?.down;
    if (typeof down !== 'boolean') return void res.status(400).json({ error: 'body: {"down": boolean}' });
    state.setDown(down);
    res.json({ down: state.down });
  });
  return router;
}
