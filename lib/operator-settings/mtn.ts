import { z } from 'zod';
import type { CountryCode, Network } from '../networks.js';
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

/**
 * The countries where MTN Mobile Money's Open API serves us, with the `X-Target-Environment` of
 * each (MTN's names), the currency its wallets hold and our per-payment limits in minor units
 * (MTN publishes none for the API; these are its consumer wallet limits for a merchant payment,
 * rounded down: docs/mtn.md).
 */
export const MTN_COUNTRIES = {
  mtn_ci: { country: 'CI', targetEnvironment: 'mtnivorycoast', currency: 'XOF', min: 100, max: 1_500_000 },
  mtn_bj: { country: 'BJ', targetEnvironment: 'mtnbenin', currency: 'XOF', min: 100, max: 2_000_000 },
  mtn_cm: { country: 'CM', targetEnvironment: 'mtncameroon', currency: 'XAF', min: 100, max: 1_000_000 },
  mtn_gh: { country: 'GH', targetEnvironment: 'mtnghana', currency: 'GHS', min: 100, max: 1_000_000 },
  mtn_gn: {
    country: 'GN',
    targetEnvironment: 'mtnguineaconakry',
    currency: 'GNF',
    min: 1_000,
    max: 20_000_000,
  },
} as const satisfies Partial<
  Record<
    Network,
    { country: CountryCode; targetEnvironment: string; currency: string; min: number; max: number }
  >
>;

export type MtnNetwork = keyof typeof MTN_COUNTRIES;
const MTN_NETWORKS = Object.keys(MTN_COUNTRIES) as MtnNetwork[];

/** The API user the sandbox has from the start (MTN's own sandbox provisions one with POST /v1_0/apiuser). */
const SANDBOX_API_USER = '0f0b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d';

const env = z.object({
  /** MTN's gateway: `https://proxy.momoapi.mtn.com/` live, `https://sandbox.momodeveloper.mtn.com/` in MTN's sandbox. */
  MTN_BASE_URL: url.optional(),
  /** Each product has its own subscription key (Ocp-Apim-Subscription-Key), API user and API key. */
  MTN_COLLECTION_SUBSCRIPTION_KEY: z.string().min(1).default('sandbox-mtn-collection-key'),
  MTN_COLLECTION_API_USER: z.string().min(1).default(SANDBOX_API_USER),
  MTN_COLLECTION_API_KEY: z.string().min(1).default('sandbox-mtn-api-key'),
  MTN_DISBURSEMENT_SUBSCRIPTION_KEY: z.string().min(1).default('sandbox-mtn-disbursement-key'),
  MTN_DISBURSEMENT_API_USER: z.string().min(1).default(SANDBOX_API_USER),
  MTN_DISBURSEMENT_API_KEY: z.string().min(1).default('sandbox-mtn-api-key'),
  /** The payer has about five minutes to approve a request to pay on the phone. */
  MTN_PAYIN_DEADLINE_SECONDS: seconds.default(360),
  MTN_PAYOUT_DEADLINE_SECONDS: seconds.default(86_400),
  MTN_POLL_INITIAL_SECONDS: seconds.default(5),
  MTN_POLL_MAX_SECONDS: seconds.default(30),
  MTN_HTTP_TIMEOUT_MS: milliseconds.default(15_000),
  MTN_SENDS_PER_SECOND: callsPerSecond.default(DEFAULT_RATE_LIMIT.sendsPerSecond),
  MTN_POLLS_PER_SECOND: callsPerSecond.default(DEFAULT_RATE_LIMIT.pollsPerSecond),
  /** Optional: MTN's callback addresses. Its callbacks are unsigned hints; the status call decides. */
  MTN_CALLBACK_ALLOWED_IPS: addressList.default([]),
});

export interface MtnProductSettings {
  subscriptionKey: string;
  apiUser: string;
  apiKey: string;
}

export interface MtnSettings extends OperatorSettings {
  /** Ends with `/`: `collection/…`, `disbursement/…` are under it. */
  baseUrl: string;
  collection: MtnProductSettings;
  disbursement: MtnProductSettings;
}

/** MTN Mobile Money (CI, BJ, CM, GH, GN): collection (request to pay) and disbursement (transfer). */
export const mtn: OperatorDefinition<typeof env, MtnSettings> = {
  label: 'MTN MoMo',
  // MTN calls back once, with PUT (POST in some markets).
  callbackMethods: ['PUT', 'POST'],
  networks: { payin: MTN_NETWORKS, payout: MTN_NETWORKS },
  settlementFile: {
    columns: {
      ourReference: ['external_id', 'externalid', 'external id'],
      operatorReference: [
        'financial_transaction_id',
        'financialtransactionid',
        'transaction id',
        'reference_id',
      ],
      amount: ['amount', 'montant'],
      status: ['status', 'statut'],
      date: ['date'],
      kind: ['type'],
      currency: ['currency', 'devise'],
    },
    payoutKinds: ['disbursement', 'transfer', 'refund'],
    currency: 'XOF',
  },
  env,
  connectionVariables: [
    'MTN_BASE_URL',
    'MTN_COLLECTION_SUBSCRIPTION_KEY',
    'MTN_COLLECTION_API_USER',
    'MTN_COLLECTION_API_KEY',
    'MTN_DISBURSEMENT_SUBSCRIPTION_KEY',
    'MTN_DISBURSEMENT_API_USER',
    'MTN_DISBURSEMENT_API_KEY',
    'MTN_CALLBACK_ALLOWED_IPS',
  ],
  settings: (e, context) => ({
    baseUrl: withTrailingSlash(e.MTN_BASE_URL ?? `${context.sandboxUrl}/mtn/`),
    collection: {
      subscriptionKey: e.MTN_COLLECTION_SUBSCRIPTION_KEY,
      apiUser: e.MTN_COLLECTION_API_USER,
      apiKey: e.MTN_COLLECTION_API_KEY,
    },
    disbursement: {
      subscriptionKey: e.MTN_DISBURSEMENT_SUBSCRIPTION_KEY,
      apiUser: e.MTN_DISBURSEMENT_API_USER,
      apiKey: e.MTN_DISBURSEMENT_API_KEY,
    },
    httpTimeoutMs: e.MTN_HTTP_TIMEOUT_MS,
    rateLimit: { sendsPerSecond: e.MTN_SENDS_PER_SECOND, pollsPerSecond: e.MTN_POLLS_PER_SECOND },
    timing: {
      payinDeadlineSeconds: e.MTN_PAYIN_DEADLINE_SECONDS,
      payoutDeadlineSeconds: e.MTN_PAYOUT_DEADLINE_SECONDS,
      poll: { initialSeconds: e.MTN_POLL_INITIAL_SECONDS, maxSeconds: e.MTN_POLL_MAX_SECONDS },
    },
    callback: { allowedIps: e.MTN_CALLBACK_ALLOWED_IPS },
  }),
};
