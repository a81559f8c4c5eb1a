import { isIP } from 'node:net';
import { z } from 'zod';

/** Thrown when the environment does not describe a usable configuration; names every bad variable. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const port = z.coerce.number().int().min(0).max(65535);
const seconds = z.coerce.number().positive();
const url = z.url();
const csv = z.string().transform((s) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean),
);
/** Addresses and subnets, comma-separated: `10.1.2.3, 172.16.0.0/12, ::1`. */
const addressList = csv.refine(
  (entries) =>
    entries.every((e) => {
      const [address, prefix, extra] = e.split('/');
      const family = isIP(address ?? '');
      const bits = family === 6 ? 128 : 32;
      return (
        family !== 0 &&
        extra === undefined &&
        (prefix === undefined || (/^\d+$/.test(prefix) && Number(prefix) <= bits))
      );
    }),
  'must be IP addresses or subnets (a.b.c.d/nn), comma-separated',
);

/**
 * Every setting Passerelle reads from its environment, with the default that makes a fresh clone
 * run end to end against the local sandbox.
 */
const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /**
   * Proxies in front of the API whose `X-Forwarded-For` is believed (Express's "trust proxy":
   * addresses or subnets, comma-separated, or `loopback`). Unset: the connection's own address is
   * the caller's, and a callback allow-list never sees through a proxy.
   */
  TRUST_PROXY: csv.optional(),
  /** Interface the API and the sandbox listen on (0.0.0.0 in containers). */
  HOST: z.string().min(1).default('127.0.0.1'),
  /** API listen port. */
  PORT: port.default(3000),
  /** Sandbox listen port (the operators' simulators). */
  SANDBOX_PORT: port.default(4000),
  /** Base URL at which operators reach our callback endpoints. Defaults to the local API. */
  PUBLIC_BASE_URL: url.optional(),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .default('postgres://postgres@127.0.0.1:5432/passerelle'),
  /** Connections for the API, and for the worker's main queue (initiations, sends, database steps). */
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  /** The worker's connections for status polls (their own, so polls never starve initiations). */
  POLLING_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(5),
  /** The worker's connections for sweeps and settlement reports (a report holds one while it streams). */
  RECONCILIATION_POOL_SIZE: z.coerce.number().int().min(1).max(50).default(3),
  /** Activity slots of the worker's main queue. */
  WORKER_ACTIVITY_SLOTS: z.coerce.number().int().min(1).max(10_000).default(100),
  /** Activity slots of the polling queue: polls mostly wait on operators. */
  WORKER_POLLING_SLOTS: z.coerce.number().int().min(1).max(10_000).default(200),
  /** Activity slots of the reconciliation queue. */
  WORKER_RECONCILIATION_SLOTS: z.coerce.number().int().min(1).max(100).default(2),
  /**
   * Whether the worker registers our search attributes at start (through the operator service,
   * which Temporal Cloud does not offer: there, register them once in the namespace and set false).
   */
  TEMPORAL_REGISTER_SEARCH_ATTRIBUTES: z
    .enum(['true', 'false'])
    .default('true')
    .transform((v) => v === 'true'),
  TEMPORAL_ADDRESS: z.string().min(1).default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('passerelle-payments'),
  TEMPORAL_UI_URL: url.default('http://127.0.0.1:8233'),
  /**
   * Workflows the worker keeps in memory (under 1 MB each). Waiting payins need no workflow
   * task until their callback or deadline, so evicting them costs one short replay then.
   */
  WORKER_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(2).max(100_000).default(1000),
  /** Workflow bundle built ahead of time by `workers/bundle.ts`; absent means bundle at start-up. */
  WORKFLOW_BUNDLE_PATH: z.string().optional(),
  /** How long a create call (payin, payout, refund) waits for the first step before answering 202. */
  INITIATION_WAIT_SECONDS: seconds.default(30),

  STORE_NAME: z.string().min(1).default('Passerelle'),
  STORE_WEBSITE_URL: url.default('http://127.0.0.1:3000'),

  LIGDICASH_BASE_URL: url.optional(),
  LIGDICASH_API_KEY: z.string().min(1).default('sandbox-ligdicash-apikey'),
  LIGDICASH_API_TOKEN: z.string().min(1).default('sandbox-ligdicash-token'),
  /** How long a LigdiCash payin may stay open before we end it `expired`. */
  LIGDICASH_PAYIN_DEADLINE_SECONDS: seconds.default(900),
  LIGDICASH_POLL_INITIAL_SECONDS: seconds.default(5),
  /** The callback is the main channel; polling only catches a lost one, and an unpaid invoice is polled until its deadline. */
  LIGDICASH_POLL_MAX_SECONDS: seconds.default(300),
  LIGDICASH_HTTP_TIMEOUT_MS: z.coerce.number().int().positive().default(15_000),
  /** Source addresses allowed to post LigdiCash callbacks; empty accepts any (LigdiCash publishes none). */
  LIGDICASH_CALLBACK_ALLOWED_IPS: addressList.default([]),
  /** How long we wait for a LigdiCash payout to end before leaving it `unknown` for reconciliation. */
  LIGDICASH_PAYOUT_DEADLINE_SECONDS: seconds.default(86_400),

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
  TMONEY_MBANKING_PASSWORD: z.string().min(1).default('sandbox-tmoney-password'),
  /** How long a push-USSD debit waits for the payer. */
  TMONEY_PAYIN_DEADLINE_SECONDS: seconds.default(300),
  TMONEY_PAYOUT_DEADLINE_SECONDS: seconds.default(86_400),
  TMONEY_POLL_INITIAL_SECONDS: seconds.default(5),
  TMONEY_POLL_MAX_SECONDS: seconds.default(30),
  TMONEY_HTTP_TIMEOUT_MS: z.coerce.number().int().positive().default(15_000),
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

  PAYGATE_BASE_URL: url.optional(),
  PAYGATE_AUTH_TOKEN: z.string().min(1).default('sandbox-paygate-auth-token'),
  PAYGATE_PAYIN_DEADLINE_SECONDS: seconds.default(600),
  PAYGATE_PAYOUT_DEADLINE_SECONDS: seconds.default(86_400),
  PAYGATE_POLL_INITIAL_SECONDS: seconds.default(5),
  PAYGATE_POLL_MAX_SECONDS: seconds.default(300),
  PAYGATE_HTTP_TIMEOUT_MS: z.coerce.number().int().positive().default(15_000),
  PAYGATE_CALLBACK_ALLOWED_IPS: addressList.default([]),
  /**
   * Opt-in to PayGateGlobal's hosted page (method 2) for redirect payins. Unsafe: its URL hands
   * our API key (which also authorises payouts) to every payer, with an amount they can edit.
   * Off (the default), redirect payers give their number on our page and pay by method 1.
   */
  PAYGATE_UNSAFE_HOSTED_PAGE: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true'),

  /** Transfers: waits before each new refund of a sender whose refund failed (seconds, comma-separated). */
  TRANSFER_REFUND_RETRY_SECONDS: z
    .string()
    .regex(/^\d+(,\d+)*$/, 'must be a comma-separated list of seconds')
    .default('60,300,1800,7200,21600')
    .transform((s) => s.split(',').map(Number)),
  /** Transfers: how often a leg of unknown outcome is looked up again, and for how long before review. */
  TRANSFER_RESOLUTION_CHECK_SECONDS: seconds.default(300),
  TRANSFER_RESOLUTION_MAX_SECONDS: seconds.default(7 * 86_400),

  /** Reconciliation: the sweep's period, and the hour (UTC) of the daily settlement run (for the day before). */
  SWEEP_INTERVAL_SECONDS: seconds.default(300),
  SWEEP_LOOKBACK_DAYS: z.coerce.number().int().min(1).default(7),
  SWEEP_BATCH: z.coerce.number().int().min(1).default(500),
  /** A payment the sweep looked at is looked at again after this many minutes. */
  SWEEP_RECHECK_MINUTES: z.coerce.number().int().min(0).default(15),
  SETTLEMENT_HOUR_UTC: z.coerce.number().int().min(0).max(23).default(2),
  /** Whether the worker creates or updates the reconciliation schedules when it starts. */
  SCHEDULES_ENABLED: z
    .enum(['true', 'false'])
    .default('true')
    .transform((v) => v === 'true'),
  /** Key for operations routes (reconciliation); unset: those routes answer 401. */
  ADMIN_API_KEY: z.string().min(16).optional(),
  /** Bearer token Prometheus sends to `GET /metrics` (the operations key works too); unset and no ADMIN_API_KEY: 401. */
  METRICS_TOKEN: z.string().min(16).optional(),

  /** Callbacks stored per minute from one source address; more are answered 429, not stored. */
  CALLBACK_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(6000),

  /** Route health: this many operator-side failures in a row open the circuit…*/
  CIRCUIT_FAILURE_THRESHOLD: z.coerce.number().int().min(1).default(5),
  /** …for this long, during which payins go to the next route. */
  CIRCUIT_COOLDOWN_SECONDS: seconds.default(60),
});

export type Env = z.infer<typeof envSchema>;

type DerivedUrls =
  | 'TMONEY_CALLBACK_ALLOWED_IPS'
  | 'TMONEY_NOTIFICATION_TOKEN'
  | 'PUBLIC_BASE_URL'
  | 'LIGDICASH_BASE_URL'
  | 'TMONEY_ONLINE_BASE_URL'
  | 'TMONEY_MBANKING_BASE_URL'
  | 'PAYGATE_BASE_URL'
  | 'TMONEY_BRAND';

export interface Config extends Omit<Env, DerivedUrls> {
  TMONEY_CALLBACK_ALLOWED_IPS: string[];
  TMONEY_NOTIFICATION_TOKEN: string;
  PUBLIC_BASE_URL: string;
  LIGDICASH_BASE_URL: string;
  TMONEY_ONLINE_BASE_URL: string;
  TMONEY_MBANKING_BASE_URL: string;
  PAYGATE_BASE_URL: string;
  TMONEY_BRAND: string;
}

/** What a payment workflow needs to know of its operator's timing. */
export interface OperatorTiming {
  payinDeadlineSeconds: number;
  payoutDeadlineSeconds: number;
  poll: { initialSeconds: number; maxSeconds: number };
}

export function operatorTiming(config: Config, operator: string, mode?: string): OperatorTiming {
  switch (operator) {
    case 'tmoney':
      return {
        // The online payment lives as long as its session; the push-USSD debit as long as we wait for the payer.
        payinDeadlineSeconds:
          mode === 'redirect'
            ? config.TMONEY_SESSION_SECONDS + config.TMONEY_NOTIFICATION_GRACE_SECONDS
            : config.TMONEY_PAYIN_DEADLINE_SECONDS,
        payoutDeadlineSeconds: config.TMONEY_PAYOUT_DEADLINE_SECONDS,
        poll: {
          initialSeconds: config.TMONEY_POLL_INITIAL_SECONDS,
          maxSeconds: config.TMONEY_POLL_MAX_SECONDS,
        },
      };
    case 'paygate':
      return {
        payinDeadlineSeconds: config.PAYGATE_PAYIN_DEADLINE_SECONDS,
        payoutDeadlineSeconds: config.PAYGATE_PAYOUT_DEADLINE_SECONDS,
        poll: {
          initialSeconds: config.PAYGATE_POLL_INITIAL_SECONDS,
          maxSeconds: config.PAYGATE_POLL_MAX_SECONDS,
        },
      };
    default:
      return {
        payinDeadlineSeconds: config.LIGDICASH_PAYIN_DEADLINE_SECONDS,
        payoutDeadlineSeconds: config.LIGDICASH_PAYOUT_DEADLINE_SECONDS,
        poll: {
          initialSeconds: config.LIGDICASH_POLL_INITIAL_SECONDS,
          maxSeconds: config.LIGDICASH_POLL_MAX_SECONDS,
        },
      };
  }
}

/** The secret token an operator's callback URL must carry, for operators that have one. */
export function callbackToken(config: Config, operator: string): string | undefined {
  return operator === 'tmoney' ? config.TMONEY_NOTIFICATION_TOKEN : undefined;
}

export function callbackAllowedIps(config: Config, operator: string): string[] {
  switch (operator) {
    case 'tmoney':
      return config.TMONEY_CALLBACK_ALLOWED_IPS;
    case 'paygate':
      return config.PAYGATE_CALLBACK_ALLOWED_IPS;
    default:
      return config.LIGDICASH_CALLBACK_ALLOWED_IPS;
  }
}

/**
 * The notification token of development and tests, known to the sandbox's default notification
 * URL. Never accepted in production (the token is required there).
 */
export const DEV_TMONEY_NOTIFICATION_TOKEN = 'dev-tmoney-notification-0000000000';

/** What an operations person must hear about a configuration that runs but takes a risk. */
export function configWarnings(config: Config): string[] {
  return config.PAYGATE_UNSAFE_HOSTED_PAGE
    ? [
        "PAYGATE_UNSAFE_HOSTED_PAGE=true: redirect payers go to PayGateGlobal's page, whose URL carries our API key (which also authorises payouts) and an amount they can edit; such payins are credited only when the settlement report states their amount",
      ]
    : [];
}

/** Reads and validates the configuration; throws ConfigError naming each bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings mean "not set", as in most .env tooling.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const name = issue.path.join('.');
        const value = cleaned[name];
        return `${name}: ${issue.message}${value === undefined ? '' : ` (got "${value}")`}`;
      }),
    );
  }
  const e = parsed.data;
  // Production fails closed: no default for what authenticates a callback.
  if (e.NODE_ENV === 'production') {
    const missing = [
      ...(e.TMONEY_CALLBACK_ALLOWED_IPS?.length ? [] : ['TMONEY_CALLBACK_ALLOWED_IPS']),
      ...(e.TMONEY_NOTIFICATION_TOKEN ? [] : ['TMONEY_NOTIFICATION_TOKEN']),
    ];
    if (missing.length) {
      throw new ConfigError(missing.map((name) => `${name}: required when NODE_ENV=production`));
    }
  }
  const sandbox = `http://127.0.0.1:${e.SANDBOX_PORT}`;
  return {
    ...e,
    TMONEY_CALLBACK_ALLOWED_IPS: e.TMONEY_CALLBACK_ALLOWED_IPS ?? ['127.0.0.1', '::1'],
    TMONEY_NOTIFICATION_TOKEN: e.TMONEY_NOTIFICATION_TOKEN ?? DEV_TMONEY_NOTIFICATION_TOKEN,
    PUBLIC_BASE_URL: e.PUBLIC_BASE_URL ?? `http://127.0.0.1:${e.PORT}`,
    LIGDICASH_BASE_URL: withTrailingSlash(e.LIGDICASH_BASE_URL ?? `${sandbox}/ligdicash/pay/v01/`),
    TMONEY_ONLINE_BASE_URL: withTrailingSlash(e.TMONEY_ONLINE_BASE_URL ?? `${sandbox}/tmoney/`),
    TMONEY_MBANKING_BASE_URL: withTrailingSlash(
      e.TMONEY_MBANKING_BASE_URL ?? `${sandbox}/tmoney/mbanking/v2/`,
    ),
    PAYGATE_BASE_URL: withTrailingSlash(e.PAYGATE_BASE_URL ?? `${sandbox}/paygate/`),
    TMONEY_BRAND: e.TMONEY_BRAND ?? e.STORE_NAME,
  };
}

/** For entry points: load the configuration or print what is wrong and exit non-zero. */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
}

export function withTrailingSlash(u: string): string {
  return u.endsWith('/') ? u : `${u}/`;
}
