import { z } from 'zod';

/**
 * Orange Money WebPay's protocol. Sources: operators-facts.md, "Orange Money WebPay" (token,
 * webpayment, transactionstatus, notification). Cash-in, refund, balance and the transactions
 * report are our reading (Orange publishes none of them; docs/orange.md).
 */
export const ORANGE_PATHS = {
  token: 'oauth/v3/token',
  webpayment: (cc: string) => `orange-money-webpay/${cc}/v1/webpayment`,
  transactionStatus: (cc: string) => `orange-money-webpay/${cc}/v1/transactionstatus`,
  cashin: (cc: string) => `orange-money-webpay/${cc}/v1/cashin`,
  refund: (cc: string) => `orange-money-webpay/${cc}/v1/refund`,
  balance: (cc: string) => `orange-money-webpay/${cc}/v1/balance`,
  transactions: 'reports/v1/transactions',
} as const;

/** The country path and currency of Orange's development environment. */
export const ORANGE_DEV = { path: 'dev', currency: 'OUV' } as const;

/** transactionstatus words. */
export const ORANGE_STATUSES = ['INITIATED', 'PENDING', 'EXPIRED', 'SUCCESS', 'FAILED'] as const;

const text = z
  .union([z.string(), z.number(), z.null()])
  .optional()
  .transform((v) => (v === null || v === undefined ? undefined : String(v)));

export const tokenAnswer = z.object({
  access_token: z.string().min(1),
  expires_in: z.coerce.number().positive(),
});

/** `{status: 201, pay_token, payment_url, notif_token}`. */
export const webpaymentAnswer = z.object({
  status: text,
  message: text,
  pay_token: z.string().min(1),
  payment_url: z.url(),
  notif_token: z.string().min(1),
});

/** Cash-in and refund (our reading): `{status, order_id, pay_token, notif_token, txnid}`. */
export const transferAnswer = z.object({
  status: text,
  order_id: text,
  pay_token: z.string().min(1),
  notif_token: z.string().min(1),
  txnid: text,
});

export const statusAnswer = z.object({
  status: z.string().min(1),
  order_id: text,
  txnid: text,
});

/** An error body: `{code, message, description}` (API errors) or `{error, error_description}` (OAuth). */
export const errorAnswer = z.object({
  code: text,
  message: text,
  description: text,
  error: text,
  error_description: text,
});

export const orangeNotification = z.object({
  status: z.string().min(1),
  notif_token: z.string().min(1),
  txnid: text,
});

export const balanceAnswer = z.object({ balance: z.coerce.number(), currency: z.string() });
