/**
 * ISO 8583:1987 as our GIM-UEMOA profile writes it (docs/gim-uemoa.md): MTI in 4 ASCII digits,
 * binary bitmaps, ASCII fixed and LLVAR fields, an 8-byte binary MAC. Pure: no I/O.
 */

export type FieldFormat =
  | { kind: 'n'; length: number }
  | { kind: 'an'; length: number }
  | { kind: 'ans'; length: number }
  | { kind: 'llvar-n'; max: number }
  | { kind: 'b'; length: number };

/** The fields of the profile; any other field number is refused both ways. */
export const GIM_FIELDS: Readonly<Record<number, { name: string; format: FieldFormat }>> = {
  2: { name: 'primary account number', format: { kind: 'llvar-n', max: 19 } },
  3: { name: 'processing code', format: { kind: 'n', length: 6 } },
  4: { name: 'amount, transaction', format: { kind: 'n', length: 12 } },
  7: { name: 'transmission date and time', format: { kind: 'n', length: 10 } },
  11: { name: 'systems trace audit number', format: { kind: 'n', length: 6 } },
  12: { name: 'time, local transaction', format: { kind: 'n', length: 6 } },
  13: { name: 'date, local transaction', format: { kind: 'n', length: 4 } },
  14: { name: 'date, expiration', format: { kind: 'n', length: 4 } },
  22: { name: 'point of service entry mode', format: { kind: 'n', length: 3 } },
  32: { name: 'acquiring institution identification', format: { kind: 'llvar-n', max: 11 } },
  37: { name: 'retrieval reference number', format: { kind: 'an', length: 12 } },
  38: { name: 'authorisation identification response', format: { kind: 'an', length: 6 } },
  39: { name: 'response code', format: { kind: 'an', length: 2 } },
  41: { name: 'card acceptor terminal identification', format: { kind: 'ans', length: 8 } },
  42: { name: 'card acceptor identification code', format: { kind: 'ans', length: 15 } },
  49: { name: 'currency code, transaction', format: { kind: 'n', length: 3 } },
  64: { name: 'message authentication code', format: { kind: 'b', length: 8 } },
  70: { name: 'network management information code', format: { kind: 'n', length: 3 } },
  90: { name: 'original data elements', format: { kind: 'n', length: 42 } },
  128: { name: 'message authentication code', format: { kind: 'b', length: 8 } },
};

/** A message: its MTI and its fields (text fields as strings, binary ones as buffers). */
export interface IsoMessage {
  mti: string;
  fields: Partial<Record<number, string | Buffer>>;
}

export class IsoFormatError extends Error {
  override name = 'IsoFormatError';
}

const DIGITS = /^\d*$/;
const ALPHANUMERIC = /^[A-Za-z0-9 ]*$/;
const PRINTABLE = /^[\x20-\x7e]*$/;

function encodeField(field: number, value: string | Buffer): Buffer {
  const spec = GIM_FIELDS[field];
  if (!spec) throw new IsoFormatError(`field ${field} is not in the profile`);
  const { format } = spec;
  if (format.kind === 'b') {
    if (!Buffer.isBuffer(value) || value.length !== format.length)
      throw new IsoFormatError(`field ${field}: ${format.length} bytes expected`);
    return value;
  }
  if (typeof value !== 'string') throw new IsoFormatError(`field ${field}: text expected`);
  switch (format.kind) {
    case 'n':
      if (!DIGITS.test(value) || value.length > format.length)
        throw new IsoFormatError(`field ${field}: at most ${format.length} digits expected, got "${value}"`);
      return Buffer.from(value.padStart(format.length, '0'), 'ascii');
    case 'an':
    case 'ans': {
      const allowed = format.kind === 'an' ? ALPHANUMERIC : PRINTABLE;
      if (!allowed.test(value) || value.length > format.length)
        throw new IsoFormatError(
          `field ${field}: at most ${format.length} ${format.kind} characters expected`,
        );
      return Buffer.from(value.padEnd(format.length, ' '), 'ascii');
    }
    case 'llvar-n':
      if (!DIGITS.test(value) || value.length > format.max)
        throw new IsoFormatError(`field ${field}: at most ${format.max} digits expected`);
      return Buffer.from(`${String(value.length).padStart(2, '0')}${value}`, 'ascii');
  }
}

/** The bytes of a message (MTI through its last field), without the 2-byte length prefix. */
export function packMessage(message: IsoMessage): Buffer {
  if (!/^\d{4}$/.test(message.mti)) throw new IsoFormatError(`MTI must be 4 digits, got "${message.mti}"`);
  const present = Object.keys(message.fields)
    .map(Number)
    .filter((f) => message.fields[f] !== undefined)
    .sort((a, b) => a - b);
  const secondary = present.some((f) => f > 64);
  const bitmap = Buffer.alloc(secondary ? 16 : 8);
  if (secondary) bitmap[0]! |= 0x80;
  for (const field of present) {
    if (field < 2 || field > 128 || field === 65) throw new IsoFormatError(`field ${field} cannot be sent`);
    const bit = field - 1;
    bitmap[bit >> 3]! |= 0x80 >> (bit & 7);
  }
  return Buffer.concat([
    Buffer.from(message.mti, 'ascii'),
    bitmap,
    ...present.map((f) => encodeField(f, message.fields[f]!)),
  ]);
}

/** Reads a message's bytes (without the length prefix); refuses anything the profile does not allow. */
export function unpackMessage(bytes: Buffer): IsoMessage {
  let at = 0;
  const take = (n: number, what: string): Buffer => {
    if (at + n > bytes.length) throw new IsoFormatError(`message ends inside ${what}`);
    const out = bytes.subarray(at, at + n);
    at += n;
    return out;
  };
  const mti = take(4, 'the MTI').toString('ascii');
  if (!/^\d{4}$/.test(mti)) throw new IsoFormatError(`MTI must be 4 digits, got "${mti}"`);
  const primary = take(8, 'the primary bitmap');
  const bitmap = primary[0]! & 0x80 ? Buffer.concat([primary, take(8, 'the secondary bitmap')]) : primary;
  const fields: IsoMessage['fields'] = {};
  for (let bit = 1; bit < bitmap.length * 8; bit++) {
    if (!(bitmap[bit >> 3]! & (0x80 >> (bit & 7)))) continue;
    const field = bit + 1;
    const spec = GIM_FIELDS[field];
    if (!spec) throw new IsoFormatError(`field ${field} is not in the profile`);
    const { format } = spec;
    switch (format.kind) {
      case 'b':
        fields[field] = Buffer.from(take(format.length, `field ${field}`));
        break;
      case 'n':
      case 'an':
      case 'ans': {
        const text = take(format.length, `field ${field}`).toString('latin1');
        const allowed = format.kind === 'n' ? DIGITS : format.kind === 'an' ? ALPHANUMERIC : PRINTABLE;
        if (!allowed.test(text)) throw new IsoFormatError(`field ${field}: not ${format.kind}: "${text}"`);
        fields[field] = format.kind === 'n' ? text : text.replace(/ +$/, '');
        break;
      }
      case 'llvar-n': {
        const lengthText = take(2, `field ${field}'s length`).toString('latin1');
        if (!/^\d\d$/.test(lengthText))
          throw new IsoFormatError(`field ${field}: bad length "${lengthText}"`);
        const length = Number(lengthText);
        if (length > format.max)
          throw new IsoFormatError(`field ${field}: ${length} digits, at most ${format.max}`);
        const text = take(length, `field ${field}`).toString('latin1');
        if (!DIGITS.test(text)) throw new IsoFormatError(`field ${field}: not digits`);
        fields[field] = text;
        break;
      }
    }
  }
  if (at !== bytes.length) throw new IsoFormatError(`${bytes.length - at} bytes after the last field`);
  return { mti, fields };
}

/** The MAC field of a message: 128 when a secondary bitmap is present, 64 otherwise. */
export function macFieldOf(fields: IsoMessage['fields']): 64 | 128 {
  return Object.keys(fields).some((f) => Number(f) > 64 && Number(f) !== 128) ? 128 : 64;
}

/** The 2-byte big-endian length prefix and the message. */
export function frame(message: Buffer): Buffer {
  if (message.length > 0xffff) throw new IsoFormatError('message longer than 65,535 bytes');
  const prefix = Buffer.alloc(2);
  prefix.writeUInt16BE(message.length);
  return Buffer.concat([prefix, message]);
}

/**
 * Splits a TCP stream into messages: feed it chunks, it returns the complete messages so far and
 * keeps the rest.
 */
export class FrameReader {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const out: Buffer[] = [];
    while (this.pending.length >= 2) {
      const length = this.pending.readUInt16BE(0);
      if (this.pending.length < 2 + length) break;
      out.push(Buffer.from(this.pending.subarray(2, 2 + length)));
      this.pending = this.pending.subarray(2 + length);
    }
    return out;
  }
}

/** A field value for humans and logs: the PAN masked to its first six and last four digits. */
export function describeMessage(message: IsoMessage): Record<string, string> {
  const out: Record<string, string> = { mti: message.mti };
  for (const [field, value] of Object.entries(message.fields)) {
    if (value === undefined) continue;
    const f = Number(field);
    if (f === 2 && typeof value === 'string') out[field] = `${value.slice(0, 6)}…${value.slice(-4)}`;
    else if (f === 14) out[field] = '****';
    else out[field] = Buffer.isBuffer(value) ? value.toString('hex') : value;
  }
  return out;
}
