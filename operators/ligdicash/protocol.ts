import { z } from 'zod';

/**
 * LigdiCash's wire protocol: paths, headers and the shapes of its answers and callbacks.
 * Sources: ../shared/reference/ligdicash-api-guide.md (§1.1.3 to §1.1.5),
 * ligdicash-api-complement.md, operators-facts.md ("LigdiCash").
 */
/** LigdiCash's test platform (operators-facts.md), which offers redirect payins only (guide §1.1.6-1.1.7). */
export const LIGDICASH_TEST_HOST = 'test.ligdicash.com';

export const LIGDICASH_PATHS = {
  redirectPayin: 'redirect/checkout-invoice/create',
  directPayin: 'straight/checkout-invoice/create',
  /** GET with ?invoiceToken=; the trailing slash before "?" is how the guide spells it. */
  payinStatus: 'redirect/checkout-invoice/confirm/',
  /** Client payout: to a LigdiCash account holder (guide §1.1.6). */
  clientPayout: 'withdrawal/create',
  /** Merchant payout: to any mobile money number, up to 1,000,000 XOF (guide §1.1.7). */
  merchantPayout: 'straight/payout',
  /** GET with ?withdrawalToken= (guide §1.1.8), for both payouts. */
  payoutStatus: 'withdrawal/confirm/',
} as const;

/** Body of both payout calls (complement, "Payout client" and "Payout marchand"). */
export interface LigdicashPayoutCommand {
  commande: {
    amount: number;
    devise: 'XOF';
    description: string;
    customer: string;
    callback_url: string;
    custom_data: { transaction_id: string };
    /** Client payout only; see mapping.ts for what 0 and 1 mean. */
    top_up_wallet?: 0 | 1;
  };
}

export interface LigdicashCredentials {
  apiKey: string;
  apiToken: string;
}

export function ligdicashHeaders({ apiKey, apiToken }: LigdicashCredentials): Record<string, string> {
  return {
    Apikey: apiKey,
    Authorization: `Bearer ${apiToken}`,
    Accept: 'application/json',
    'Content-Type': 'application/json',
  };
}

/** Body of both payin creation calls (`commande`), as the official SDKs send it. */
export interface LigdicashInvoiceCommand {
  commande: {
    invoice: {
      items: {
        name: string;
        description: string;
        quantity: number;
        unit_price: number;
        total_price: number;
      }[];
      total_amount: number;
      /** Spelled `devise` by both SDKs; the complement also shows `devises` and `devis`. */
      devise: 'XOF';
      description: string;
      /** "" for the redirect payin; the payer's number (22670000000) without redirect. */
      customer: string;
      customer_firstname: string;
      customer_lastname: string;
      customer_email: string;
      external_id: string;
      otp: string;
    };
    store: { name: string; website_url: string };
    actions: { cancel_url: string; return_url: string; callback_url: string };
    custom_data: { transaction_id: string };
  };
}

const codeString = z.union([z.string(), z.number()]).transform((v) => String(v).trim());
const optionalText = z
  .union([z.string(), z.number(), z.null()])
  .optional()
  .transform((v) => (v === null || v === undefined ? undefined : String(v)));

/** Answer to `checkout-invoice/create` (both modes). */
export const createInvoiceAnswer = z.object({
  response_code: codeString,
  token: optionalText,
  response_text: optionalText,
  description: optionalText,
});
export type CreateInvoiceAnswer = z.infer<typeof createInvoiceAnswer>;

/** `custom_data` comes back as an array of key/value rows, or (form callbacks) as that array in JSON. */
const customDataRows = z
  .array(
    z.object({
      keyof_customdata: z.string().optional(),
      valueof_customdata: z.union([z.string(), z.number(), z.null()]).optional(),
    }),
  )
  .catch([]);

export const customData = z.preprocess((value) => {
  if (typeof value === 'string') {
    try {
      return JSON.parse(value) as unknown;
    } catch {
      return [];
    }
  }
  // A plain object (as sent at creation) is also accepted.
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    return Object.entries(value).map(([k, v]) => ({ keyof_customdata: k, valueof_customdata: v as unknown }));
  }
  return value ?? [];
}, customDataRows);

export function customDataValue(rows: z.infer<typeof customDataRows>, key: string): string | undefined {
  const row = rows.find((r) => r.keyof_customdata === key);
  return row?.valueof_customdata === undefined || row.valueof_customdata === null
    ? undefined
    : String(row.valueof_customdata);
}

/** Answer to `checkout-invoice/confirm` (payin status) and `withdrawal/confirm` (payout status). */
export const invoiceStatusAnswer = z.object({
  response_code: codeString,
  token: optionalText,
  status: optionalText,
  response_text: optionalText,
  description: optionalText,
  // Both spellings occur: `amount` (complement) and `montant` (guide, callbacks).
  amount: optionalText,
  montant: optionalText,
  custom_data: customData.optional(),
  transaction_id: optionalText,
  operator_name: optionalText,
  operator_id: optionalText,
  customer: optionalText,
});
export type InvoiceStatusAnswer = z.infer<typeof invoiceStatusAnswer>;

/** Body of a payin callback, JSON or form-urlencoded (both are sent for every event). */
export const payinCallbackBody = z.object({
  date: optionalText,
  response_code: optionalText,
  response_text: optionalText,
  token: optionalText,
  montant: optionalText,
  amount: optionalText,
  status: optionalText,
  custom_data: customData.optional(),
  transaction_id: optionalText,
  operator_name: optionalText,
  operator_id: optionalText,
  external_id: optionalText,
  hash: optionalText,
});
