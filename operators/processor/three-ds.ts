import { createHmac, timingSafeEqual } from 'node:crypto';
import {
  MESSAGE_VERSION,
  cresMessage,
  rreqBody,
  type ChallengeWindowSize,
  type Cres,
  type Creq,
  type Rreq,
} from './protocol.js';

/**
 * EMV 3-D Secure 2 helpers for the card processor's challenge (docs/card-processor.md, section 3):
 * pure functions, no I/O, so that the checkout, the callback intake and the tests share them.
 */

/** base64url (RFC 4648 §5), padding allowed: anything else is not one of ours. */
const BASE64URL = /^[A-Za-z0-9_-]+={0,2}$/;

/**
 * The `creq` form field our checkout's auto-submitted form posts to the ARes's `acsURL`: base64url,
 * without padding, of the CReq JSON.
 */
export function encodeCreq(fields: {
  threeDSServerTransID: string;
  acsTransID: string;
  messageVersion?: string;
  challengeWindowSize: ChallengeWindowSize;
}): string {
  const creq: Creq = {
    threeDSServerTransID: fields.threeDSServerTransID,
    acsTransID: fields.acsTransID,
    messageType: 'CReq',
    messageVersion: fields.messageVersion ?? MESSAGE_VERSION,
    challengeWindowSize: fields.challengeWindowSize,
  };
  return Buffer.from(JSON.stringify(creq), 'utf8').toString('base64url');
}

/** base64url JSON of an object, or undefined (Buffer's decoder would skip stray characters silently). */
function decodeBase64urlJson(text: string): unknown {
  const trimmed = text.trim();
  if (!BASE64URL.test(trimmed)) return undefined;
  try {
    return JSON.parse(Buffer.from(trimmed.replace(/=+$/, ''), 'base64url').toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * The `cres` field the payer's browser posted to our notificationURL, or undefined when it is not a
 * CRes. It only says that a challenge ended (anyone can post one): the RReq or
 * `GET /v1/authentications/{id}` say how.
 */
export function decodeCres(text: string): Cres | undefined {
  const parsed = cresMessage.safeParse(decodeBase64urlJson(text));
  return parsed.success ? parsed.data : undefined;
}

/** An RReq's raw body, parsed, or undefined (check its signature first: verifyResultsSignature). */
export function parseRreq(rawBody: string): Rreq | undefined {
  let json: unknown;
  try {
    json = JSON.parse(rawBody) as unknown;
  } catch {
    return undefined;
  }
  const parsed = rreqBody.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}

/**
 * Is `X-Processor-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">` the
 * processor's, for this body, signed within `toleranceSeconds` of `nowSeconds`? The body must be the
 * bytes as received (re-serialised JSON would differ). Several `v1` entries are accepted, any one
 * matching (a secret being rotated); `t` must appear once. Compared in constant time.
 */
export function verifyResultsSignature(
  rawBody: string,
  header: string | undefined,
  secret: string,
  nowSeconds: number,
  toleranceSeconds = 300,
): boolean {
  if (!header || !secret) return false;
  let t: string | undefined;
  const signatures: Buffer[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq === -1) return false;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') {
      if (t !== undefined || !/^\d{1,12}$/.test(value)) return false;
      t = value;
    } else if (key === 'v1') {
      if (!/^[0-9a-fA-F]{64}$/.test(value)) return false;
      signatures.push(Buffer.from(value, 'hex'));
    }
    // Other schemes (v0, …) are not ours to check: ignored.
  }
  if (t === undefined || signatures.length === 0) return false;
  // A replayed old RReq (or a clock far off) is refused: the window bounds what a captured one is worth.
  if (Math.abs(nowSeconds - Number(t)) > toleranceSeconds) return false;
  const expected = createHmac('sha256', Buffer.from(secret, 'utf8'))
    .update(`${t}.${rawBody}`, 'utf8')
    .digest();
  let match = false;
  // Every candidate is compared, a match or not: the time taken does not tell which one matched.
  for (const signature of signatures) if (timingSafeEqual(signature, expected)) match = true;
  return match;
}

/** EMV's `purchaseDate`: `YYYYMMDDHHMMSS` in UTC. */
export function purchaseDate(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new RangeError('purchaseDate: invalid date');
  const year = date.getUTCFullYear();
  if (year < 1000 || year > 9999) throw new RangeError(`purchaseDate: year ${year} is not four digits`);
  const two = (n: number) => String(n).padStart(2, '0');
  return (
    String(year) +
    two(date.getUTCMonth() + 1) +
    two(date.getUTCDate()) +
    two(date.getUTCHours()) +
    two(date.getUTCMinutes()) +
    two(date.getUTCSeconds())
  );
}
