import { z } from 'zod';

/**
 * TMoney's two protocols. Source: ../shared/reference/tmoney-flooz-cross-operator.md.
 *
 * Online payment ("Ecommerce interface de paiement avec tmoney"): a session id obtained by GET
 * `online/online.php?merchantid=` answered in plain text (`OK:<id>` or `NOK:<reason>`), an order
 * form the payer's browser POSTs to `online/online.php`, and a notification sent by GET to the
 * notification URL configured at TMoney.
 *
 * MBANKING (version 2 field names): JWT authentication, credit (cash-in, our payouts), debit by
 * push USSD (our direct payins) and check-transaction. The document names the v2 credit fields
 * (idrequete, numeroClient, montant, refCommande, dateheureRequete, description -> code,
 * message, refTmoney) but not the paths, the debit/check fields or the codes: those below are our
 * reading, documented in docs/tmoney.md, and the sandbox implements the same reading.
 */
export const TMONEY_ONLINE_PATH = 'online/online.php';

export const MBANKING_PATHS = {
  token: 'auth/token',
  credit: 'credit',
  debit: 'debit',
  checkTransaction: 'check-transaction',
} as const;

/** "Code de la monnaie ... ISO 4217 (code numérique) : 952 pour F CFA". */
export const TMONEY_CURRENCY = '952';

/** The order form's fields, spelled as the document spells them (`phonennumber` included). */
export interface TmoneyOrderForm {
  sessionid: string;
  merchantid: string;
  amount: string;
  currency: string;
  purchaseref: string;
  phonennumber?: string;
  brand: string;
  description?: string;
  accepturl?: string;
  declineurl?: string;
  cancelurl?: string;
  text?: string;
  language?: string;
}

const text = z
  .union([z.string(), z.number()])
  .optional()
  .transform((v) => (v === undefined ? undefined : String(v)));

/** The notification's query string (GET), as TMoney sends it. */
export const tmoneyNotification = z.object({
  purchaseref: z.string().min(1),
  amount: z.string().min(1),
  currency: z.string().min(1),
  status: z.string().min(1),
  clientid: text,
  cname: text,
  mobile: text,
  paymentref: text,
  payid: text,
  timestamp: text,
  error: text,
});

export const mbankingTokenAnswer = z.object({
  access_token: z.string().min(1),
  token_type: z.string().optional(),
  expires_in: z.coerce.number().positive(),
});

export const mbankingAnswer = z.object({
  code: z.union([z.string(), z.number()]).transform(String),
  message: text,
  refTmoney: text,
  statut: text,
  montant: text,
});

/** MBANKING credit v1 ("ancienne version"): a GET under its own base; the path is our reading. */
export const MBANKING_V1_CREDIT_PATH = 'credit';

/** Its answer: the request's fields echoed, with `result` and `transactionid`. */
export const mbankingV1Answer = z.object({
  result: z.union([z.string(), z.number()]).transform(String),
  transactionid: text,
  referenceid: text,
  client: text,
  amount: text,
  currency: text,
  message: text,
});

/** Body of credit and debit (v2 field names). */
export interface MbankingOrder {
  idrequete: string;
  numeroClient: string;
  montant: number;
  refCommande: string;
  dateheureRequete: string;
  description: string;
}
