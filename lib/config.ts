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

/**
 * Every setting Passerelle reads from its environment, with the default that makes a fresh clone
 * run end to end against the local sandbox.
 */
const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
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
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  TEMPORAL_ADDRESS: z.string().min(1).default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('passerelle-payments'),
  TEMPORAL_UI_URL: url.default('http://127.0.0.1:8233'),
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
  LIGDICASH_POLL_MAX_SECONDS: seconds.default(60),
  LIGDICASH_HTTP_TIMEOUT_MS: z.coerce.number().int().positive().default(15_000),
  /** Source addresses allowed to post LigdiCash callbacks; empty accepts any (LigdiCash publishes none). */
  LIGDICASH_CALLBACK_ALLOWED_IPS: csv.default([]),
  /** How long we wait for a LigdiCash payout to end before leaving it `unknown` for reconciliation. */
  LIGDICASH_PAYOUT_DEADLINE_SECONDS: seconds.default(86_400),
});

export type Env = z.infer<typeof envSchema>;

export interface Config extends Omit<Env, 'PUBLIC_BASE_URL' | 'LIGDICASH_BASE_URL'> {
  PUBLIC_BASE_URL: string;
  LIGDICASH_BASE_URL: string;
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
  return {
    ...e,
    PUBLIC_BASE_URL: e.PUBLIC_BASE_URL ?? `http://127.0.0.1:${e.PORT}`,
    LIGDICASH_BASE_URL: withTrailingSlash(
      e.LIGDICASH_BASE_URL ?? `http://127.0.0.1:${e.SANDBOX_PORT}/ligdicash/pay/v01/`,
    ),
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
