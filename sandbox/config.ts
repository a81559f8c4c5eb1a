import { z } from 'zod';

/** The sandbox's own settings; it shares nothing with the adapters but the operators' documents. */
const sandboxEnv = z.object({
  HOST: z.string().min(1).default('127.0.0.1'),
  SANDBOX_PORT: z.coerce.number().int().min(0).max(65535).default(4000),
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
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type SandboxConfig = z.infer<typeof sandboxEnv> & { SANDBOX_PUBLIC_URL: string };

export function loadSandboxConfig(env: NodeJS.ProcessEnv = process.env): SandboxConfig {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = sandboxEnv.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  - ${i.path.join('.')}: ${i.message}`);
    throw new Error(`Invalid sandbox configuration:\n${lines.join('\n')}`);
  }
  return {
    ...parsed.data,
    SANDBOX_PUBLIC_URL: (
      parsed.data.SANDBOX_PUBLIC_URL ?? `http://127.0.0.1:${parsed.data.SANDBOX_PORT}`
    ).replace(/\/$/, ''),
  };
}
