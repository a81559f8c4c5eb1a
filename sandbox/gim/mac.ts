import { createCipheriv, createDecipheriv, timingSafeEqual } from 'node:crypto';

/**
 * The MAC of docs/gim-uemoa.md ("MAC"): ISO 9797-1 MAC algorithm 3 (the retail MAC, ANSI X9.19)
 * with padding method 2, under a double-length DES key K1 || K2. Every block is DES-CBC-encrypted
 * under K1 from a zero IV; the last result is DES-decrypted under K2 and DES-encrypted under K1.
 *
 * Node's OpenSSL 3 no longer offers single DES (`des-ecb`, `des-cbc`), but it still offers 2-key
 * triple DES: E(K1) D(K1) E(K1) = E(K1), so single DES under K is `des-ede-*` under K || K.
 */

const BLOCK = 8;
const ZERO_IV = Buffer.alloc(BLOCK);

/** A double-length key from its 32 hex digits (`GIM_MAC_KEY`). */
export function parseMacKey(hex: string): Buffer {
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new Error('a GIM MAC key is 32 hex digits (K1 || K2)');
  return Buffer.from(hex, 'hex');
}

/** ISO 9797-1 padding method 2: one 0x80 byte, then 0x00 bytes to a multiple of 8. */
export function padMethod2(data: Buffer): Buffer {
  const padded = Buffer.alloc((Math.floor(data.length / BLOCK) + 1) * BLOCK);
  data.copy(padded);
  padded[data.length] = 0x80;
  return padded;
}

function singleDes(key: Buffer): Buffer {
  return Buffer.concat([key, key]);
}

/** The retail MAC (8 bytes) of `data` under `key` (16 bytes). */
export function retailMac(key: Buffer, data: Buffer): Buffer {
  if (key.length !== 16) throw new Error('a GIM MAC key is 16 bytes (K1 || K2)');
  const k1 = singleDes(key.subarray(0, 8));
  const k2 = singleDes(key.subarray(8, 16));

  const cbc = createCipheriv('des-ede-cbc', k1, ZERO_IV).setAutoPadding(false);
  const chained = Buffer.concat([cbc.update(padMethod2(data)), cbc.final()]);
  const last = chained.subarray(chained.length - BLOCK);

  const d = createDecipheriv('des-ede-ecb', k2, null).setAutoPadding(false);
  const decrypted = Buffer.concat([d.update(last), d.final()]);
  const e = createCipheriv('des-ede-ecb', k1, null).setAutoPadding(false);
  return Buffer.concat([e.update(decrypted), e.final()]);
}

/** Whether `mac` is the retail MAC of `data` (constant-time comparison). */
export function macMatches(key: Buffer, data: Buffer, mac: Buffer): boolean {
  return mac.length === BLOCK && timingSafeEqual(retailMac(key, data), mac);
}
