import { createHash, randomBytes } from 'node:crypto';

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** 24 random base32 characters (120 bits): unguessable, URL-safe, case-insensitive. */
function randomBase32(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (let i = 0; i < length; i++) out += BASE32[bytes[i]! & 31];
  return out;
}

export type IdPrefix = 'pay' | 'mer' | 'key' | 'trf' | 'upl' | 'we' | 'lnk' | 'card' | 'pd';

export function newId(prefix: IdPrefix): string {
  return `${prefix}_${randomBase32(24)}`;
}

/**
 * An id derived from a seed (same seed, same id): what a re-run or a concurrent repeat of the
 * same creation must find instead of creating a second one (a transfer's legs, a late refund).
 */
export function derivedId(prefix: IdPrefix, seed: string): string {
  const digest = createHash('sha256').update(seed).digest();
  let id = `${prefix}_`;
  for (let i = 0; i < 24; i++) id += BASE32[digest[i]! & 31];
  return id;
}

/**
 * A secret API key: `sk_` (or `sk_test_` / `sk_live_` for a key of a given mode) + 40 base32
 * characters (200 bits). Shown once, stored hashed.
 */
export function newApiKey(mode?: 'test' | 'live'): string {
  return `sk_${mode ? `${mode}_` : ''}${randomBase32(40)}`;
}

export function hashApiKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/**
 * The request id of one send of a payment to its operator (TMoney's `idrequete`): a UUID derived
 * from the payment and the attempt, so that every retry of the same attempt carries the same id
 * and the operator can recognise a repeat; a new attempt (after the operator confirmed it has no
 * such request) gets a new one.
 */
export function operatorRequestId(paymentId: string, attempt: number): string {
  const h = createHash('sha256').update(`${paymentId}:${attempt}`).digest('hex');
  // RFC 9562 layout, version 8 (custom), variant 10.
  const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
