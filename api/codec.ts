import { createHash, timingSafeEqual } from 'node:crypto';
import express, { Router } from 'express';
import { z } from 'zod';
import type { Config } from '../lib/config.js';
import {
  PayloadEncryptionCodec,
  allowCodecOrigin,
  payloadFromJson,
  payloadToJson,
} from '../lib/payload-codec.js';
import { Problem, validationProblem } from './problems.js';

const payloadsBody = z.object({
  payloads: z
    .array(
      z.object({
        metadata: z.record(z.string(), z.string().max(1024)).nullish(),
        data: z.string().nullish(),
      }),
    )
    .max(1000),
});

/**
 * The codec endpoint (Temporal's codec server protocol): `POST /ops/codec/decode` and
 * `POST /ops/codec/encode`, bodies `{ "payloads": [proto3 JSON Payload…] }`. Payloads are
 * encrypted in Temporal (lib/payload-codec.ts); this decodes them only for a caller presenting
 * the operations codec key as `Authorization: Bearer <OPERATIONS_CODEC_KEY>`:
 *
 * - the `temporal` CLI: `--codec-endpoint <api>/ops/codec --codec-auth "Bearer <key>"`;
 * - the Temporal UI, through `passerelle codec-proxy` on the staff member's own machine (the UI's
 *   browser calls it; it adds the key the staff member holds and forwards here), because the UI
 *   passes only its own login's access token to a codec server, never a key of ours.
 *
 * Browsers may call it from OPERATIONS_CODEC_ORIGINS only (CORS), and only with the key.
 */
export function codecRoutes(config: Config): Router {
  const codec = new PayloadEncryptionCodec(config.TEMPORAL_PAYLOAD_KEYS, config.TEMPORAL_PAYLOAD_ACTIVE_KEY);
  // Compared as digests: equal length whatever was sent, in constant time.
  const expected = createHash('sha256').update(config.OPERATIONS_CODEC_KEY).digest();
  const origins = new Set(config.OPERATIONS_CODEC_ORIGINS);
  const router = Router();
  router.use((req, res, next) => {
    const allowed = allowCodecOrigin(req.header('origin'), origins, (name, value) =>
      res.setHeader(name, value),
    );
    if (req.method === 'OPTIONS') {
      res.status(allowed ? 204 : 403).end();
      return;
    }
    const given = /^Bearer\s+(\S+)\s*$/i.exec(req.header('authorization') ?? '')?.[1] ?? '';
    if (!timingSafeEqual(createHash('sha256').update(given).digest(), expected)) {
      throw new Problem(
        'unauthenticated',
        'Payloads are decoded only for operations staff: send "Authorization: Bearer <OPERATIONS_CODEC_KEY>"',
      );
    }
    next();
  });
  router.use(express.json({ limit: '4mb', type: () => true }));
  for (const direction of ['decode', 'encode'] as const) {
    router.post(`/${direction}`, async (req, res) => {
      const body = payloadsBody.safeParse(req.body);
      if (!body.success) throw validationProblem(body.error);
      const payloads = body.data.payloads.map(payloadFromJson);
      let converted;
      try {
        converted = await (direction === 'decode' ? codec.decode(payloads) : codec.encode(payloads));
      } catch (err) {
        throw new Problem('validation-error', (err as Error).message, { code: 'payload_not_decodable' });
      }
      res.json({ payloads: converted.map(payloadToJson) });
    });
  }
  return router;
}
