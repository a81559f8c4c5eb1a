import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

/**
 * The card vault's cryptography (issue 19, "Card data"): envelope encryption. Each card's data
 * (number and expiry, never the security code) is encrypted with AES-256-GCM under a data key of
 * its own; the data key is kept wrapped (AES-256-GCM) under a key-encryption key (KEK) from
 * configuration, named by its id. Rotating the KEK re-wraps data keys; the card data itself is
 * never decrypted for it. Pure: the database side is db/card-vault.ts.
 */

export interface KeyRing {
  /** KEK id -> 32-byte key. */
  keys: ReadonlyMap<string, Buffer>;
  /** The KEK new cards are wrapped under (and rotation re-wraps to). */
  activeId: string;
  /** Keyed hash of card numbers: the same card gives the same fingerprint, which reveals nothing. */
  fingerprintKey: Buffer;
}

/**
 * Parses a ring of AES-256 keys, `id:base64key,id2:base64key` (each key 32 bytes), and which one
 * is active (default: the first). The card vault and the Temporal payload codec both use it.
 */
export function parseAesKeys(
  text: string,
  activeId: string | undefined,
): { keys: Map<string, Buffer>; activeId: string } {
  const keys = new Map<string, Buffer>();
  for (const entry of text
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)) {
    const [id, encoded, extra] = entry.split(':');
    if (!id || !/^[\w-]{1,32}$/.test(id) || !encoded || extra !== undefined)
      throw new Error('each key is id:base64 (id: letters, digits, - or _)');
    const key = Buffer.from(encoded, 'base64');
    if (key.length !== 32) throw new Error(`key ${id} is not 32 bytes (AES-256)`);
    if (keys.has(id)) throw new Error(`key ${id} given twice`);
    keys.set(id, key);
  }
  const first = keys.keys().next().value;
  if (first === undefined) throw new Error('at least one key');
  const active = activeId ?? first;
  if (!keys.has(active)) throw new Error(`active key ${active} is not in the ring`);
  return { keys, activeId: active };
}

/** Parses `id:base64key,id2:base64key` (each key 32 bytes) and the fingerprint key (base64, 32 bytes). */
export function parseKeyRing(text: string, activeId: string | undefined, fingerprintKey: string): KeyRing {
  const { keys, activeId: active } = parseAesKeys(text, activeId);
  const fingerprint = Buffer.from(fingerprintKey, 'base64');
  if (fingerprint.length !== 32) throw new Error('the fingerprint key is not 32 bytes');
  return { keys, activeId: active, fingerprintKey: fingerprint };
}

export interface SealedCard {
  kekId: string;
  /** IV (12) + wrapped data key (32) + tag (16). */
  wrappedKey: Buffer;
  /** IV (12) + ciphertext + tag (16). */
  ciphertext: Buffer;
}

export interface CardSecret {
  pan: string;
  /** `YYMM`. */
  expiry: string;
}

function gcmSeal(key: Buffer, plaintext: Buffer, aad: string): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]);
}

function gcmOpen(key: Buffer, sealed: Buffer, aad: string): Buffer {
  if (sealed.length < 28) throw new Error('sealed value too short');
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, 12)).setAAD(
    Buffer.from(aad, 'utf8'),
  );
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  return Buffer.concat([decipher.update(sealed.subarray(12, sealed.length - 16)), decipher.final()]);
}

/** What a stored card's ciphertexts are bound to: a ciphertext moved to another token does not open. */
const dataAad = (token: string) => `card:${token}`;
const keyAad = (token: string, kekId: string) => `dek:${token}:${kekId}`;

/** Seals any secret under a data key of its own, wrapped under the active KEK; both bound to the token. */
function sealBytes(ring: KeyRing, token: string, plaintext: Buffer, aad: string): SealedCard {
  const dataKey = randomBytes(32);
  try {
    return {
      kekId: ring.activeId,
      wrappedKey: gcmSeal(ring.keys.get(ring.activeId)!, dataKey, keyAad(token, ring.activeId)),
      ciphertext: gcmSeal(dataKey, plaintext, aad),
    };
  } finally {
    dataKey.fill(0);
  }
}

function openBytes(ring: KeyRing, token: string, sealed: SealedCard, aad: string): Buffer {
  const kek = ring.keys.get(sealed.kekId);
  if (!kek) throw new Error(`key ${sealed.kekId} is not in the ring: the vaulted data cannot be opened`);
  const dataKey = gcmOpen(kek, sealed.wrappedKey, keyAad(token, sealed.kekId));
  try {
    return gcmOpen(dataKey, sealed.ciphertext, aad);
  } finally {
    dataKey.fill(0);
  }
}

export function sealCard(ring: KeyRing, token: string, card: CardSecret): SealedCard {
  return sealBytes(ring, token, Buffer.from(JSON.stringify(card), 'utf8'), dataAad(token));
}

export function openCard(ring: KeyRing, token: string, sealed: SealedCard): CardSecret {
  return JSON.parse(openBytes(ring, token, sealed, dataAad(token)).toString('utf8')) as CardSecret;
}

/**
 * The vault's other personal data (a phone number, an OTP, a callback's body; db/personal-vault.ts):
 * the same envelope as a card's, bound to its own token.
 */
const personalAad = (token: string) => `pd:${token}`;

export function sealPersonalData(ring: KeyRing, token: string, data: Buffer): SealedCard {
  return sealBytes(ring, token, data, personalAad(token));
}

export function openPersonalData(ring: KeyRing, token: string, sealed: SealedCard): Buffer {
  return openBytes(ring, token, sealed, personalAad(token));
}

/** The same data key (a card's or other personal data's), wrapped under the active KEK: what rotation writes. */
export function rewrapCard(ring: KeyRing, token: string, sealed: SealedCard): SealedCard {
  const kek = ring.keys.get(sealed.kekId);
  if (!kek) throw new Error(`key ${sealed.kekId} is not in the ring`);
  const dataKey = gcmOpen(kek, sealed.wrappedKey, keyAad(token, sealed.kekId));
  try {
    return {
      kekId: ring.activeId,
      wrappedKey: gcmSeal(ring.keys.get(ring.activeId)!, dataKey, keyAad(token, ring.activeId)),
      ciphertext: sealed.ciphertext,
    };
  } finally {
    dataKey.fill(0);
  }
}

export function cardFingerprint(ring: KeyRing, pan: string): Buffer {
  return createHmac('sha256', ring.fingerprintKey).update(pan).digest();
}

/** The Luhn check every card number passes. */
export function luhnValid(pan: string): boolean {
  if (!/^\d{12,19}$/.test(pan)) return false;
  let sum = 0;
  for (let i = 0; i < pan.length; i++) {
    let digit = Number(pan[pan.length - 1 - i]);
    if (i % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

export type CardBrand = 'visa' | 'mastercard' | 'gim_uemoa' | 'other';

/**
 * The brand by the card's first digits: Visa 4; Mastercard 51-55 and 2221-2720; GIM-UEMOA's
 * regional cards by the BINs given in configuration (its BIN list is not public).
 */
export function cardBrand(pan: string, gimBins: readonly string[] = []): CardBrand {
  if (gimBins.some((bin) => pan.startsWith(bin))) return 'gim_uemoa';
  if (pan.startsWith('4')) return 'visa';
  const two = Number(pan.slice(0, 2));
  const four = Number(pan.slice(0, 4));
  if ((two >= 51 && two <= 55) || (four >= 2221 && four <= 2720)) return 'mastercard';
  return 'other';
}

/** What a payment may keep of a card: never the number or the security code. */
export function cardSummary(pan: string, expiry: string, gimBins: readonly string[] = []) {
  return { firstSix: pan.slice(0, 6), lastFour: pan.slice(-4), expiry, brand: cardBrand(pan, gimBins) };
}
