import { macMatches, retailMac } from './mac.js';

/**
 * The simulator's own ISO 8583 codec, written from docs/gim-uemoa.md alone (it shares nothing
 * with operators/gim/: a simulator reusing the connector's codec could not catch its mistakes).
 *
 * Layout: MTI (4 ASCII digits) | primary bitmap (8 bytes, binary) | secondary bitmap (8 bytes,
 * when bit 1 is set) | data elements in ascending order. Bit 1 is the most significant bit of the
 * first bitmap byte. No field is BCD-packed: lengths and numbers are ASCII. On the wire each
 * message is preceded by its length, 2 bytes, unsigned, big-endian.
 */

export type FieldType = 'n' | 'an' | 'ans' | 'b';

export interface FieldSpec {
  name: string;
  type: FieldType;
  /** Exact length (fixed fields; bytes for `b`) or largest length (LLVAR). */
  length: number;
  /** 2 ASCII digits of length, then the value (`n ..N`). */
  llvar?: true;
}

/** Every data element of the profile ("Data elements"), by field number. */
export const GIM_FIELDS: Readonly<Record<number, FieldSpec>> = {
  2: { name: 'primary account number', type: 'n', length: 19, llvar: true },
  3: { name: 'processing code', type: 'n', length: 6 },
  4: { name: 'amount, transaction', type: 'n', length: 12 },
  7: { name: 'transmission date and time', type: 'n', length: 10 },
  11: { name: 'systems trace audit number', type: 'n', length: 6 },
  12: { name: 'time, local transaction', type: 'n', length: 6 },
  13: { name: 'date, local transaction', type: 'n', length: 4 },
  14: { name: 'date, expiration', type: 'n', length: 4 },
  22: { name: 'point of service entry mode', type: 'n', length: 3 },
  32: { name: 'acquiring institution identification', type: 'n', length: 11, llvar: true },
  37: { name: 'retrieval reference number', type: 'an', length: 12 },
  38: { name: 'authorisation identification response', type: 'an', length: 6 },
  39: { name: 'response code', type: 'an', length: 2 },
  41: { name: 'card acceptor terminal identification', type: 'ans', length: 8 },
  42: { name: 'card acceptor identification code', type: 'ans', length: 15 },
  49: { name: 'currency code, transaction', type: 'n', length: 3 },
  64: { name: 'message authentication code', type: 'b', length: 8 },
  70: { name: 'network management information code', type: 'n', length: 3 },
  90: { name: 'original data elements', type: 'n', length: 42 },
  128: { name: 'message authentication code', type: 'b', length: 8 },
};

export interface IsoMessage {
  mti: string;
  /** Text fields (`n`, `an`, `ans`), as on the wire (padding kept). */
  fields: Map<number, string>;
  /** Binary fields (`b 64`: the MAC in 64 or 128). */
  binary: Map<number, Buffer>;
}

export interface DecodedMessage extends IsoMessage {
  /** The message as received (without the 2 length bytes). */
  raw: Buffer;
  /** Where each field starts in `raw` (the MAC covers everything before its field). */
  offsets: Map<number, number>;
}

/** A message that does not follow the profile; carries whatever could be read before the fault. */
export class IsoFormatError extends Error {
  constructor(
    message: string,
    readonly mti: string | undefined,
    readonly partial: Map<number, string>,
  ) {
    super(message);
    this.name = 'IsoFormatError';
  }
}

const CONTENT: Record<Exclude<FieldType, 'b'>, RegExp> = {
  n: /^[0-9]*$/,
  // Letters or digits, left-justified, space-padded on the right.
  an: /^[A-Za-z0-9]* *$/,
  ans: /^[\x20-\x7E]*$/,
};

function spec(field: number): FieldSpec {
  const s = GIM_FIELDS[field];
  if (!s) throw new Error(`field ${field} is not in the GIM profile`);
  return s;
}

/** A text value as the field carries it: zero-padded on the left (`n`) or space-padded on the right. */
export function formatField(field: number, value: string): string {
  const s = spec(field);
  if (s.type === 'b') throw new Error(`field ${field} is binary`);
  if (!CONTENT[s.type].test(value)) throw new Error(`field ${field} (${s.type}): invalid content "${value}"`);
  if (value.length > s.length) throw new Error(`field ${field}: ${value.length} > ${s.length} characters`);
  if (s.llvar) return value;
  return s.type === 'n' ? value.padStart(s.length, '0') : value.padEnd(s.length, ' ');
}

/** MTI, bitmaps and fields (ascending); the secondary bitmap is there iff a field above 64 is. */
export function encodeMessage(message: IsoMessage): Buffer {
  if (!/^[0-9]{4}$/.test(message.mti)) throw new Error(`invalid MTI "${message.mti}"`);
  const numbers = [...new Set([...message.fields.keys(), ...message.binary.keys()])].sort((a, b) => a - b);
  const secondary = numbers.some((n) => n > 64);
  const bitmap = Buffer.alloc(secondary ? 16 : 8);
  if (secondary) bitmap[0] = 0x80;
  const parts: Buffer[] = [Buffer.from(message.mti, 'latin1'), bitmap];
  for (const n of numbers) {
    if (n < 2 || n > 128 || n === 65) throw new Error(`field ${n} cannot be sent`);
    const s = spec(n);
    bitmap[(n - 1) >> 3]! |= 0x80 >> ((n - 1) & 7);
    if (s.type === 'b') {
      const value = message.binary.get(n);
      if (!value || value.length !== s.length) throw new Error(`field ${n}: ${s.length} bytes expected`);
      parts.push(value);
    } else {
      const text = message.fields.get(n);
      if (text === undefined) throw new Error(`field ${n}: no value`);
      const value = formatField(n, text);
      parts.push(Buffer.from(s.llvar ? String(value.length).padStart(2, '0') + value : value, 'latin1'));
    }
  }
  return Buffer.concat(parts);
}

/** Decodes one message (without its 2 length bytes); throws IsoFormatError on any deviation. */
export function decodeMessage(raw: Buffer): DecodedMessage {
  const fields = new Map<number, string>();
  const binary = new Map<number, Buffer>();
  const offsets = new Map<number, number>();
  const mtiText = raw.subarray(0, 4).toString('latin1');
  const mti = /^[0-9]{4}$/.test(mtiText) ? mtiText : undefined;
  function fail(why: string): never {
    throw new IsoFormatError(why, mti, fields);
  }
  if (!mti) fail(`invalid MTI "${mtiText}"`);
  if (raw.length < 12) fail('message shorter than MTI + primary bitmap');
  const secondary = (raw[4]! & 0x80) !== 0;
  if (secondary && raw.length < 20) fail('bit 1 set but no secondary bitmap');
  const bitmap = raw.subarray(4, secondary ? 20 : 12);
  let at = 4 + bitmap.length;
  for (let n = 2; n <= bitmap.length * 8; n++) {
    if ((bitmap[(n - 1) >> 3]! & (0x80 >> ((n - 1) & 7))) === 0) continue;
    const s = GIM_FIELDS[n];
    if (!s) fail(`field ${n} is not in the GIM profile`);
    offsets.set(n, at);
    if (s.type === 'b') {
      if (at + s.length > raw.length) fail(`field ${n}: message ends inside the field`);
      binary.set(n, Buffer.from(raw.subarray(at, at + s.length)));
      at += s.length;
      continue;
    }
    let length = s.length;
    if (s.llvar) {
      const ll = raw.subarray(at, at + 2).toString('latin1');
      if (!/^[0-9]{2}$/.test(ll)) fail(`field ${n}: invalid LLVAR length "${ll}"`);
      length = Number(ll);
      if (length > s.length) fail(`field ${n}: length ${length} > ${s.length}`);
      at += 2;
    }
    if (at + length > raw.length) fail(`field ${n}: message ends inside the field`);
    const value = raw.subarray(at, at + length).toString('latin1');
    if (!CONTENT[s.type].test(value))
      fail(`field ${n} (${s.type}): invalid content ${JSON.stringify(value)}`);
    fields.set(n, value);
    at += length;
  }
  if (at !== raw.length) fail(`${raw.length - at} bytes after the last field`);
  // "64: when no secondary bitmap"; "128: when a secondary bitmap is present".
  if (secondary && binary.has(64)) fail('field 64 with a secondary bitmap (the MAC goes in 128)');
  return { mti, fields, binary, offsets, raw };
}

/** The MAC field a message carries: 128 when it has a secondary bitmap, 64 otherwise. */
export function macFieldOf(numbers: Iterable<number>): 64 | 128 {
  for (const n of numbers) if (n > 64) return 128;
  return 64;
}

/** Encodes with its MAC (field 64 or 128), the MAC's bit set in the bitmap before computing it. */
export function encodeSigned(mti: string, fields: Map<number, string>, key: Buffer): Buffer {
  const macField = macFieldOf(fields.keys());
  const bytes = encodeMessage({ mti, fields, binary: new Map([[macField, Buffer.alloc(8)]]) });
  // The MAC field is the last one either way (64 ends the primary-only layout; 128 is the last bit).
  retailMac(key, bytes.subarray(0, bytes.length - 8)).copy(bytes, bytes.length - 8);
  return bytes;
}

export type MacCheck = 'valid' | 'missing' | 'invalid';

/** Whether a received message's MAC (64 or 128) covers it correctly. */
export function checkMac(message: DecodedMessage, key: Buffer): MacCheck {
  const macField = message.binary.has(128) ? 128 : message.binary.has(64) ? 64 : undefined;
  if (macField === undefined) return 'missing';
  const at = message.offsets.get(macField)!;
  return macMatches(key, message.raw.subarray(0, at), message.binary.get(macField)!) ? 'valid' : 'invalid';
}

/** The 2-byte big-endian length, then the message. */
export function frame(message: Buffer): Buffer {
  if (message.length > 0xffff) throw new Error('message longer than 65,535 bytes');
  const header = Buffer.alloc(2);
  header.writeUInt16BE(message.length);
  return Buffer.concat([header, message]);
}

/** Cuts a TCP byte stream into messages (length prefixes removed). */
export class FrameReader {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const out: Buffer[] = [];
    while (this.pending.length >= 2) {
      const length = this.pending.readUInt16BE(0);
      if (this.pending.length < 2 + length) break;
      out.push(this.pending.subarray(2, 2 + length));
      this.pending = this.pending.subarray(2 + length);
    }
    return out;
  }
}

/** `MMDDhhmmss`, UTC (field 7). */
export function transmissionDateTime(now: Date = new Date()): string {
  const p = (v: number) => String(v).padStart(2, '0');
  return (
    p(now.getUTCMonth() + 1) +
    p(now.getUTCDate()) +
    p(now.getUTCHours()) +
    p(now.getUTCMinutes()) +
    p(now.getUTCSeconds())
  );
}
