import { createCipheriv, createDecipheriv, timingSafeEqual } from 'node:crypto';

/**
 * Where the switch's message authentication keys live. A real deployment puts them in a hardware
 * security module and implements this interface over its API (the MAC is computed inside, the
 * key never leaves it); `SoftwareHsm` keeps the key in memory, from configuration.
 */
export interface MacHsm {
  /** The 8-byte MAC of `data` (docs/gim-uemoa.md, "MAC"). */
  mac(data: Buffer): Promise<Buffer>;
}

/** Single DES on one block, through 2-key 3DES with K||K (OpenSSL 3 keeps plain DES in its legacy provider). */
function des(key: Buffer, block: Buffer, decrypt = false): Buffer {
  const doubled = Buffer.concat([key, key]);
  const cipher = decrypt
    ? createDecipheriv('des-ede-ecb', doubled, null).setAutoPadding(false)
    : createCipheriv('des-ede-ecb', doubled, null).setAutoPadding(false);
  return Buffer.concat([cipher.update(block), cipher.final()]);
}

/**
 * ISO 9797-1 MAC algorithm 3 (retail MAC) with padding method 2, under a double-length DES key
 * K1 || K2: DES-CBC under K1 from a zero IV, then the last block decrypted under K2 and encrypted
 * under K1.
 */
export function retailMac(key: Buffer, data: Buffer, padding: 1 | 2 = 2): Buffer {
  if (key.length !== 16) throw new Error('the MAC key is a double-length DES key (16 bytes)');
  const k1 = key.subarray(0, 8);
  const k2 = key.subarray(8, 16);
  // Method 2: 0x80 then zeros to a multiple of 8; method 1 (for known-answer tests): zeros only.
  const padded =
    padding === 2
      ? Buffer.concat([data, Buffer.from([0x80]), Buffer.alloc((8 - ((data.length + 1) % 8)) % 8)])
      : Buffer.concat([data, Buffer.alloc((8 - (data.length % 8)) % 8)]);
  let chain: Buffer = Buffer.alloc(8);
  for (let at = 0; at < padded.length; at += 8) {
    const block = Buffer.alloc(8);
    for (let i = 0; i < 8; i++) block[i] = padded[at + i]! ^ chain[i]!;
    chain = des(k1, block);
  }
  return des(k1, des(k2, chain, true));
}

export class SoftwareHsm implements MacHsm {
  private readonly key: Buffer;

  constructor(keyHex: string) {
    if (!/^[0-9a-fA-F]{32}$/.test(keyHex)) throw new Error('GIM_MAC_KEY must be 32 hex digits');
    this.key = Buffer.from(keyHex, 'hex');
  }

  mac(data: Buffer): Promise<Buffer> {
    return Promise.resolve(retailMac(this.key, data));
  }
}

/** Whether a received MAC is the one we compute, compared in constant time. */
export async function macVerifies(hsm: MacHsm, data: Buffer, given: Buffer | undefined): Promise<boolean> {
  if (!given || given.length !== 8) return false;
  return timingSafeEqual(await hsm.mac(data), given);
}
