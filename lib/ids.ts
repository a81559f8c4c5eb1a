import { createHash, randomBytes } from 'node:crypto';

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** 24 random base32 characters (120 bits): unguessable, URL-safe, case-insensitive. */
function randomBase32(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (let i = 0; i < length; i++) out += BASE32[bytes[i]! & 31];
  return out;
}

export type IdPrefix = 'pay' | 'mer' | 'key' | 'trf';

export function newId(prefix: IdPrefix): string {
  return `${prefix}_${randomBase32(24)}`;
}

/** A secret API key: `sk_` + 40 base32 characters (200 bits). Shown once, stored hashed. */
export function newApiKey(): string {
  return `sk_${randomBase32(40)}`;
}

export function hashApiKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}
