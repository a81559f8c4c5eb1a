import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SoftwareHsm, macVerifies, retailMac } from '../../operators/gim/hsm.js';
import {
  FrameReader,
  GIM_FIELDS,
  IsoFormatError,
  describeMessage,
  frame,
  macFieldOf,
  packMessage,
  unpackMessage,
  type IsoMessage,
} from '../../operators/gim/iso8583.js';

/** docs/gim-uemoa.md is the specification: these tests hold the packer to it byte by byte. */
const AUTHORISATION: IsoMessage = {
  mti: '0100',
  fields: {
    2: '6280000000000001',
    3: '000000',
    4: '5000',
    7: '1206130501',
    11: '42',
    12: '130501',
    13: '1206',
    14: '2812',
    22: '010',
    32: '60001',
    37: '634000042007',
    41: 'PSL00001',
    42: 'MERCHANT0001',
    49: '952',
    64: Buffer.from('0102030405060708', 'hex'),
  },
};

describe('ISO 8583 packer (our GIM-UEMOA profile)', () => {
  it('writes an authorisation exactly as docs/gim-uemoa.md lays it out', () => {
    const bytes = packMessage(AUTHORISATION);
    // MTI, then the binary primary bitmap: fields 2 3 4 7 | 11 12 13 14 | 22 | 32 | 37 | 41 42 | 49 | 64.
    expect(bytes.subarray(0, 4).toString('ascii')).toBe('0100');
    expect(bytes.subarray(4, 12).toString('hex')).toBe('723c040108c08001');
    const text = bytes.subarray(12, bytes.length - 8).toString('ascii');
    expect(text).toBe(
      '16' +
        '6280000000000001' + // 2, LLVAR
        '000000' + // 3
        '000000005000' + // 4, n12 zero-padded
        '1206130501' + // 7
        '000042' + // 11
        '130501' + // 12
        '1206' + // 13
        '2812' + // 14
        '010' + // 22
        '05' +
        '60001' + // 32, LLVAR
        '634000042007' + // 37
        'PSL00001' + // 41
        'MERCHANT0001   ' + // 42, ans15 space-padded
        '952', // 49
    );
    expect(bytes.subarray(bytes.length - 8).toString('hex')).toBe('0102030405060708');
    expect(unpackMessage(bytes)).toEqual({
      ...AUTHORISATION,
      fields: { ...AUTHORISATION.fields, 4: '000000005000', 11: '000042', 42: 'MERCHANT0001' },
    });
  });

  it('adds the secondary bitmap (bit 1) for fields 65-128, and the MAC moves to 128', () => {
    const signOn: IsoMessage = {
      mti: '0800',
      fields: { 7: '1206130501', 11: '000001', 70: '001', 128: Buffer.alloc(8, 0xaa) },
    };
    expect(macFieldOf(signOn.fields)).toBe(128);
    expect(macFieldOf(AUTHORISATION.fields)).toBe(64);
    const bytes = packMessage(signOn);
    // Primary: bit 1 (secondary present), 7, 11. Secondary: 70, 128.
    expect(bytes.subarray(4, 20).toString('hex')).toBe('82200000000000000400000000000001');
    expect(unpackMessage(bytes)).toEqual(signOn);
  });

  it('round-trips any message of the profile', () => {
    const value = (field: number): fc.Arbitrary<string | Buffer> => {
      const { format } = GIM_FIELDS[field]!;
      switch (format.kind) {
        case 'b':
          return fc
            .uint8Array({ minLength: format.length, maxLength: format.length })
            .map((a) => Buffer.from(a));
        case 'n':
          return fc.stringMatching(new RegExp(`^\\d{${format.length}}$`));
        case 'llvar-n':
          return fc.stringMatching(new RegExp(`^\\d{0,${format.max}}$`));
        case 'an':
          return fc.stringMatching(new RegExp(`^[A-Za-z0-9]{0,${format.length - 1}}[A-Za-z0-9]$`));
        case 'ans':
          return fc.stringMatching(new RegExp(`^[\\x20-\\x7e]{0,${format.length - 1}}[\\x21-\\x7e]$`));
      }
    };
    const fieldNumbers = Object.keys(GIM_FIELDS).map(Number);
    const message = fc
      .record({
        mti: fc.stringMatching(/^\d{4}$/),
        chosen: fc.subarray(fieldNumbers, { minLength: 1 }),
      })
      .chain(({ mti, chosen }) =>
        fc.tuple(...chosen.map((f) => value(f).map((v) => [f, v] as const))).map((pairs) => ({
          mti,
          fields: Object.fromEntries(pairs),
        })),
      );
    fc.assert(
      fc.property(message, (m) => {
        expect(unpackMessage(packMessage(m))).toEqual(m);
      }),
      { numRuns: 500 },
    );
  });

  it.each([
    [{ mti: '100', fields: {} }, 'MTI'],
    [{ mti: '0100', fields: { 5: '1' } }, 'not in the profile'],
    [{ mti: '0100', fields: { 4: '1234567890123' } }, 'at most 12 digits'],
    [{ mti: '0100', fields: { 4: '12a' } }, 'digits'],
    [{ mti: '0100', fields: { 2: '12345678901234567890' } }, 'at most 19 digits'],
    [{ mti: '0100', fields: { 37: 'ABC-DEF' } }, 'an characters'],
    [{ mti: '0100', fields: { 41: 'é' } }, 'ans characters'],
    [{ mti: '0100', fields: { 64: Buffer.alloc(7) } }, '8 bytes'],
  ] as [IsoMessage, string][])('refuses to write %j (%s)', (message, reason) => {
    expect(() => packMessage(message)).toThrow(IsoFormatError);
    expect(() => packMessage(message)).toThrow(reason);
  });

  it('refuses to read what the profile does not allow', () => {
    const good = packMessage(AUTHORISATION);
    expect(() => unpackMessage(good.subarray(0, good.length - 1))).toThrow('ends inside field 64');
    expect(() => unpackMessage(Buffer.concat([good, Buffer.from('x')]))).toThrow('1 bytes after');
    const unknownField = Buffer.from(good);
    unknownField[4]! |= 0x08; // bit 5
    expect(() => unpackMessage(unknownField)).toThrow('field 5 is not in the profile');
    const badLength = Buffer.from(good);
    badLength.write('2', 12, 'ascii'); // LLVAR length 26 > 19
    expect(() => unpackMessage(badLength)).toThrow('at most 19');
  });

  it('frames with a 2-byte big-endian length, and reads frames split anyhow across chunks', () => {
    const a = packMessage(AUTHORISATION);
    const b = packMessage({ mti: '0800', fields: { 7: '1206130501', 11: '000002', 70: '301' } });
    const stream = Buffer.concat([frame(a), frame(b)]);
    expect(stream.readUInt16BE(0)).toBe(a.length);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: stream.length }), { maxLength: 6 }), (cuts) => {
        const reader = new FrameReader();
        const points = [...new Set(cuts)].sort((x, y) => x - y);
        let from = 0;
        const out: Buffer[] = [];
        for (const to of [...points, stream.length]) {
          out.push(...reader.push(stream.subarray(from, to)));
          from = to;
        }
        expect(out).toEqual([a, b]);
      }),
    );
  });

  it('never shows the PAN or the expiry in what it logs', () => {
    const described = JSON.stringify(describeMessage(AUTHORISATION));
    expect(described).not.toContain('6280000000000001');
    expect(described).not.toContain('2812');
    expect(described).toContain('628000…0001');
  });
});

describe('retail MAC (ISO 9797-1 algorithm 3)', () => {
  it('gives the published answers', () => {
    // The common known-answer vector: key 0123456789ABCDEF FEDCBA9876543210, "Now is the time for all ", padding 1.
    const key = Buffer.from('0123456789ABCDEFFEDCBA9876543210', 'hex');
    expect(retailMac(key, Buffer.from('Now is the time for all ', 'ascii'), 1).toString('hex')).toBe(
      'a1c72e74ea3fa9b6',
    );
    // With K1 = K2 it is the DES CBC-MAC: FIPS 81's CBC example (zero IV here) ends in the same block.
    const single = Buffer.from('0123456789abcdef0123456789abcdef', 'hex');
    const data = Buffer.from('Now is the time for all ', 'ascii');
    expect(retailMac(single, data, 1)).toHaveLength(8);
    // Padding method 2 always adds a block when the data fills whole blocks: another MAC.
    expect(retailMac(key, data)).not.toEqual(retailMac(key, data, 1));
  });

  it('verifies its own MACs and refuses a flipped bit or a missing MAC', async () => {
    const hsm = new SoftwareHsm('0123456789ABCDEFFEDCBA9876543210');
    const data = packMessage({ ...AUTHORISATION, fields: { ...AUTHORISATION.fields, 64: undefined } });
    const mac = await hsm.mac(data);
    expect(await macVerifies(hsm, data, mac)).toBe(true);
    const flipped = Buffer.from(mac);
    flipped[7]! ^= 1;
    expect(await macVerifies(hsm, data, flipped)).toBe(false);
    expect(await macVerifies(hsm, data, undefined)).toBe(false);
    expect(() => new SoftwareHsm('00')).toThrow('32 hex digits');
  });
});
