import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, ValueError, type Payload, type PayloadCodec } from '@temporalio/common';
import proto from '@temporalio/proto';
import { parseAesKeys } from './card-vault.js';

/**
 * The Temporal payload codec (issue 19, "Card data"; DESIGN.md rule 10): every workflow and
 * activity payload (inputs, results, signals, queries, memos, failures' details) is encrypted with
 * AES-256-GCM before it leaves the process, so the Temporal server, its database and any exported
 * history hold no payment data in clear. The key id travels in the payload's metadata, so keys
 * rotate without re-encrypting history: add a key, make it active, keep the old one in the ring
 * for as long as histories encrypted under it are kept (the namespace's retention).
 *
 * The format is the one Temporal's samples use in every language, so their codec servers and ours
 * read each other's payloads given the key: metadata `encoding` = `binary/encrypted`,
 * `encryption-key-id` = the key's id, `encryption-cipher` = `AES/GCM/NoPadding`; data = 12-byte
 * nonce, the ciphertext of the whole original payload (protobuf `proto.temporal.api.common.v1.Payload`,
 * metadata included), the 16-byte tag. A payload without that encoding (histories written before
 * encryption, the recorded replay fixtures) passes through decode unchanged.
 */

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
const CIPHER_METADATA = 'encryption-cipher';
const CIPHER = 'AES/GCM/NoPadding';

const utf8 = (text: string) => Buffer.from(text, 'utf8');
const text = (bytes: Uint8Array | null | undefined) =>
  bytes ? Buffer.from(bytes).toString('utf8') : undefined;

export class PayloadEncryptionCodec implements PayloadCodec {
  private readonly keys: ReadonlyMap<string, Buffer>;
  private readonly activeId: string;

  /** `ring`: `id:base64key,…` (32-byte keys); `activeId`: the key new payloads use (default: the first). */
  constructor(ring: string, activeId?: string) {
    const parsed = parseAesKeys(ring, activeId);
    this.keys = parsed.keys;
    this.activeId = parsed.activeId;
  }

  get activeKeyId(): string {
    return this.activeId;
  }

  // Async for the interface; the work is synchronous (AES-GCM over a few kB).
  // eslint-disable-next-line @typescript-eslint/require-await
  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.encrypt(payload));
  }

  // eslint-disable-next-line @typescript-eslint/require-await
  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.decrypt(payload));
  }

  /** Whether a payload is one of ours, encrypted (what a scan of a history expects of every payload). */
  static isEncrypted(payload: Payload): boolean {
    return text(payload.metadata?.[METADATA_ENCODING_KEY]) === ENCRYPTED_ENCODING;
  }

  private encrypt(payload: Payload): Payload {
    const key = this.keys.get(this.activeId)!;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    const plain = proto.temporal.api.common.v1.Payload.encode(payload).finish();
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    return {
      metadata: {
        [METADATA_ENCODING_KEY]: utf8(ENCRYPTED_ENCODING),
        [KEY_ID_METADATA]: utf8(this.activeId),
        [CIPHER_METADATA]: utf8(CIPHER),
      },
      data: Buffer.concat([iv, body, cipher.getAuthTag()]),
    };
  }

  private decrypt(payload: Payload): Payload {
    if (!PayloadEncryptionCodec.isEncrypted(payload)) return payload;
    const keyId = text(payload.metadata?.[KEY_ID_METADATA]);
    if (!keyId) throw new ValueError('an encrypted payload without its encryption-key-id');
    const key = this.keys.get(keyId);
    if (!key) throw new ValueError(`payload encrypted under key ${keyId}, which is not in the ring`);
    const data = payload.data;
    if (!data || data.length < 28)
      throw new ValueError('an encrypted payload too short to hold nonce and tag');
    const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, 12));
    decipher.setAuthTag(data.subarray(data.length - 16));
    let plain: Buffer;
    try {
      plain = Buffer.concat([decipher.update(data.subarray(12, data.length - 16)), decipher.final()]);
    } catch {
      throw new ValueError(`payload under key ${keyId} does not authenticate (altered, or another key)`);
    }
    return proto.temporal.api.common.v1.Payload.decode(plain);
  }
}

/**
 * The CORS headers a codec server answers a browser (the Temporal UI) with: only for the origins
 * allowed, and `true` when the origin is one of them (an OPTIONS preflight is answered 204, else 403).
 */
export function allowCodecOrigin(
  origin: string | undefined,
  allowed: ReadonlySet<string>,
  setHeader: (name: string, value: string) => void,
): boolean {
  if (!origin || !allowed.has(origin)) return false;
  setHeader('Access-Control-Allow-Origin', origin);
  setHeader('Vary', 'Origin');
  setHeader('Access-Control-Allow-Credentials', 'true');
  setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
  setHeader('Access-Control-Allow-Headers', 'authorization, content-type, x-namespace');
  setHeader('Access-Control-Max-Age', '600');
  return true;
}

/** The codec server protocol's JSON form of a payload (proto3 JSON: bytes in base64). */
export interface JsonPayload {
  metadata?: Record<string, string> | null;
  data?: string | null;
}

export function payloadFromJson({ metadata, data }: JsonPayload): Payload {
  return {
    metadata: metadata
      ? Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, Buffer.from(v, 'base64')]))
      : undefined,
    data: data ? Buffer.from(data, 'base64') : undefined,
  };
}

export function payloadToJson({ metadata, data }: Payload): JsonPayload {
  return {
    metadata: metadata
      ? Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, Buffer.from(v).toString('base64')]))
      : undefined,
    data: data ? Buffer.from(data).toString('base64') : undefined,
  };
}

/** Every Temporal client and worker of ours converts payloads through this (the same ring everywhere). */
export function temporalDataConverter(config: {
  TEMPORAL_PAYLOAD_KEYS: string;
  TEMPORAL_PAYLOAD_ACTIVE_KEY?: string | undefined;
}): { payloadCodecs: PayloadCodec[] } {
  return {
    payloadCodecs: [
      new PayloadEncryptionCodec(config.TEMPORAL_PAYLOAD_KEYS, config.TEMPORAL_PAYLOAD_ACTIVE_KEY),
    ],
  };
}
