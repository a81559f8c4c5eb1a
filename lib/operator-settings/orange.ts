import { z } from 'zod';
import type { CountryCode, Network } from '../networks.js';
import {
  DEFAULT_RATE_LIMIT,
  addressList,
  callsPerSecond,
  flag,
  milliseconds,
  seconds,
  url,
  withTrailingSlash,
  type OperatorDefinition,
  type OperatorSettings,
} from './settings.js';

/**
 * The countries where Orange Money WebPay takes payments, with the country code of its path
 * (`/orange-money-webpay/{cc}/v1/…`), the currency its wallets hold and our per-payment limits
 * (minor units). Orange publishes no limits for WebPay: these are the wallet limits its country
 * sites state for a merchant payment, rounded down (docs/orange.md). Orange Burkina is not on
 * WebPay (it takes payments by OTP through LigdiCash).
 */
export const ORANGE_COUNTRIES = {
  orange_ci: { country: 'CI', path: 'ci', currency: 'XOF', min: 100, max: 1_500_000 },
  orange_sn: { country: 'SN', path: 'sn', currency: 'XOF', min: 100, max: 2_000_000 },
  orange_ml: { country: 'ML', path: 'ml', currency: 'XOF', min: 100, max: 2_000_000 },
  orange_cm: { country: 'CM', path: 'cm', currency: 'XAF', min: 100, max: 1_000_000 },
  orange_gn: { country: 'GN', path: 'gn', currency: 'GNF', min: 1_000, max: 20_000_000 },
} as const satisfies Partial<
  Record<Network, { country: CountryCode; path: string; currency: string; min: number; max: number }>
>;

export type OrangeNetwork = keyof typeof ORANGE_COUNTRIES;
const ORANGE_NETWORKS = Object.keys(ORANGE_COUNTRIES) as OrangeNetwork[];

const env = z.object({
  /** Orange's API gateway (`https://api.orange.com/`): the token and every WebPay path are under it. */
  ORANGE_BASE_URL: url.optional(),
  ORANGE_CLIENT_ID: z.string().min(1).default('sandbox-orange-client-id'),
  ORANGE_CLIENT_SECRET: z.string().min(1).default('sandbox-orange-client-secret'),
  /** The merchant key of the Orange Money merchant account (`merchant_key`). */
  ORANGE_MERCHANT_KEY: z.string().min(1).default('sandbox-orange-merchant-key'),
  /**
   * Orange's development environment: every payment goes to the `dev` path in the test currency
   * `OUV`, whatever its country (the amount's digits are kept).
   */
  ORANGE_DEVELOPMENT: flag(false),
  ORANGE_PAYIN_DEADLINE_SECONDS: seconds.default(1_200),
  ORANGE_PAYOUT_DEADLINE_SECONDS: seconds.default(86_400),
  ORANGE_POLL_INITIAL_SECONDS: seconds.default(5),
  ORANGE_POLL_MAX_SECONDS: seconds.default(60),
  ORANGE_HTTP_TIMEOUT_MS: milliseconds.default(15_000),
  ORANGE_SENDS_PER_SECOND: callsPerSecond.default(DEFAULT_RATE_LIMIT.sendsPerSecond),
  ORANGE_POLLS_PER_SECOND: callsPerSecond.default(DEFAULT_RATE_LIMIT.pollsPerSecond),
  /** Optional: Orange's notification addresses. Its notifications are authenticated by their notif_token. */
  ORANGE_CALLBACK_ALLOWED_IPS: addressList.default([]),
});

export interface OrangeSettings extends OperatorSettings {
  /** Ends with `/`: `oauth/v3/token` and `orange-money-webpay/…` are under it. */
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  merchantKey: string;
  development: boolean;
  /** Where a payer goes back when the merchant gave no return or cancel URL (Orange requires both). */
  storeWebsiteUrl: string;
  /** The merchant name shown on Orange's page (`reference`). */
  storeName: string;
}

/** Orange Money WebPay (CI, SN, ML, CM, GN): payins on Orange's page; cash-in payouts and refunds (our reading). */
export const orange: OperatorDefinition<typeof env, OrangeSettings> = {
  label: 'Orange Money',
  // A JSON POST to the notif_url given with the payment.
  callbackMethods: ['POST'],
  callbackCarriesPaymentSecret: true,
  networks: { payin: ORANGE_NETWORKS, payout: ORANGE_NETWORKS },
  settlementFile: {
    columns: {
      ourReference: ['order_id', 'order id', 'reference commande'],
      operatorReference: ['txnid', 'transaction id', 'id transaction'],
      amount: ['amount', 'montant'],
      status: ['status', 'statut'],
      date: ['date'],
      kind: ['type'],
      currency: ['currency', 'devise'],
    },
    payoutKinds: ['cashin', 'refund', 'remboursement'],
    currency: 'XOF',
  },
  env,
  connectionVariables: [
    'ORANGE_BASE_URL',
    'ORANGE_CLIENT_ID',
    'ORANGE_CLIENT_SECRET',
    'ORANGE_MERCHANT_KEY',
    'ORANGE_CALLBACK_ALLOWED_IPS',
  ],
  settings: (e, context) => ({
    baseUrl: withTrailingSlash(e.ORANGE_BASE_URL ?? `${context.sandboxUrl}/orange/`),
    clientId: e.ORANGE_CLIENT_ID,
    clientSecret: e.ORANGE_CLIENT_SECRET,
    merchantKey: e.ORANGE_MERCHANT_KEY,
    development: e.ORANGE_DEVELOPMENT,
    storeWebsiteUrl: context.storeWebsiteUrl,
    storeName: context.storeName,
    httpTimeoutMs: e.ORANGE_HTTP_TIMEOUT_MS,
    rateLimit: { sendsPerSecond: e.ORANGE_SENDS_PER_SECOND, pollsPerSecond: e.ORANGE_POLLS_PER_SECOND },
    timing: {
      payinDeadlineSeconds: e.ORANGE_PAYIN_DEADLINE_SECONDS,
      payoutDeadlineSeconds: e.ORANGE_PAYOUT_DEADLINE_SECONDS,
      poll: { initialSeconds: e.ORANGE_POLL_INITIAL_SECONDS, maxSeconds: e.ORANGE_POLL_MAX_SECONDS },
    },
    callback: { allowedIps: e.ORANGE_CALLBACK_ALLOWED_IPS },
  }),
  warnings: (s) =>
    s.development
      ? ["ORANGE_DEVELOPMENT=true: Orange payments go to Orange's development environment (currency OUV)"]
      : [],
};
