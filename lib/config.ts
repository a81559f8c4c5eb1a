import { parseAesKeys, parseKeyRing, type KeyRing } from './card-vault.js';
import { z } from 'zod';
import { OPERATORS, OPERATOR_TABLE, type OperatorName, type OperatorSettingsTable } from './operators.js';
import type { OperatorDefinition, OperatorSettings } from './operator-settings/settings.js';
import { SEND_LEASE_MARGIN_MS } from './timeouts.js';

/** Thrown when the environment does not describe a usable configuration; names every bad variable. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const port = z.coerce.number().int().min(0).max(65535);
const url = z.url();
const csv = z.string().transform((s) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean),
);

/**
 * Every setting Passerelle reads from its environment, with the default that makes a fresh clone
 * run end to end against the local sandbox.
 */
/** Development keys of the card vault: in the source, so refused when NODE_ENV=production. */
const DEV_CARD_VAULT_KEYS = `dev-2026:${Buffer.alloc(32, 7).toString('base64')}`;
const DEV_CARD_FINGERPRINT_KEY = Buffer.alloc(32, 9).toString('base64');
const DEV_GIM_MAC_KEY = '0123456789ABCDEFFEDCBA9876543210';
/** The card processor sandbox's credentials: refused in production against a real processor. */
const SANDBOX_PROCESSOR_API_KEY = 'sandbox-processor-key';
const SANDBOX_PROCESSOR_WEBHOOK_SECRET = 'sandbox-processor-webhook-secret';
/** Development keys of the Temporal payload codec and its codec endpoint: refused in production. */
const DEV_TEMPORAL_PAYLOAD_KEYS = `dev-2026:${Buffer.alloc(32, 11).toString('base64')}`;
const DEV_OPERATIONS_CODEC_KEY = 'dev-operations-codec-key-not-for-production';

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
  /** Base URL of the operators' sandbox: every operator endpoint not set defaults to it. */
  SANDBOX_URL: url.optional(),
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
   * The keys that encrypt every Temporal payload (lib/payload-codec.ts), `id:base64` (32 bytes
   * each), comma-separated; new payloads use TEMPORAL_PAYLOAD_ACTIVE_KEY (default: the first).
   * Every process (API, worker, CLI) holds the same ring. Rotation: add the new key everywhere,
   * make it active, keep the old one until the histories it encrypted are past retention.
   */
  TEMPORAL_PAYLOAD_KEYS: z.string().min(1).default(DEV_TEMPORAL_PAYLOAD_KEYS),
  TEMPORAL_PAYLOAD_ACTIVE_KEY: z.string().min(1).optional(),
  /**
   * What an operations person presents (`Authorization: Bearer …`) to the codec endpoint
   * `/ops/codec/{decode,encode}` to see payloads decoded; at least 32 characters.
   */
  OPERATIONS_CODEC_KEY: z.string().min(32).default(DEV_OPERATIONS_CODEC_KEY),
  /** Browser origins allowed to call the codec endpoint (the Temporal UI's), comma-separated. */
  OPERATIONS_CODEC_ORIGINS: csv.default(['http://127.0.0.1:8233', 'http://localhost:8233']),
  /**
   * Workflows the worker keeps in memory. Waiting payins need no workflow task until their
   * callback or deadline, so evicting them costs one short replay then (250 settled 5,000
   * callbacks faster than 1,000 did: docs/BENCHMARKS.md). More needs a larger workflow-thread
   * heap than workers/heap.ts gives.
   */
  WORKER_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(2).max(100_000).default(250),
  /**
   * How long a workflow task waits on the sticky queue of the worker that last ran its workflow
   * before any worker may take it (Temporal's default, 10 s): after a worker dies, its payments
   * wait this long. Shorter: faster recovery, more replays when a live worker is merely slow.
   */
  WORKER_STICKY_QUEUE_TIMEOUT_SECONDS: z.coerce.number().positive().max(600).default(10),
  /** Workflow bundle built ahead of time by `workers/bundle.ts`; absent means bundle at start-up. */
  WORKFLOW_BUNDLE_PATH: z.string().optional(),
  /**
   * Added to an operator's worst-case send for the send lease (activities/send-lease.ts): how
   * long after a worker died mid-send another may send that payment, at the earliest. It covers
   * the database and the process around the operator calls; lower only where both are local.
   */
  SEND_LEASE_MARGIN_MS: z.coerce.number().int().min(1_000).max(60_000).default(SEND_LEASE_MARGIN_MS),
  /** How long a create call (payin, payout, refund) waits for the first step before answering 202. */
  INITIATION_WAIT_SECONDS: z.coerce.number().positive().default(30),
  /** How long a hosted payin's page takes attempts when the merchant gives no `expires_in` (docs/checkout.md). */
  HOSTED_CHECKOUT_SECONDS: z.coerce.number().int().min(60).max(86_400).default(1_800),
  /** Forms one address may post a minute to the payer's pages (/pay, /l), per API process. */
  PAYER_PAGE_POSTS_PER_MINUTE: z.coerce.number().int().min(1).default(60),

  STORE_NAME: z.string().min(1).default('Passerelle'),
  STORE_WEBSITE_URL: url.default('http://127.0.0.1:3000'),

  /** Transfers: waits before each new refund of a sender whose refund failed (seconds, comma-separated). */
  TRANSFER_REFUND_RETRY_SECONDS: z
    .string()
    .regex(/^\d+(,\d+)*$/, 'must be a comma-separated list of seconds')
    .default('60,300,1800,7200,21600')
    .transform((s) => s.split(',').map(Number)),
  /** Transfers: how often a leg of unknown outcome is looked up again, and for how long before review. */
  TRANSFER_RESOLUTION_CHECK_SECONDS: z.coerce.number().positive().default(300),
  TRANSFER_RESOLUTION_MAX_SECONDS: z.coerce
    .number()
    .positive()
    .default(7 * 86_400),

  /** Reconciliation: the sweep's period, and the hour (UTC) of the daily settlement run (for the day before). */
  SWEEP_INTERVAL_SECONDS: z.coerce.number().positive().default(300),
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
  /**
   * The card vault's key-encryption keys, `id:base64` (32 bytes each), comma-separated; new cards
   * are wrapped under CARD_VAULT_ACTIVE_KEY (default: the first). Rotation: add the new key, make
   * it active, run `passerelle vault rotate`, then drop the old one (docs/cards.md). The default
   * is a development key, refused in production.
   */
  CARD_VAULT_KEYS: z.string().min(1).default(DEV_CARD_VAULT_KEYS),
  CARD_VAULT_ACTIVE_KEY: z.string().min(1).optional(),
  /** Keyed hash of card numbers (base64, 32 bytes): the same card gives the same fingerprint. */
  CARD_VAULT_FINGERPRINT_KEY: z.string().min(1).default(DEV_CARD_FINGERPRINT_KEY),
  /** BIN prefixes of GIM-UEMOA's regional cards (its list is not public), comma-separated. */
  CARD_GIM_BINS: z
    .string()
    .default('628000,628001')
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().regex(/^\d{4,8}$/, 'BINs are 4 to 8 digits'))),
  /**
   * GIM-UEMOA, the card switch (docs/gim-uemoa.md): where the worker keeps its ISO 8583
   * connection. Unset: no card payments.
   */
  GIM_HOST: z.string().min(1).optional(),
  GIM_PORT: z.coerce.number().int().min(1).max(65535).default(8583),
  /** The double-length DES key of the MACs (32 hex digits); the default is the sandbox's, refused in production. */
  GIM_MAC_KEY: z
    .string()
    .regex(/^[0-9a-fA-F]{32}$/, 'must be 32 hex digits')
    .default(DEV_GIM_MAC_KEY),
  GIM_ACQUIRER_ID: z
    .string()
    .regex(/^\d{1,11}$/)
    .default('60001'),
  GIM_TERMINAL_ID: z
    .string()
    .regex(/^[\x20-\x7e]{1,8}$/)
    .default('PSL00001'),
  GIM_MERCHANT_ID: z
    .string()
    .regex(/^[\x20-\x7e]{1,15}$/)
    .default('PASSERELLE0001'),
  /** How long an answer from the switch may take before the request is reversed. */
  GIM_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  GIM_ECHO_SECONDS: z.coerce.number().positive().default(60),
  /**
   * The Visa/Mastercard card processor with 3-D Secure 2 (docs/card-processor.md): its base URL
   * (default: the sandbox's), API key, the secret of its signed 3-D Secure results (RReq), how
   * long a call may take, and what the AReq says of us. PROCESSOR_ENABLED=false offers no
   * Visa/Mastercard card on the hosted checkout.
   */
  PROCESSOR_ENABLED: z
    .enum(['true', 'false'])
    .default('true')
    .transform((v) => v === 'true'),
  PROCESSOR_BASE_URL: url.optional(),
  PROCESSOR_API_KEY: z.string().min(1).default(SANDBOX_PROCESSOR_API_KEY),
  PROCESSOR_WEBHOOK_SECRET: z.string().min(16).default(SANDBOX_PROCESSOR_WEBHOOK_SECRET),
  PROCESSOR_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  PROCESSOR_MERCHANT_ID: z.string().min(1).max(35).default('PASSERELLE-0001'),
  PROCESSOR_MCC: z
    .string()
    .regex(/^\d{4}$/)
    .default('5999'),
  /** How long a payer has to complete the issuer's challenge page before the card payin fails. */
  PROCESSOR_CHALLENGE_SECONDS: z.coerce.number().int().positive().default(600),
  /** Key for operations routes (reconciliation); unset: those routes answer 401. */
  ADMIN_API_KEY: z.string().min(16).optional(),
  /** Bearer token Prometheus sends to `GET /metrics` (the operations key works too); unset and no ADMIN_API_KEY: 401. */
  METRICS_TOKEN: z.string().min(16).optional(),
  /**
   * Where the worker serves its Prometheus metrics (host:port; the SDK's and ours); unset: none.
   * `npm start` sets 127.0.0.1:9464.
   */
  WORKER_METRICS_ADDRESS: z
    .string()
    .regex(/^[\w.:[\]-]+:\d{1,5}$/, 'must be host:port')
    .optional(),

  /**
   * Requests each API key may make per RATE_LIMIT_WINDOW_SECONDS, unless its merchant has its own
   * limit; counted in PostgreSQL, so shared by every API process.
   */
  RATE_LIMIT_REQUESTS: z.coerce.number().int().min(1).max(1_000_000).default(100),
  RATE_LIMIT_WINDOW_SECONDS: z.coerce.number().int().min(1).max(3_600).default(1),
  /** Lifetime of an OAuth access token (client credentials), in seconds. */
  OAUTH_TOKEN_TTL_SECONDS: z.coerce.number().int().min(60).max(86_400).default(900),

  /** Check every API answer against the OpenAPI document (the test suite turns it on). */
  CHECK_RESPONSES: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true'),

  /** Callbacks stored per minute from one source address; more are answered 429, not stored. */
  CALLBACK_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(6000),

  /** Webhooks: how long one delivery attempt may take (Standard Webhooks: 15 s). */
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(15_000),
  /**
   * Webhooks: seconds between failed attempts (the last repeated), and how long a delivery is
   * tried. The defaults are Standard Webhooks' schedule over three days; shorter ones are for tests.
   */
  WEBHOOK_RETRY_SECONDS: z
    .string()
    .regex(/^\d+(\.\d+)?(,\d+(\.\d+)?)*$/, 'must be a comma-separated list of seconds')
    .default('5,300,1800,7200,18000,36000')
    .transform((s) => s.split(',').map((n) => Math.round(Number(n) * 1000))),
  WEBHOOK_RETRY_WINDOW_SECONDS: z.coerce.number().positive().default(259_200),
  /** Activity slots for webhook deliveries (each mostly waits on a merchant's server). */
  WORKER_WEBHOOK_SLOTS: z.coerce.number().int().min(1).max(10_000).default(100),
  /** The worker's connections for webhook deliveries and the event publisher. */
  WEBHOOK_POOL_SIZE: z.coerce.number().int().min(1).max(100).default(4),
  /** How often the publisher looks for events and deliveries without a NOTIFY (a safety net). */
  EVENT_PUBLISH_INTERVAL_MS: z.coerce.number().int().min(50).max(60_000).default(2_000),
  /**
   * How long the publisher gathers commits after a NOTIFY before a pass: under load one pass then
   * publishes the events of many payments (fewer statements and delivery workflows), at the cost
   * of this much delivery lag.
   */
  EVENT_PUBLISH_GATHER_MS: z.coerce.number().int().min(0).max(1_000).default(100),
  /** Whether this worker publishes events and starts their deliveries (one or more may). */
  EVENT_PUBLISHER_ENABLED: z
    .enum(['true', 'false'])
    .default('true')
    .transform((v) => v === 'true'),

  /** Route health: this many operator-side failures in a row open the circuit…*/
  CIRCUIT_FAILURE_THRESHOLD: z.coerce.number().int().min(1).default(5),
  /** …for this long, during which payins go to the next route. */
  CIRCUIT_COOLDOWN_SECONDS: z.coerce.number().positive().default(60),
});

export type Env = z.infer<typeof envSchema>;

/**
 * The validated configuration: the process's own settings, and every operator's settings from the
 * operator table (lib/operators.ts), each read from that operator's own environment variables.
 */
export interface Config extends Omit<Env, 'PUBLIC_BASE_URL' | 'SANDBOX_URL' | 'PROCESSOR_BASE_URL'> {
  PUBLIC_BASE_URL: string;
  SANDBOX_URL: string;
  PROCESSOR_BASE_URL: string;
  /** Live mode: every operator's configured endpoints and credentials. */
  operators: OperatorSettingsTable;
  /**
   * Test mode: every operator at the sandbox (SANDBOX_URL) with the sandbox's credentials, in any
   * deployment; timing and behaviour settings as in live mode.
   */
  testOperators: OperatorSettingsTable;
}

const vaultRings = new WeakMap<object, KeyRing>();

/**
 * The vault's key ring (cards, phone numbers, OTPs, callback bodies), from the configuration
 * (validated by loadConfig); parsed once per configuration object.
 */
export function cardVaultRing(
  config: Pick<Config, 'CARD_VAULT_KEYS' | 'CARD_VAULT_ACTIVE_KEY' | 'CARD_VAULT_FINGERPRINT_KEY'>,
): KeyRing {
  let ring = vaultRings.get(config);
  if (!ring) {
    ring = parseKeyRing(
      config.CARD_VAULT_KEYS,
      config.CARD_VAULT_ACTIVE_KEY,
      config.CARD_VAULT_FINGERPRINT_KEY,
    );
    vaultRings.set(config, ring);
  }
  return ring;
}

/** What an operations person must hear about a configuration that runs but takes a risk. */
export function configWarnings(config: Config): string[] {
  return OPERATORS.flatMap((name) => {
    const definition: OperatorDefinition<z.ZodObject, OperatorSettings> = OPERATOR_TABLE[name];
    return definition.warnings?.(config.operators[name]) ?? [];
  });
}

/** Reads and validates the configuration; throws ConfigError naming each bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings mean "not set", as in most .env tooling.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(cleaned);
  const problems = parsed.success ? [] : parsed.error.issues.map((issue) => describeIssue(issue, cleaned));
  // Every operator's variables are checked too, so that one run names every bad variable.
  const base = parsed.success ? parsed.data : envSchema.parse({});
  const sandboxUrl = (base.SANDBOX_URL ?? `http://127.0.0.1:${base.SANDBOX_PORT}`).replace(/\/$/, '');
  const context = { sandboxUrl, storeName: base.STORE_NAME, storeWebsiteUrl: base.STORE_WEBSITE_URL };
  const operators: Partial<Record<OperatorName, OperatorSettings>> = {};
  const testOperators: Partial<Record<OperatorName, OperatorSettings>> = {};
  for (const name of OPERATORS) {
    const definition: OperatorDefinition<z.ZodObject, OperatorSettings> = OPERATOR_TABLE[name];
    const own = definition.env.safeParse(cleaned);
    if (!own.success) {
      problems.push(...own.error.issues.map((issue) => describeIssue(issue, cleaned)));
      continue;
    }
    // Production fails closed: no development default for what authenticates a callback.
    if (base.NODE_ENV === 'production') {
      const missing = definition.requiredInProduction?.(own.data) ?? [];
      problems.push(...missing.map((variable) => `${variable}: required when NODE_ENV=production`));
    }
    operators[name] = definition.settings(own.data, context);
    const connection = new Set<string>(definition.connectionVariables);
    const sandboxEnv = Object.fromEntries(Object.entries(cleaned).filter(([k]) => !connection.has(k)));
    testOperators[name] = definition.settings(definition.env.parse(sandboxEnv), context);
  }
  try {
    parseKeyRing(base.CARD_VAULT_KEYS, base.CARD_VAULT_ACTIVE_KEY, base.CARD_VAULT_FINGERPRINT_KEY);
  } catch (err) {
    problems.push(`CARD_VAULT_KEYS: ${(err as Error).message}`);
  }
  if (
    base.NODE_ENV === 'production' &&
    (base.CARD_VAULT_KEYS.includes(DEV_CARD_VAULT_KEYS.split(':')[1]!) ||
      base.CARD_VAULT_FINGERPRINT_KEY === DEV_CARD_FINGERPRINT_KEY)
  ) {
    problems.push(
      'CARD_VAULT_KEYS, CARD_VAULT_FINGERPRINT_KEY: the development keys are refused when NODE_ENV=production',
    );
  }
  try {
    parseAesKeys(base.TEMPORAL_PAYLOAD_KEYS, base.TEMPORAL_PAYLOAD_ACTIVE_KEY);
  } catch (err) {
    problems.push(`TEMPORAL_PAYLOAD_KEYS: ${(err as Error).message}`);
  }
  if (
    base.NODE_ENV === 'production' &&
    (base.TEMPORAL_PAYLOAD_KEYS.includes(DEV_TEMPORAL_PAYLOAD_KEYS.split(':')[1]!) ||
      base.OPERATIONS_CODEC_KEY === DEV_OPERATIONS_CODEC_KEY)
  ) {
    problems.push(
      'TEMPORAL_PAYLOAD_KEYS, OPERATIONS_CODEC_KEY: the development keys are refused when NODE_ENV=production',
    );
  }
  // A real processor (its own base URL) with the sandbox's credentials: fail closed in production.
  if (
    base.NODE_ENV === 'production' &&
    base.PROCESSOR_ENABLED &&
    base.PROCESSOR_BASE_URL &&
    (base.PROCESSOR_API_KEY === SANDBOX_PROCESSOR_API_KEY ||
      base.PROCESSOR_WEBHOOK_SECRET === SANDBOX_PROCESSOR_WEBHOOK_SECRET)
  ) {
    problems.push(
      'PROCESSOR_API_KEY, PROCESSOR_WEBHOOK_SECRET: the sandbox credentials are refused for a processor at PROCESSOR_BASE_URL when NODE_ENV=production',
    );
  }
  if (base.NODE_ENV === 'production' && base.GIM_HOST && base.GIM_MAC_KEY.toUpperCase() === DEV_GIM_MAC_KEY) {
    problems.push('GIM_MAC_KEY: the development key is refused when NODE_ENV=production');
  }
  if (problems.length) throw new ConfigError(problems);
  return {
    ...base,
    PUBLIC_BASE_URL: base.PUBLIC_BASE_URL ?? `http://127.0.0.1:${base.PORT}`,
    SANDBOX_URL: sandboxUrl,
    PROCESSOR_BASE_URL: (base.PROCESSOR_BASE_URL ?? `${sandboxUrl}/processor`).replace(/\/$/, ''),
    operators: operators as OperatorSettingsTable,
    testOperators: testOperators as OperatorSettingsTable,
  };
}

function describeIssue(issue: z.core.$ZodIssue, env: Record<string, string | undefined>): string {
  const name = issue.path.join('.');
  const value = env[name];
  return `${name}: ${issue.message}${value === undefined ? '' : ` (got "${value}")`}`;
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
