import { z } from 'zod';
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

const env = z.object({
  PAYGATE_BASE_URL: url.optional(),
  PAYGATE_AUTH_TOKEN: z.string().min(1).default('sandbox-paygate-auth-token'),
  PAYGATE_PAYIN_DEADLINE_SECONDS: seconds.default(600),
  PAYGATE_PAYOUT_DEADLINE_SECONDS: seconds.default(86_400),
  PAYGATE_POLL_INITIAL_SECONDS: seconds.default(5),
  PAYGATE_POLL_MAX_SECONDS: seconds.default(300),
  PAYGATE_HTTP_TIMEOUT_MS: milliseconds.default(15_000),
  /** How fast we call it: sends and confirmations, and background polls (docs/configuration.md). */
  PAYGATE_SENDS_PER_SECOND: callsPerSecond.default(DEFAULT_RATE_LIMIT.sendsPerSecond),
  PAYGATE_POLLS_PER_SECOND: callsPerSecond.default(DEFAULT_RATE_LIMIT.pollsPerSecond),
  PAYGATE_CALLBACK_ALLOWED_IPS: addressList.default([]),
  /**
   * Opt-in to PayGateGlobal's hosted page (method 2) for redirect payins. Unsafe: its URL hands
   * our API key (which also authorises payouts) to every payer, with an amount they can edit.
   * Off (the default), redirect payers give their number on our page and pay by method 1.
   */
  PAYGATE_UNSAFE_HOSTED_PAGE: flag(false),
});

export interface PaygateSettings extends OperatorSettings {
  /** Ends with `/`; `api/v1/pay` and the others are under it. */
  baseUrl: string;
  /** The e-commerce API key ("auth_token"). */
  authToken: string;
  /** Send redirect payers to PayGateGlobal's own page (method 2): see PAYGATE_UNSAFE_HOSTED_PAGE. */
  unsafeHostedPage: boolean;
}

/** PayGateGlobal (Togo): Flooz (Moov Africa Togo) and TMoney through one API. */
export const paygate: OperatorDefinition<typeof env, PaygateSettings> = {
  label: 'PayGateGlobal',
  // A JSON POST.
  callbackMethods: ['POST'],
  networks: { payin: ['togocel_tg', 'moov_tg'], payout: ['togocel_tg', 'moov_tg'] },
  // Our reading of the dashboard's export (the document names none).
  settlementFile: {
    columns: {
      ourReference: ['identifier', 'identifiant', 'reference marchand'],
      operatorReference: ['tx_reference', 'reference paygate', 'reference'],
      amount: ['amount', 'montant'],
      status: ['status', 'statut'],
      date: ['datetime', 'date'],
      kind: ['type'],
    },
    payoutKinds: ['disbursement', 'disburse', 'retrait', 'payout'],
    currency: 'XOF',
  },
  env,
  connectionVariables: ['PAYGATE_BASE_URL', 'PAYGATE_AUTH_TOKEN', 'PAYGATE_CALLBACK_ALLOWED_IPS'],
  settings: (e, context) => ({
    baseUrl: withTrailingSlash(e.PAYGATE_BASE_URL ?? `${context.sandboxUrl}/paygate/`),
    authToken: e.PAYGATE_AUTH_TOKEN,
    unsafeHostedPage: e.PAYGATE_UNSAFE_HOSTED_PAGE,
    httpTimeoutMs: e.PAYGATE_HTTP_TIMEOUT_MS,
    rateLimit: { sendsPerSecond: e.PAYGATE_SENDS_PER_SECOND, pollsPerSecond: e.PAYGATE_POLLS_PER_SECOND },
    timing: {
      payinDeadlineSeconds: e.PAYGATE_PAYIN_DEADLINE_SECONDS,
      payoutDeadlineSeconds: e.PAYGATE_PAYOUT_DEADLINE_SECONDS,
      poll: { initialSeconds: e.PAYGATE_POLL_INITIAL_SECONDS, maxSeconds: e.PAYGATE_POLL_MAX_SECONDS },
    },
    callback: { allowedIps: e.PAYGATE_CALLBACK_ALLOWED_IPS },
  }),
  warnings: (s) =>
    s.unsafeHostedPage
      ? [
          "PAYGATE_UNSAFE_HOSTED_PAGE=true: redirect payers go to PayGateGlobal's page, whose URL carries our API key (which also authorises payouts) and an amount they can edit; such payins are credited only when the settlement report states their amount",
        ]
      : [],
};
