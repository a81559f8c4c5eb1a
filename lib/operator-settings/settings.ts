import { isIP } from 'node:net';
import { z } from 'zod';
import type { Network } from '../networks.js';
import type { PayinMode } from '../payments.js';

/**
 * What every operator's entry in the operator table (lib/operators.ts) gives: the facts that do
 * not depend on the deployment (its networks), the environment variables it reads, and the typed
 * settings it makes of them. Operator-specific fields (credentials, endpoints) are its own.
 */
export interface OperatorDefinition<Env extends z.ZodObject, Settings extends OperatorSettings> {
  /** How people name it (logs, CLI, docs). */
  readonly label: string;
  /** The HTTP methods its callbacks come with: any other is refused (405) and stored nowhere. */
  readonly callbackMethods: readonly ('GET' | 'POST' | 'PUT')[];
  /**
   * Its callbacks carry a secret it handed out with the payment (Orange's `notif_token`): one
   * without the secret recorded for its payment is rejected.
   */
  readonly callbackCarriesPaymentSecret?: boolean;
  /**
   * The networks it carries, per direction. Routing (lib/routing.ts) derives its default table
   * from these, operators in the table's order.
   */
  readonly networks: { readonly payin: readonly Network[]; readonly payout: readonly Network[] };
  /** How its back-office export of transactions reads, for files uploaded by operations. */
  readonly settlementFile: SettlementFileFormat;
  /** Its environment variables, with the defaults that point at the sandbox. */
  readonly env: Env;
  /**
   * The variables that say where and as whom we reach it (endpoints, credentials, callback
   * secrets and addresses). Test mode ignores them: test payments always go to the sandbox, with
   * its own defaults; every other variable (timing, behaviour) is shared by both modes.
   */
  readonly connectionVariables: readonly (keyof z.infer<Env> & string)[];
  /** Its settings, from its validated environment. */
  settings(env: z.infer<Env>, context: SettingsContext): Settings;
  /** Settings a production deployment must set (no development default authenticates anything there). */
  requiredInProduction?(env: z.infer<Env>): string[];
  /** Risks an operations person must hear about at start-up. */
  warnings?(settings: Settings): string[];
}

/**
 * The columns of an operator's transaction export (CSV or XLSX, from its back-office): for each
 * field, the header names it goes by (matched without case or accents, French or English).
 */
export interface SettlementFileFormat {
  columns: {
    ourReference: readonly string[];
    operatorReference: readonly string[];
    amount: readonly string[];
    status: readonly string[];
    date: readonly string[];
    /** Absent: every line is a payin. */
    kind?: readonly string[];
    /** Absent: every line is in `currency`. */
    currency?: readonly string[];
  };
  /** Words of the kind column that mean a payout (any other: a payin). */
  payoutKinds: readonly string[];
  currency: string;
}

/** What an operator's settings may derive from the rest of the configuration. */
export interface SettingsContext {
  /** Base URL of the operators' sandbox: the default of every operator endpoint. */
  sandboxUrl: string;
  storeName: string;
  storeWebsiteUrl: string;
}

/** The settings every operator has, whatever its protocol. */
export interface OperatorSettings {
  /** The longest any one HTTP request to it may take. */
  httpTimeoutMs: number;
  /**
   * How many calls a second we make to it, across all workers (each is the
   * `maxTaskQueueActivitiesPerSecond` of one of its task queues, lib/task-queues.ts): sends and
   * the confirmations a callback triggers, and background polls. Their sum is its whole limit.
   */
  rateLimit: { sendsPerSecond: number; pollsPerSecond: number };
  timing: {
    /** How long a payin may stay open before it ends `expired`… */
    payinDeadlineSeconds: number;
    /** …unless its mode has its own lifetime (TMoney's 180 s online session). */
    payinDeadlineSecondsByMode?: Partial<Record<PayinMode, number>>;
    /** How long we wait for a payout or refund to end before leaving it `unknown` for reconciliation. */
    payoutDeadlineSeconds: number;
    /** Status polls back off from `initialSeconds` to `maxSeconds` between calls. */
    poll: { initialSeconds: number; maxSeconds: number };
  };
  /** What makes a callback from this operator trusted enough to be stored and weighed. */
  callback: {
    /** Source addresses or subnets allowed to post callbacks; empty: any address. */
    allowedIps: string[];
    /** The secret path segment its callback URL carries, for operators with one. */
    token?: string;
  };
}

// Helpers every operator's environment schema uses.

export const seconds = z.coerce.number().positive();
export const callsPerSecond = z.coerce.number().positive().max(10_000);
/**
 * No operator document states a rate limit: these defaults keep us well below what a payment API
 * usually allows, and above what one machine of ours makes (docs/BENCHMARKS.md).
 */
export const DEFAULT_RATE_LIMIT = { sendsPerSecond: 100, pollsPerSecond: 20 } as const;
export const milliseconds = z.coerce.number().int().positive();
export const url = z.url();
const csv = z.string().transform((s) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean),
);
/** Addresses and subnets, comma-separated: `10.1.2.3, 172.16.0.0/12, ::1`. */
export const addressList = csv.refine(
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
export const flag = (fallback: boolean) =>
  z
    .enum(['true', 'false'])
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true');

export function withTrailingSlash(u: string): string {
  return u.endsWith('/') ? u : `${u}/`;
}
