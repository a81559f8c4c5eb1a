import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { canonicalJson, requestHash } from '../../api/idempotency.js';
import { errorSummary, maskPhone, redactUrl, redaction } from '../../lib/logger.js';

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

describe('URLs and errors in logs', () => {
  it('keep no payer number, name or callback token from a request URL', () => {
    const url =
      '/v1/callbacks/tmoney/dev-tmoney-notification-0000000000?purchaseref=pay_x&amount=3009&status=OK&mobile=22890112233&cname=Awa+K&clientid=77';
    const logged = redactUrl(url);
    expect(logged).not.toContain('22890112233');
    expect(logged).not.toContain('Awa');
    expect(logged).not.toContain('dev-tmoney-notification');
    expect(logged).toContain('purchaseref=pay_x');
    expect(logged).toContain('status=OK');
  });

  it("keep no hosted checkout page's token", () => {
    const token = 'hU89ZXwh4lsl5EryhsRINQEhmWBJQIGe';
    expect(redactUrl(`/pay/${token}`)).toBe('/pay/[REDACTED]');
    expect(redactUrl(`/pay/${token}/status`)).toBe('/pay/[REDACTED]/status');
    expect(redactUrl('/pay/assets/checkout.js')).toBe('/pay/assets/checkout.js');
  });

  it('keep no row values from a database error', () => {
    const err = Object.assign(new Error('duplicate key value violates unique constraint for 22670123456'), {
      code: '23505',
      detail: 'Key (phone)=(+22670123456) already exists.',
    });
    const summary = errorSummary(err);
    expect(JSON.stringify(summary)).not.toContain('22670123456');
    expect(summary).toMatchObject({ type: 'Error', code: '23505' });
    expect(summary).not.toHaveProperty('detail');
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
