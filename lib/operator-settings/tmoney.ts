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

/**
 * The notification token of development and tests, known to the sandbox's default notification
 * URL. Never accepted in production (the token is required there).
 */
export const DEV_TMONEY_NOTIFICATION_TOKEN = 'dev-tmoney-notification-0000000000';

const env = z.object({
  TMONEY_ONLINE_BASE_URL: url.optional(),
  TMONEY_MERCHANT_ID: z
    .string()
    .regex(/^\d{16}$/, 'must be the 16-digit TMoney merchant id')
    .default('2280000000000001'),
  TMONEY_BRAND: z.string().min(1).max(150).optional(),
  /** The online payment's session lifetime ("Le délai d'attente par défaut de l'identifiant de session est de 180 secondes"). */
  TMONEY_SESSION_SECONDS: seconds.default(180),
  /** Time after the session for its notification to arrive. */
  TMONEY_NOTIFICATION_GRACE_SECONDS: seconds.default(30),
  TMONEY_MBANKING_BASE_URL: url.optional(),
  TMONEY_MBANKING_USERNAME: z.string().min(1).default('sandbox-tmoney-partner'),
  /**
   * Which MBANKING credit (payout) to call: `v2` (POST JSON with a bearer token, the default) or
   * `v1`, the "ancienne version" the document keeps beside it (GET with the agent's id and
   * password, `trxcode`, `sms`, `email`), for partners whose account still has only v1.
   */
  TMONEY_MBANKING_CREDIT_VERSION: z.enum(['v1', 'v2']).default('v2'),
  TMONEY_MBANKING_V1_BASE_URL: url.optional(),
  /** "merchantid or agentid" of the v1 credit. */
  TMONEY_MBANKING_V1_AGENT_ID: z.string().min(1).default('2280000000000001'),
  TMONEY_MBANKING_V1_PASSWORD: z.string().min(1).default('sandbox-tmoney-v1-password'),
  /** The transaction code TMoney assigns the partner's credits (`trxcode`). */
  TMONEY_MBANKING_V1_TRXCODE: z.string().min(1).default('CASHIN'),
  TMONEY_MBANKING_PASSWORD: z.string().min(1).default('sandbox-tmoney-password'),
  /** How long a push-USSD debit waits for the payer. */
  TMONEY_PAYIN_DEADLINE_SECONDS: seconds.default(300),
  TMONEY_PAYOUT_DEADLINE_SECONDS: seconds.default(86_400),
  TMONEY_POLL_INITIAL_SECONDS: seconds.default(5),
  TMONEY_POLL_MAX_SECONDS: seconds.default(30),
  TMONEY_HTTP_TIMEOUT_MS: milliseconds.default(15_000),
  /** How fast we call it: sends and confirmations, and background polls (docs/configuration.md). */
  TMONEY_SENDS_PER_SECOND: callsPerSecond.default(DEFAULT_RATE_LIMIT.sendsPerSecond),
  TMONEY_POLLS_PER_SECOND: callsPerSecond.default(DEFAULT_RATE_LIMIT.pollsPerSecond),
  /**
   * Source addresses allowed to send TMoney notifications (TMoney recommends allowing its address
   * only). Required in production; the development default is this machine.
   */
  TMONEY_CALLBACK_ALLOWED_IPS: addressList.optional(),
  /**
   * The secret path segment of the notification URL registered in TMoney's back office
   * (`<PUBLIC_BASE_URL>/v1/callbacks/tmoney/<token>`): a notification without it is refused, so
   * that an address on the allow-list (a proxy on the same host) is not enough to forge one.
   * Required in production.
   */
  TMONEY_NOTIFICATION_TOKEN: z
    .string()
    .regex(/^[A-Za-z0-9_-]{24,128}$/, 'must be 24 to 128 URL-safe characters')
    .optional(),
});

export interface TmoneySettings extends OperatorSettings {
  /** Base of the online payment (…/online/online.php lives under it); ends with `/`. */
  onlineBaseUrl: string;
  /** "Identifiant du commerçant ... 16 chiffres". */
  merchantId: string;
  /** The name the online payment page shows. */
  brand: string;
  /** Base of the MBANKING v2 API (push-USSD debits, credits); ends with `/`. */
  mbankingBaseUrl: string;
  username: string;
  password: string;
  /** The credit (payout) call: v2, or the older v1 with its own credentials. */
  credit:
    | { version: 'v2' }
    | { version: 'v1'; baseUrl: string; agentId: string; password: string; trxcode: string };
  callback: OperatorSettings['callback'] & { token: string };
}

/** TMoney (Togocel, Togo): online payment and MBANKING v2. */
export const tmoney: OperatorDefinition<typeof env, TmoneySettings> = {
  label: 'TMoney',
  // Online payment notifications come by GET to the registered URL; POST kept for MBANKING's.
  callbackMethods: ['GET', 'POST'],
  networks: { payin: ['togocel_tg'], payout: ['togocel_tg'] },
  // Our reading of the back-office export (the document names none).
  settlementFile: {
    columns: {
      ourReference: ['purchaseref', 'refcommande', 'reference commande'],
      operatorReference: ['payid', 'reftmoney', 'reference tmoney'],
      amount: ['amount', 'montant'],
      status: ['status', 'statut'],
      date: ['timestamp', 'date'],
      kind: ['type'],
      currency: ['currency', 'devise'],
    },
    payoutKinds: ['credit'],
    currency: 'XOF',
  },
  env,
  connectionVariables: [
    'TMONEY_ONLINE_BASE_URL',
    'TMONEY_MERCHANT_ID',
    'TMONEY_BRAND',
    'TMONEY_MBANKING_BASE_URL',
    'TMONEY_MBANKING_USERNAME',
    'TMONEY_MBANKING_PASSWORD',
    'TMONEY_CALLBACK_ALLOWED_IPS',
    'TMONEY_NOTIFICATION_TOKEN',
  ],
  settings: (e, context) => ({
    onlineBaseUrl: withTrailingSlash(e.TMONEY_ONLINE_BASE_URL ?? `${context.sandboxUrl}/tmoney/`),
    merchantId: e.TMONEY_MERCHANT_ID,
    brand: e.TMONEY_BRAND ?? context.storeName,
    mbankingBaseUrl: withTrailingSlash(
      e.TMONEY_MBANKING_BASE_URL ?? `${context.sandboxUrl}/tmoney/mbanking/v2/`,
    ),
    username: e.TMONEY_MBANKING_USERNAME,
    password: e.TMONEY_MBANKING_PASSWORD,
    credit:
      e.TMONEY_MBANKING_CREDIT_VERSION === 'v1'
        ? {
            version: 'v1',
            baseUrl: withTrailingSlash(
              e.TMONEY_MBANKING_V1_BASE_URL ?? `${context.sandboxUrl}/tmoney/mbanking/v1/`,
            ),
            agentId: e.TMONEY_MBANKING_V1_AGENT_ID,
            password: e.TMONEY_MBANKING_V1_PASSWORD,
            trxcode: e.TMONEY_MBANKING_V1_TRXCODE,
          }
        : { version: 'v2' },
    httpTimeoutMs: e.TMONEY_HTTP_TIMEOUT_MS,
    rateLimit: { sendsPerSecond: e.TMONEY_SENDS_PER_SECOND, pollsPerSecond: e.TMONEY_POLLS_PER_SECOND },
    timing: {
      // The push-USSD debit lives as long as we wait for the payer; the online payment as long as its session.
      payinDeadlineSeconds: e.TMONEY_PAYIN_DEADLINE_SECONDS,
      payinDeadlineSecondsByMode: {
        redirect: e.TMONEY_SESSION_SECONDS + e.TMONEY_NOTIFICATION_GRACE_SECONDS,
      },
      payoutDeadlineSeconds: e.TMONEY_PAYOUT_DEADLINE_SECONDS,
      poll: { initialSeconds: e.TMONEY_POLL_INITIAL_SECONDS, maxSeconds: e.TMONEY_POLL_MAX_SECONDS },
    },
    callback: {
      allowedIps: e.TMONEY_CALLBACK_ALLOWED_IPS ?? ['127.0.0.1', '::1'],
      token: e.TMONEY_NOTIFICATION_TOKEN ?? DEV_TMONEY_NOTIFICATION_TOKEN,
    },
  }),
  // Production fails closed: no default for what authenticates a notification.
  requiredInProduction: (e) => [
    ...(e.TMONEY_CALLBACK_ALLOWED_IPS?.length ? [] : ['TMONEY_CALLBACK_ALLOWED_IPS']),
    ...(e.TMONEY_NOTIFICATION_TOKEN ? [] : ['TMONEY_NOTIFICATION_TOKEN']),
  ],
};
