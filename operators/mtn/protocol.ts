import { createHash } from 'node:crypto';
import { z } from 'zod';

/**
 * MTN Mobile Money Open API (momodeveloper.mtn.com; operators-facts.md): each product
 * (collection, disbursement) with its own subscription key, API user and token. The
 * transactions report is our reading (MTN has no report API; docs/mtn.md).
 */
export type MtnProduct = 'collection' | 'disbursement';

export const MTN_PATHS = {
  token: (product: MtnProduct) => `${product}/token/`,
  requestToPay: 'collection/v1_0/requesttopay',
  requestToPayStatus: (ref: string) => `collection/v1_0/requesttopay/${encodeURIComponent(ref)}`,
  transfer: 'disbursement/v1_0/transfer',
  transferStatus: (ref: string) => `disbursement/v1_0/transfer/${encodeURIComponent(ref)}`,
  balance: (product: MtnProduct) => `${product}/v1_0/account/balance`,
  transactions: 'reports/v1_0/transactions',
} as const;

/**
 * The `X-Reference-Id` of a payment: a UUID (version 4 layout) derived from our payment id, the
 * same for every send of that payment, so that MTN answers a repeat with 409 and never debits
 * or credits twice; and by which we can always ask MTN about it.
 */
export function mtnReferenceId(paymentId: string): string {
  const h = createHash('sha256').update(`mtn-momo:${paymentId}`).digest('hex');
  const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const text = z
  .union([z.string(), z.number(), z.null()])
  .optional()
  .transform((v) => (v === null || v === undefined ? undefined : String(v)));

export const tokenAnswer = z.object({
  access_token: z.string().min(1),
  expires_in: z.coerce.number().positive(),
});

const party = z.object({ partyIdType: text, partyId: text }).partial().optional();

/** `reason` is a word in MTN's answers, an object `{code, message}` in its API description: both are read. */
const reason = z
  .union([z.string(), z.object({ code: text, message: text }), z.null()])
  .optional()
  .transform((r) => (r === null || r === undefined ? undefined : typeof r === 'string' ? r : r.code));

/** What GET requesttopay/{ref} and transfer/{ref} answer, and what the callback carries. */
export const transactionAnswer = z.object({
  financialTransactionId: text,
  externalId: text,
  amount: text,
  currency: text,
  payer: party,
  payee: party,
  status: z.string().min(1),
  reason,
});

export const errorAnswer = z.object({ code: text, message: text }).partial();

export const balanceAnswer = z.object({ availableBalance: text, currency: text });
