import { z } from 'zod';

/** The sandbox's own settings; it shares nothing with the adapters but the operators' documents. */
const sandboxEnv = z.object({
  HOST: z.string().min(1).default('127.0.0.1'),
  SANDBOX_PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  /**
   * Passerelle's public URL: where operators whose callback URL is set in their back office (not
   * per payment: TMoney, PayGateGlobal) call back, unless their own variable says otherwise.
   */
  SANDBOX_CALLBACK_BASE_URL: z.url().default('http://127.0.0.1:3000'),
  /** Base URL the sandbox puts in the links it hands out (payment pages). */
  SANDBOX_PUBLIC_URL: z.url().optional(),
  SANDBOX_LIGDICASH_API_KEY: z.string().min(1).default('sandbox-ligdicash-apikey'),
  SANDBOX_LIGDICASH_API_TOKEN: z.string().min(1).default('sandbox-ligdicash-token'),
  /** How long a payer takes to approve a push on the phone (Moov-style direct payin). */
  SANDBOX_APPROVAL_DELAY_MS: z.coerce.number().int().min(0).default(1500),
  /** How long the operator takes to process an authorised payment. */
  SANDBOX_PROCESSING_DELAY_MS: z.coerce.number().int().min(0).default(300),
  /** "Late callback" scenario: when the payment completes and is notified. */
  SANDBOX_LATE_CALLBACK_MS: z.coerce.number().int().min(0).default(20_000),
  /** "Slow answers" scenario: how long the create call takes to answer. */
  SANDBOX_SLOW_MS: z.coerce.number().int().min(0).default(3000),
  /** "Ambiguous timeout" payout scenario: how long the answer takes (longer than the caller waits). */
  SANDBOX_AMBIGUOUS_DELAY_MS: z.coerce.number().int().min(0).default(20_000),
  /** The merchant's LigdiCash balance when the sandbox starts, in XOF: payouts draw on it. */
  SANDBOX_LIGDICASH_BALANCE: z.coerce.number().int().min(0).default(100_000_000),
  /** How many times a callback that was not answered 2xx is sent again. */
  SANDBOX_CALLBACK_RETRIES: z.coerce.number().int().min(0).max(10).default(3),
  SANDBOX_TMONEY_MERCHANT_ID: z
    .string()
    .regex(/^\d{16}$/)
    .default('2280000000000001'),
  /** The online payment session's lifetime (180 s at TMoney). */
  SANDBOX_TMONEY_SESSION_SECONDS: z.coerce.number().positive().default(180),
  /**
   * TMoney's notification URL is set by its administrator, not per payment; Passerelle's carries
   * a secret token (its development default here).
   */
  SANDBOX_TMONEY_NOTIFICATION_URL: z.url().optional(),
  SANDBOX_TMONEY_USERNAME: z.string().min(1).default('sandbox-tmoney-partner'),
  SANDBOX_TMONEY_PASSWORD: z.string().min(1).default('sandbox-tmoney-password'),
  /** The MBANKING v1 credit's agent ("merchantid or agentid") and password. */
  SANDBOX_TMONEY_V1_AGENT_ID: z.string().min(1).default('2280000000000001'),
  SANDBOX_TMONEY_V1_PASSWORD: z.string().min(1).default('sandbox-tmoney-v1-password'),
  SANDBOX_TMONEY_TOKEN_TTL_SECONDS: z.coerce.number().positive().default(3600),
  /** The PIN every sandbox TMoney account accepts on the payment page. */
  SANDBOX_TMONEY_PIN: z
    .string()
    .regex(/^\d{4}$/)
    .default('1234'),
  SANDBOX_PAYGATE_AUTH_TOKEN: z.string().min(1).default('sandbox-paygate-auth-token'),
  /** PayGateGlobal's confirmation URL is set in its dashboard, not per payment. */
  SANDBOX_PAYGATE_CALLBACK_URL: z.url().optional(),
  SANDBOX_PAYGATE_FLOOZ_BALANCE: z.coerce.number().int().min(0).default(50_000_000),
  SANDBOX_PAYGATE_TMONEY_BALANCE: z.coerce.number().int().min(0).default(50_000_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type SandboxConfig = z.infer<typeof sandboxEnv> & {
  /** The environment as given: a simulator reads its own variables from it (sandbox/<operator>/). */
  env: Record<string, string>;
  SANDBOX_PUBLIC_URL: string;
  SANDBOX_TMONEY_NOTIFICATION_URL: string;
  SANDBOX_PAYGATE_CALLBACK_URL: string;
};

export function loadSandboxConfig(env: NodeJS.ProcessEnv = process.env): SandboxConfig {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = sandboxEnv.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  - ${i.path.join('.')}: ${i.message}`);
    throw new Error(`Invalid sandbox configuration:\n${lines.join('\n')}`);
  }
  const callbackBase = parsed.data.SANDBOX_CALLBACK_BASE_URL.replace(/\/$/, '');
  return {
    ...parsed.data,
    env: cleaned as Record<string, string>,
    SANDBOX_TMONEY_NOTIFICATION_URL:
      parsed.data.SANDBOX_TMONEY_NOTIFICATION_URL ??
      `${callbackBase}/v1/callbacks/tmoney/dev-tmoney-notification-0000000000`,
    SANDBOX_PAYGATE_CALLBACK_URL:
      parsed.data.SANDBOX_PAYGATE_CALLBACK_URL ?? `${callbackBase}/v1/callbacks/paygate`,
    SANDBOX_PUBLIC_URL: (
      parsed.data.SANDBOX_PUBLIC_URL ?? `http://127.0.0.1:${parsed.data.SANDBOX_PORT}`
    ).replace(/\/$/, ''),
  };
}
