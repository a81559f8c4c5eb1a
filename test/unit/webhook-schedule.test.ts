import { describe, expect, it } from 'vitest';
import {
  DELIVERY_WINDOW_MS,
  LAST_DELIVERY_ATTEMPT,
  isNonPublicAddress,
  jitteredRetryDelayMs,
  lastDeliveryAttempt,
  nominalRetryDelayMs,
  webhookUrlProblem,
} from '../../lib/events.js';

const S = 1000;
const MIN = 60 * S;
const H = 60 * MIN;

describe('webhook retry schedule', () => {
  it('waits 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, then every 10 h, for at least three days', () => {
    const delays: number[] = [];
    for (let a = 1; nominalRetryDelayMs(a) !== undefined; a++) delays.push(nominalRetryDelayMs(a)!);
    expect(delays.slice(0, 7)).toEqual([5 * S, 5 * MIN, 30 * MIN, 2 * H, 5 * H, 10 * H, 10 * H]);
    expect(delays.slice(6).every((d) => d === 10 * H)).toBe(true);
    const total = delays.reduce((a, b) => a + b, 0);
    // The last attempt is past three days, and the one before it is not.
    expect(total).toBeGreaterThanOrEqual(DELIVERY_WINDOW_MS);
    expect(total - delays[delays.length - 1]!).toBeLessThan(DELIVERY_WINDOW_MS);
    expect(LAST_DELIVERY_ATTEMPT).toBe(delays.length + 1);
    expect(LAST_DELIVERY_ATTEMPT).toBe(13);
    expect(nominalRetryDelayMs(LAST_DELIVERY_ATTEMPT)).toBeUndefined();
  });

  it('jitters each delay by at most 10 %, never shorter', () => {
    for (let a = 1; a < LAST_DELIVERY_ATTEMPT; a++) {
      const nominal = nominalRetryDelayMs(a)!;
      expect(jitteredRetryDelayMs(a, 0)).toBe(nominal);
      expect(jitteredRetryDelayMs(a, 0.999_999)).toBeLessThanOrEqual(Math.round(nominal * 1.1));
      expect(jitteredRetryDelayMs(a, 0.5)).toBe(Math.round(nominal * 1.05));
    }
    expect(jitteredRetryDelayMs(LAST_DELIVERY_ATTEMPT, 0.5)).toBeUndefined();
  });
});

describe('webhook endpoint addresses', () => {
  it('knows loopback, private, link-local, shared and mapped addresses from public ones', () => {
    for (const a of [
      '127.0.0.1',
      '10.0.0.1',
      '172.16.5.4',
      '172.31.255.255',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      '::',
      'fe80::1',
      'fd00::1',
      '::ffff:127.0.0.1',
      '::ffff:10.1.1.1',
      '224.0.0.1',
      'not an address',
    ])
      expect(isNonPublicAddress(a), a).toBe(true);
    for (const a of ['8.8.8.8', '41.202.219.10', '172.32.0.1', '2001:4860:4860::8888', '::ffff:8.8.8.8'])
      expect(isNonPublicAddress(a), a).toBe(false);
  });

  it('refuses in live mode what it allows in test mode', () => {
    expect(webhookUrlProblem('http://127.0.0.1:8080/hook', false)).toBeUndefined();
    expect(webhookUrlProblem('http://localhost:8080/hook', false)).toBeUndefined();
    expect(webhookUrlProblem('https://127.0.0.1/hook', true)).toContain('private');
    expect(webhookUrlProblem('https://localhost/hook', true)).toContain('local');
    expect(webhookUrlProblem('http://shop.example/hook', true)).toContain('https');
    expect(webhookUrlProblem('https://shop.example/hook', true)).toBeUndefined();
    expect(webhookUrlProblem('ftp://shop.example/hook', false)).toBeDefined();
    expect(webhookUrlProblem('https://user:pw@shop.example/hook', true)).toContain('credentials');
    expect(webhookUrlProblem('/relative', false)).toContain('absolute');
  });
});

describe('a configured schedule', () => {
  it('repeats its last delay until an attempt comes after its window', () => {
    const schedule = { delaysMs: [1000, 2000, 3000], windowMs: 10_000 };
    const delays: number[] = [];
    for (let a = 1; nominalRetryDelayMs(a, schedule) !== undefined; a++)
      delays.push(nominalRetryDelayMs(a, schedule)!);
    // 1 + 2 + 3 + 3 = 9 s < 10 s, then one more: the last attempt comes at 12 s.
    expect(delays).toEqual([1000, 2000, 3000, 3000, 3000]);
    expect(lastDeliveryAttempt(schedule)).toBe(6);
  });
});
