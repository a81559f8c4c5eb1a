import { z } from 'zod';
import {
  DEFAULT_RATE_LIMIT,
  addressList,
  callsPerSecond,
  milliseconds,
  seconds,
  url,
  withTrailingSlash,
  type OperatorDefinition,
  type OperatorSettings,
} from './settings.js';

const env = z.object({
  LIGDICASH_BASE_URL: url.optional(),
  LIGDICASH_API_KEY: z.string().min(1).default('sandbox-ligdicash-apikey'),
  LIGDICASH_API_TOKEN: z.string().min(1).default('sandbox-ligdicash-token'),
  /** How long a LigdiCash payin may stay open before we end it `expired`. */
  LIGDICASH_PAYIN_DEADLINE_SECONDS: seconds.default(900),
  LIGDICASH_POLL_INITIAL_SECONDS: seconds.default(5),
  /** The callback is the main channel; polling only catches a lost one, and an unpaid invoice is polled until its deadline. */
  LIGDICASH_POLL_MAX_SECONDS: seconds.default(300),
  LIGDICASH_HTTP_TIMEOUT_MS: milliseconds.default(15_000),
  /** How fast we call it: sends and confirmations, and background polls (docs/configuration.md). */
  LIGDICASH_SENDS_PER_SECOND: callsPerSecond.default(DEFAULT_RATE_LIMIT.sendsPerSecond),
  LIGDICASH_POLLS_PER_SECOND: callsPerSecond.default(DEFAULT_RATE_LIMIT.pollsPerSecond),
  /** Source addresses allowed to post LigdiCash callbacks; empty accepts any (LigdiCash publishes none). */
  LIGDICASH_CALLBACK_ALLOWED_IPS: addressList.default([]),
  /** How long we wait for a LigdiCash payout to end before leaving it `unknown` for reconciliation. */
  LIGDICASH_PAYOUT_DEADLINE_SECONDS: seconds.default(86_400),
});

export interface LigdicashSettings extends OperatorSettings {
  /** Ends with `/`; `redirect/checkout-invoice/create` and the others are under it. */
  baseUrl: string;
  apiKey: string;
  apiToken: string;
  /** The store LigdiCash shows the payer. */
  storeName: string;
  storeUrl: string;
}

/** LigdiCash (Burkina Faso and its neighbours): guide §1.5 lists the networks it carries. */
export const ligdicash: OperatorDefinition<typeof env, LigdicashSettings> = {
  label: 'LigdiCash',
  // Both bodies of each event are POSTed (form-urlencoded and JSON).
  callbackMethods: ['POST'],
  networks: {
    payin: ['orange_bf', 'moov_bf', 'orange_ci', 'moov_ci', 'mtn_ci', 'mtn_bj', 'moov_bj', 'orange_ml'],
    payout: ['orange_bf', 'moov_bf', 'orange_ci', 'moov_ci', 'mtn_ci', 'mtn_bj', 'moov_bj', 'orange_ml'],
  },
  // Our reading of the export a merchant downloads (LigdiCash documents none): its sandbox report's columns, and French headers.
  settlementFile: {
    columns: {
      ourReference: ['transaction_id', 'reference marchand', 'id transaction'],
      operatorReference: ['token', 'reference ligdicash', 'reference'],
      amount: ['montant', 'amount'],
      status: ['statut', 'status', 'etat'],
      date: ['date', 'date operation'],
      kind: ['type', 'type operation'],
      currency: ['devise', 'currency'],
    },
    payoutKinds: ['payout', 'retrait', 'withdrawal', 'remboursement'],
    currency: 'XOF',
  },
  env,
  connectionVariables: [
    'LIGDICASH_BASE_URL',
    'LIGDICASH_API_KEY',
    'LIGDICASH_API_TOKEN',
    'LIGDICASH_CALLBACK_ALLOWED_IPS',
  ],
  settings: (e, context) => ({
    baseUrl: withTrailingSlash(e.LIGDICASH_BASE_URL ?? `${context.sandboxUrl}/ligdicash/pay/v01/`),
    apiKey: e.LIGDICASH_API_KEY,
    apiToken: e.LIGDICASH_API_TOKEN,
    storeName: context.storeName,
    storeUrl: context.storeWebsiteUrl,
    httpTimeoutMs: e.LIGDICASH_HTTP_TIMEOUT_MS,
    rateLimit: { sendsPerSecond: e.LIGDICASH_SENDS_PER_SECOND, pollsPerSecond: e.LIGDICASH_POLLS_PER_SECOND },
    timing: {
      payinDeadlineSeconds: e.LIGDICASH_PAYIN_DEADLINE_SECONDS,
      payoutDeadlineSeconds: e.LIGDICASH_PAYOUT_DEADLINE_SECONDS,
      poll: { initialSeconds: e.LIGDICASH_POLL_INITIAL_SECONDS, maxSeconds: e.LIGDICASH_POLL_MAX_SECONDS },
    },
    callback: { allowedIps: e.LIGDICASH_CALLBACK_ALLOWED_IPS },
  }),
};
