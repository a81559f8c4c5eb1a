import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  decodeCres,
  encodeCreq,
  parseRreq,
  purchaseDate,
  verifyResultsSignature,
} from '../../operators/processor/three-ds.js';

/** The card processor's 3-D Secure helpers (docs/card-processor.md, section 3). */

const IDS = {
  threeDSServerTransID: '8a880dc0-d2d2-4067-bcb1-b08d1690b26e',
  acsTransID: '0d3b1c86-2f5e-4f0e-9a51-6c1f0f2d5b7a',
};
const SECRET = 'sandbox-processor-webhook-secret';

const b64url = (value: unknown, padded = false) => {
  const text = Buffer.from(JSON.stringify(value)).toString('base64url');
  return padded ? text + '='.repeat((4 - (text.length % 4)) % 4) : text;
};

const sign = (body: string, t: number, secret = SECRET) =>
  `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;

describe('CReq', () => {
  it('is base64url JSON of the five fields, without padding', () => {
    const creq = encodeCreq({ ...IDS, messageVersion: '2.2.0', challengeWindowSize: '05' });
    expect(creq).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(JSON.parse(Buffer.from(creq, 'base64url').toString('utf8'))).toEqual({
      ...IDS,
      messageType: 'CReq',
      messageVersion: '2.2.0',
      challengeWindowSize: '05',
    });
  });

  it('defaults the message version to 2.2.0', () => {
    const creq = encodeCreq({ ...IDS, challengeWindowSize: '01' });
    expect(JSON.parse(Buffer.from(creq, 'base64url').toString('utf8'))).toMatchObject({
      messageVersion: '2.2.0',
      challengeWindowSize: '01',
    });
  });
});

describe('CRes', () => {
  const cres = {
    ...IDS,
    messageType: 'CRes',
    messageVersion: '2.2.0',
    transStatus: 'Y',
    challengeCompletionInd: 'Y',
  };

  it('decodes, with or without padding, ignoring fields it does not know', () => {
    expect(decodeCres(b64url(cres))).toEqual(cres);
    expect(decodeCres(b64url({ ...cres, transStatus: 'N' }, true))).toEqual({ ...cres, transStatus: 'N' });
    expect(decodeCres(b64url({ ...cres, extra: 'x' }))).toEqual(cres);
  });

  it('refuses what is not a CRes', () => {
    expect(decodeCres('')).toBeUndefined();
    expect(decodeCres('not base64!')).toBeUndefined();
    expect(decodeCres(Buffer.from('{"a":').toString('base64url'))).toBeUndefined();
    expect(decodeCres(b64url([cres]))).toBeUndefined();
    // A CReq is not a CRes; nor a CRes with a status a challenge cannot end in.
    expect(decodeCres(encodeCreq({ ...IDS, challengeWindowSize: '05' }))).toBeUndefined();
    expect(decodeCres(b64url({ ...cres, transStatus: 'A' }))).toBeUndefined();
    const { acsTransID: _dropped, ...withoutAcs } = cres;
    expect(decodeCres(b64url(withoutAcs))).toBeUndefined();
  });
});

describe('RReq signature', () => {
  const body = JSON.stringify({
    messageType: 'RReq',
    messageVersion: '2.2.0',
    ...IDS,
    dsTransID: 'c3e1f4a2-6b7d-4e8f-9a0b-1c2d3e4f5a6b',
    transStatus: 'Y',
    eci: '05',
    authenticationValue: 'q83vEjRWeJq83vEjRWeJq83vEjQ=',
    interactionCounter: '02',
  });
  const now = 1_738_318_500;

  it('accepts the processor’s signature within the tolerance', () => {
    expect(verifyResultsSignature(body, sign(body, now), SECRET, now)).toBe(true);
    expect(verifyResultsSignature(body, sign(body, now - 300), SECRET, now)).toBe(true);
    expect(verifyResultsSignature(body, sign(body, now + 300), SECRET, now)).toBe(true);
    expect(verifyResultsSignature(body, sign(body, now - 50), SECRET, now, 60)).toBe(true);
    // Spaces after the comma, and an extra v1 (a secret being rotated), are fine.
    const [t, v1] = sign(body, now).split(',');
    expect(verifyResultsSignature(body, `${t}, ${v1}`, SECRET, now)).toBe(true);
    expect(verifyResultsSignature(body, `${t},v1=${'0'.repeat(64)},${v1}`, SECRET, now)).toBe(true);
  });

  it('refuses another secret, an altered body, a stale or future t', () => {
    expect(verifyResultsSignature(body, sign(body, now, 'another-secret'), SECRET, now)).toBe(false);
    expect(verifyResultsSignature(body.replace('"Y"', '"N"'), sign(body, now), SECRET, now)).toBe(false);
    expect(verifyResultsSignature(`${body} `, sign(body, now), SECRET, now)).toBe(false);
    expect(verifyResultsSignature(body, sign(body, now - 301), SECRET, now)).toBe(false);
    expect(verifyResultsSignature(body, sign(body, now + 301), SECRET, now)).toBe(false);
    expect(verifyResultsSignature(body, sign(body, now - 61), SECRET, now, 60)).toBe(false);
    // The signature of another t, with this t: the t is signed too.
    const v1 = sign(body, now - 1).split(',')[1]!;
    expect(verifyResultsSignature(body, `t=${now},${v1}`, SECRET, now)).toBe(false);
  });

  it('refuses a missing or malformed header', () => {
    const good = sign(body, now);
    const v1 = good.split(',')[1]!;
    for (const header of [
      undefined,
      '',
      v1,
      `t=${now}`,
      `t=${now},v1=`,
      `t=${now},v1=${'zz'.repeat(32)}`,
      `t=${now},v1=${v1.slice(3, -2)}`,
      `t=${now},${v1}x`,
      `t=abc,${v1}`,
      `t=${now},t=${now},${v1}`,
      `t=${now};${v1}`,
      'garbage',
    ])
      expect(verifyResultsSignature(body, header, SECRET, now), String(header)).toBe(false);
    expect(verifyResultsSignature(body, good, '', now)).toBe(false);
  });

  it('parses the RReq it signs', () => {
    expect(parseRreq(body)).toMatchObject({ transStatus: 'Y', eci: '05', interactionCounter: '02' });
    expect(parseRreq('{')).toBeUndefined();
    expect(parseRreq(JSON.stringify({ messageType: 'RRes' }))).toBeUndefined();
  });
});

describe('purchaseDate', () => {
  it('is YYYYMMDDHHMMSS in UTC', () => {
    expect(purchaseDate(new Date('2025-01-31T10:15:00.000Z'))).toBe('20250131101500');
    expect(purchaseDate(new Date('2025-03-04T05:06:07.890Z'))).toBe('20250304050607');
    // A local time west of UTC late in the evening is already tomorrow in UTC.
    expect(purchaseDate(new Date('2024-12-31T23:59:59-02:00'))).toBe('20250101015959');
  });

  it('throws on an invalid date (a programming error)', () => {
    expect(() => purchaseDate(new Date('nope'))).toThrow(RangeError);
  });
});
