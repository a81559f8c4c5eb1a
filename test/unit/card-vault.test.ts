import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  cardBrand,
  cardFingerprint,
  cardSummary,
  luhnValid,
  openCard,
  parseKeyRing,
  rewrapCard,
  sealCard,
} from '../../lib/card-vault.js';

const key = () => randomBytes(32).toString('base64');
const FINGERPRINT = key();
const CARD = { pan: '4970100000000014', expiry: '2812' };

describe('card vault cryptography (envelope, AES-256-GCM)', () => {
  it('seals a card so that only its token and a key of the ring open it', () => {
    const ring = parseKeyRing(`k1:${key()}`, undefined, FINGERPRINT);
    const sealed = sealCard(ring, 'card_a', CARD);
    expect(sealed.kekId).toBe('k1');
    expect(sealed.wrappedKey).toHaveLength(60);
    expect(sealed.ciphertext.toString('latin1')).not.toContain(CARD.pan);
    expect(openCard(ring, 'card_a', sealed)).toEqual(CARD);
    // Bound to its token: a ciphertext copied to another card's row does not open.
    expect(() => openCard(ring, 'card_b', sealed)).toThrow();
    // A flipped byte does not open (GCM's tag).
    const tampered = { ...sealed, ciphertext: Buffer.from(sealed.ciphertext) };
    tampered.ciphertext[14]! ^= 1;
    expect(() => openCard(ring, 'card_a', tampered)).toThrow();
    // Another ring (a key of the same id but another value) does not open it either.
    expect(() => openCard(parseKeyRing(`k1:${key()}`, undefined, FINGERPRINT), 'card_a', sealed)).toThrow();
    // Two seals of the same card share nothing: a fresh data key and IVs each time.
    expect(sealCard(ring, 'card_a', CARD).ciphertext.equals(sealed.ciphertext)).toBe(false);
  });

  it('rotation re-wraps the data key under the active key, leaving the card data as it was', () => {
    const k1 = key();
    const old = parseKeyRing(`k1:${k1}`, undefined, FINGERPRINT);
    const sealed = sealCard(old, 'card_a', CARD);
    const both = parseKeyRing(`k1:${k1},k2:${key()}`, 'k2', FINGERPRINT);
    const rewrapped = rewrapCard(both, 'card_a', sealed);
    expect(rewrapped.kekId).toBe('k2');
    expect(rewrapped.ciphertext.equals(sealed.ciphertext)).toBe(true);
    expect(rewrapped.wrappedKey.equals(sealed.wrappedKey)).toBe(false);
    // Once re-wrapped, the old key can leave the ring.
    const onlyNew = parseKeyRing(`k2:${both.keys.get('k2')!.toString('base64')}`, undefined, FINGERPRINT);
    expect(openCard(onlyNew, 'card_a', rewrapped)).toEqual(CARD);
    expect(() => openCard(onlyNew, 'card_a', sealed)).toThrow('k1 is not in the ring');
  });

  it.each([
    ['', 'at least one key'],
    ['k1', 'id:base64'],
    [`k1:${Buffer.alloc(16).toString('base64')}`, 'not 32 bytes'],
    [`k1:${key()},k1:${key()}`, 'twice'],
  ])('refuses the key ring %j (%s)', (text, reason) => {
    expect(() => parseKeyRing(text, undefined, FINGERPRINT)).toThrow(reason);
  });

  it('refuses an active key that is not in the ring', () => {
    expect(() => parseKeyRing(`k1:${key()}`, 'k9', FINGERPRINT)).toThrow('k9 is not in the ring');
  });

  it('fingerprints a card the same way every time, without revealing it', () => {
    const ring = parseKeyRing(`k1:${key()}`, undefined, FINGERPRINT);
    expect(cardFingerprint(ring, CARD.pan).equals(cardFingerprint(ring, CARD.pan))).toBe(true);
    expect(cardFingerprint(ring, CARD.pan).equals(cardFingerprint(ring, '4970100000000022'))).toBe(false);
  });
});

describe('card numbers', () => {
  it.each([
    ['4970100000000014', true],
    ['4970100000000015', false],
    ['5555555555554444', true],
    ['6280000000000001', false],
    ['12345', false],
    ['4970 1000 0000 0014', false],
  ])('Luhn(%s) = %s', (pan, valid) => {
    expect(luhnValid(pan)).toBe(valid);
  });

  it.each([
    ['4970100000000014', 'visa'],
    ['5555555555554444', 'mastercard'],
    ['2221000000000009', 'mastercard'],
    ['2721000000000000', 'other'],
    ['6280001234567890', 'gim_uemoa'],
    ['6011000000000004', 'other'],
  ])('brand of %s is %s', (pan, brand) => {
    expect(cardBrand(pan, ['628000'])).toBe(brand);
  });

  it('a payment keeps the first six, the last four, the expiry and the brand: never the number', () => {
    expect(cardSummary('4970100000000014', '2812')).toEqual({
      firstSix: '497010',
      lastFour: '0014',
      expiry: '2812',
      brand: 'visa',
    });
  });
});
