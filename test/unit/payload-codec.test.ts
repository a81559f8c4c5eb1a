import { createCipheriv } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import proto from '@temporalio/proto';
import { describe, expect, it } from 'vitest';
import { PayloadEncryptionCodec, payloadFromJson, payloadToJson } from '../../lib/payload-codec.js';

const key = (fill: number) => Buffer.alloc(32, fill).toString('base64');
const OLD = `old:${key(1)}`;
const NEW = `new:${key(2)}`;
const card = { pan: '4970100000000014', phone: '+22670112233', amount: 5_000 };

describe('the Temporal payload codec (AES-256-GCM, key id in the metadata)', () => {
  it('encrypts every payload: nothing of the value is left in clear, and it decodes back', async () => {
    const codec = new PayloadEncryptionCodec(NEW);
    const plain = defaultPayloadConverter.toPayload(card);
    const [encrypted] = await codec.encode([plain]);
    const text = Buffer.from(proto.temporal.api.common.v1.Payload.encode(encrypted!).finish()).toString(
      'latin1',
    );
    expect(text).not.toContain(card.pan);
    expect(text).not.toContain('22670112233');
    expect(text).not.toContain('json/plain');
    expect(Buffer.from(encrypted!.metadata!['encoding']!).toString()).toBe('binary/encrypted');
    expect(Buffer.from(encrypted!.metadata!['encryption-key-id']!).toString()).toBe('new');
    expect(PayloadEncryptionCodec.isEncrypted(encrypted!)).toBe(true);
    const [decoded] = await codec.decode([encrypted!]);
    expect(defaultPayloadConverter.fromPayload(decoded!)).toEqual(card);
    // Two encryptions of one value differ (a fresh nonce each).
    const [again] = await codec.encode([plain]);
    expect(Buffer.from(again!.data!).equals(Buffer.from(encrypted!.data!))).toBe(false);
  });

  it('rotation: payloads under the old key still decode once the new key is active', async () => {
    const before = new PayloadEncryptionCodec(OLD);
    const [underOld] = await before.encode([defaultPayloadConverter.toPayload(card)]);
    const after = new PayloadEncryptionCodec(`${OLD},${NEW}`, 'new');
    expect(after.activeKeyId).toBe('new');
    const [underNew] = await after.encode([defaultPayloadConverter.toPayload(card)]);
    expect(Buffer.from(underNew!.metadata!['encryption-key-id']!).toString()).toBe('new');
    const decoded = await after.decode([underOld!, underNew!]);
    expect(decoded.map((p) => defaultPayloadConverter.fromPayload(p))).toEqual([card, card]);
    // The old key dropped too early: named in the error, never a silent wrong value.
    await expect(new PayloadEncryptionCodec(NEW).decode([underOld!])).rejects.toThrow(/key old/);
  });

  it('an altered payload or one under another key with the same id does not decode', async () => {
    const codec = new PayloadEncryptionCodec(NEW);
    const [encrypted] = await codec.encode([defaultPayloadConverter.toPayload(card)]);
    const altered = Buffer.from(encrypted!.data!);
    altered[20] = altered[20]! ^ 1;
    await expect(codec.decode([{ ...encrypted!, data: altered }])).rejects.toThrow(/does not authenticate/);
    await expect(new PayloadEncryptionCodec(`new:${key(3)}`).decode([encrypted!])).rejects.toThrow(
      /does not authenticate/,
    );
    await expect(codec.decode([{ ...encrypted!, data: altered.subarray(0, 20) }])).rejects.toThrow(
      /too short/,
    );
    await expect(
      codec.decode([{ metadata: { encoding: Buffer.from('binary/encrypted') }, data: altered }]),
    ).rejects.toThrow(/encryption-key-id/);
  });

  it('payloads written before encryption pass through decode unchanged', async () => {
    const plain = defaultPayloadConverter.toPayload({ paymentId: 'pay_1' });
    const [decoded] = await new PayloadEncryptionCodec(NEW).decode([plain]);
    expect(decoded).toBe(plain);
  });

  it('reads the format Temporal samples write: nonce, ciphertext of the whole Payload, tag', async () => {
    // Built by hand from the format's description, not by the codec.
    const original = defaultPayloadConverter.toPayload('hello');
    const iv = Buffer.alloc(12, 5);
    const cipher = createCipheriv('aes-256-gcm', Buffer.alloc(32, 2), iv);
    const body = Buffer.concat([
      cipher.update(proto.temporal.api.common.v1.Payload.encode(original).finish()),
      cipher.final(),
    ]);
    const sample = {
      metadata: { encoding: Buffer.from('binary/encrypted'), 'encryption-key-id': Buffer.from('new') },
      data: Buffer.concat([iv, body, cipher.getAuthTag()]),
    };
    const [decoded] = await new PayloadEncryptionCodec(NEW).decode([sample]);
    expect(defaultPayloadConverter.fromPayload(decoded!)).toBe('hello');
  });

  it('the codec server JSON form round-trips (proto3 JSON: bytes as base64)', async () => {
    const codec = new PayloadEncryptionCodec(NEW);
    const [encrypted] = await codec.encode([defaultPayloadConverter.toPayload(card)]);
    const json = JSON.parse(JSON.stringify(payloadToJson(encrypted!))) as Parameters<
      typeof payloadFromJson
    >[0];
    const [decoded] = await codec.decode([payloadFromJson(json)]);
    expect(defaultPayloadConverter.fromPayload(decoded!)).toEqual(card);
  });

  it('refuses a ring it cannot use', () => {
    expect(() => new PayloadEncryptionCodec('k:c2hvcnQ=')).toThrow(/32 bytes/);
    expect(() => new PayloadEncryptionCodec(NEW, 'missing')).toThrow(/not in the ring/);
  });
});
