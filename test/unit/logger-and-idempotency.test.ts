import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { canonicalJson, requestHash } from '../../api/idempotency.js';
import { maskPhone, redaction } from '../../lib/logger.js';

function capture(obj: Record<string, unknown>): string {
  let out = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out += chunk.toString();
      cb();
    },
  });
  pino({ redact: redaction }, sink).info(obj, 'test');
  return out;
}

describe('log redaction', () => {
  it('never writes secrets, OTPs, PINs or full phone numbers', () => {
    const line = capture({
      apiKey: 'sk_live_secret',
      token: 'eyJhbGciOi',
      otp: '123456',
      pin: '0000',
      customer: { phone: '+22670123456', name: 'Awa' },
      req: { headers: { authorization: 'Bearer sk_x', apikey: 'ligdi-key' } },
      phone: '22676275726',
    });
    for (const secret of [
      'sk_live_secret',
      'eyJhbGciOi',
      '123456',
      '"0000"',
      'Bearer sk_x',
      'ligdi-key',
      '22670123456',
      '22676275726',
    ]) {
      expect(line).not.toContain(secret);
    }
    expect(line).toContain('+226******56');
    expect(line).toContain('Awa');
  });

  it('masks numbers keeping the country code and two last digits', () => {
    expect(maskPhone('+22670123456')).toBe('+226******56');
    expect(maskPhone('22670123456')).toBe('226******56');
    expect(maskPhone('12')).toBe('***');
  });
});

describe('idempotency request hash', () => {
  it('ignores key order but not values', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, 2], c: null } })).toBe('{"a":{"c":null,"d":[1,2]},"b":1}');
    expect(requestHash('POST', '/v1/payins', { a: 1, b: 2 })).toBe(
      requestHash('POST', '/v1/payins', { b: 2, a: 1 }),
    );
    expect(requestHash('POST', '/v1/payins', { a: 1 })).not.toBe(requestHash('POST', '/v1/payins', { a: 2 }));
    expect(requestHash('POST', '/v1/payins', { a: 1 })).not.toBe(
      requestHash('POST', '/v1/payouts', { a: 1 }),
    );
  });
});
