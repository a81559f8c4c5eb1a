import { z } from 'zod';

/**
 * PayGateGlobal's protocol. Sources: ../shared/reference/paygateglobal-integration.md and the
 * PayGateGlobal section of operators-facts.md (community SDKs: `auth_token` in the JSON body,
 * `/api/v1/disburse`, status 200 = accepted).
 */
export const PAYGATE_PATHS = {
  pay: 'api/v1/pay',
  page: 'v1/page',
  statusByTxReference: 'api/v1/status',
  statusByIdentifier: 'api/v2/status',
  disburse: 'api/v1/disburse',
  checkBalance: 'api/v1/check-balance',
  /** The day's transactions (our reading: not in the document), for reconciliation. */
  transactions: 'api/v1/transactions',
} as const;

/** The API's network words (pay, disburse) and the hosted page's (MOOV, TOGOCEL). */
export const PAYGATE_NETWORKS = {
  moov_tg: { api: 'FLOOZ', page: 'MOOV' },
  togocel_tg: { api: 'TMONEY', page: 'TOGOCEL' },
} as const;

/**
 * Two enums with the same numbers (operators-facts.md): keep them apart.
 * Registration code, answered by /api/v1/pay: 0 registered, 2 invalid token, 4 invalid
 * parameters, 6 duplicate identifier.
 */
export const REGISTRATION = { registered: 0, invalidToken: 2, invalidParameters: 4, duplicate: 6 } as const;

/** Payment code, answered by /api/v1/status and /api/v2/status: 0 paid, 2 pending, 4 expired, 6 cancelled. */
export const PAYMENT_CODE = { paid: 0, pending: 2, expired: 4, cancelled: 6 } as const;

const code = z.union([z.number(), z.string()]).transform((v) => Number(v));
const text = z
  .union([z.string(), z.number(), z.null()])
  .optional()
  .transform((v) => (v === null || v === undefined ? undefined : String(v)));

export const payAnswer = z.object({ tx_reference: text, status: code });
export const statusAnswer = z.object({
  tx_reference: text,
  identifier: text,
  payment_reference: text,
  status: code,
  datetime: text,
  payment_method: text,
  amount: text,
});
export const disburseAnswer = z.object({ tx_reference: text, status: code, message: text });
export const balanceAnswer = z.object({ flooz: z.coerce.number(), tmoney: z.coerce.number() });
export const paygateCallback = z.object({
  tx_reference: text,
  identifier: z.string().min(1),
  payment_reference: text,
  amount: z.union([z.string(), z.number()]).transform(String),
  datetime: text,
  payment_method: text,
  phone_number: text,
});

export const reportLine = z.object({
  tx_reference: z.union([z.string(), z.number()]).transform(String),
  identifier: z.string().min(1),
  type: z.enum(['payment', 'disbursement']),
  amount: z.union([z.string(), z.number()]).transform(String),
  network: z.string().optional(),
  status: code,
  datetime: text,
});
