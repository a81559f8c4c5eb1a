import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { SandboxConfig } from '../config.js';
import { deliver, later, type CallbackDelivery } from '../delivery.js';
import {
  MTN_TARGET_ENVIRONMENTS,
  MTN_TEST_NUMBERS,
  mtnScenario,
  type MtnReason,
  type MtnScenario,
  type MtnTestNumber,
} from './scenarios.js';

/**
 * MTN MoMo's side: API users and keys (the sandbox provisioning API), access tokens per product,
 * requests to pay (collection) and transfers (disbursement) with their state machines, one balance
 * per product and currency, and the PUT callback sent once when a transaction ends.
 */

export type MtnProduct = 'collection' | 'disbursement';
export type MtnStatus = 'PENDING' | 'SUCCESSFUL' | 'FAILED';

/** MTN's API user ids are UUID version 4 (X-Reference-Id of the provisioning call). */
export const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

const mtnEnv = z.object({
  /** The Ocp-Apim-Subscription-Key of each product (the provisioning API accepts either). */
  SANDBOX_MTN_COLLECTION_KEY: z.string().min(1).default('sandbox-mtn-collection-key'),
  SANDBOX_MTN_DISBURSEMENT_KEY: z.string().min(1).default('sandbox-mtn-disbursement-key'),
  /** A preset API user that exists from the start (users provisioned through the API work too). */
  SANDBOX_MTN_API_USER: z.string().regex(UUID_V4).default('0f0b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d'),
  SANDBOX_MTN_API_KEY: z.string().min(1).default('sandbox-mtn-api-key'),
  SANDBOX_MTN_TOKEN_TTL_SECONDS: z.coerce.number().int().positive().default(3600),
  /** Each product's balance in every currency when the sandbox starts, in minor units. */
  SANDBOX_MTN_COLLECTION_BALANCE: z.coerce.number().int().min(0).default(100_000_000),
  SANDBOX_MTN_DISBURSEMENT_BALANCE: z.coerce.number().int().min(0).default(100_000_000),
});
export type MtnSettings = z.infer<typeof mtnEnv>;

export function loadMtnSettings(env: Record<string, string>): MtnSettings {
  const parsed = mtnEnv.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  - ${i.path.join('.')}: ${i.message}`);
    throw new Error(`Invalid MTN sandbox configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

export interface MtnApiUser {
  id: string;
  providerCallbackHost: string;
  apiKeys: string[];
  /**
   * Provisioned through the API: its X-Callback-Url hosts must be its providerCallbackHost (as
   * at MTN). The preset user accepts any.
   */
  bindsCallbackHost: boolean;
  createdAt: string;
}

interface MtnToken {
  product: MtnProduct;
  apiUser: string;
  expiresAt: number;
}

export interface MtnParty {
  partyIdType: 'MSISDN' | 'EMAIL' | 'PARTY_CODE';
  partyId: string;
}

export interface MtnTransaction {
  /** The X-Reference-Id the caller chose. */
  referenceId: string;
  product: MtnProduct;
  targetEnvironment: string;
  apiUser: string;
  externalId?: string;
  currency: string;
  decimals: number;
  /** As requested, in minor units. */
  amountMinor: number;
  /** Payer (collection) or payee (disbursement). */
  party: MtnParty;
  payerMessage?: string;
  payeeNote?: string;
  callbackUrl?: string;
  status: MtnStatus;
  reason?: MtnReason;
  financialTransactionId?: string;
  /** Did money move (credited to the collection account, or debited from the disbursement one)? */
  executed: boolean;
  /** Unknown to the status call (test number 46733123464). */
  hidden: boolean;
  testNumber?: MtnTestNumber;
  scenario?: MtnScenario;
  createdAt: string;
  completedAt?: string;
  callbacks: CallbackDelivery[];
}

/** Minor units as MTN writes major ones: "10.5", "100" (trailing zeros dropped, as MTN echoes). */
export function formatMajor(minor: number, decimals: number): string {
  const unit = 10 ** decimals;
  const sign = minor < 0 ? '-' : '';
  const abs = Math.abs(minor);
  const whole = Math.floor(abs / unit);
  const frac = String(abs % unit)
    .padStart(decimals, '0')
    .replace(/0+$/, '');
  return `${sign}${whole}${frac ? `.${frac}` : ''}`;
}

/** A major-unit amount ("100", "10.50") in minor units; undefined if not one the currency allows. */
export function parseMajor(text: string, decimals: number): number | undefined {
  const m = /^(\d{1,13})(?:\.(\d+))?$/.exec(text);
  if (!m) return undefined;
  const frac = m[2] ?? '';
  if (frac.length > decimals) return undefined;
  const minor = Number(m[1]) * 10 ** decimals + Number(frac.padEnd(decimals, '0') || '0');
  return minor > 0 && Number.isSafeInteger(minor) ? minor : undefined;
}

function digits(n: number): string {
  let out = String(randomInt(1, 10));
  for (let i = 1; i < n; i++) out += String(randomInt(0, 10));
  return out;
}

const base64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

type Outcome = { status: 'SUCCESSFUL' } | { status: 'FAILED'; reason: MtnReason } | { status: 'PENDING' };

export class MtnSandbox {
  readonly settings: MtnSettings;
  readonly apiUsers = new Map<string, MtnApiUser>();
  /** Requests to pay and transfers, by X-Reference-Id. */
  readonly transactions = new Map<string, MtnTransaction>();
  /** Each product's balance per currency, in minor units. */
  readonly balances: Record<MtnProduct, Record<string, number>>;
  private readonly tokens = new Map<string, MtnToken>();
  /** Tokens issued so far, both products (tests check that one is reused, then renewed). */
  tokenCalls = 0;
  /** When true, every MTN API route answers 503. */
  down = false;

  constructor(
    readonly config: SandboxConfig,
    private readonly logger: Logger,
  ) {
    this.settings = loadMtnSettings(config.env);
    const currencies = [...new Set(Object.values(MTN_TARGET_ENVIRONMENTS).map((t) => t.currency))];
    const each = (amount: number) => Object.fromEntries(currencies.map((c) => [c, amount]));
    this.balances = {
      collection: each(this.settings.SANDBOX_MTN_COLLECTION_BALANCE),
      disbursement: each(this.settings.SANDBOX_MTN_DISBURSEMENT_BALANCE),
    };
    this.apiUsers.set(this.settings.SANDBOX_MTN_API_USER, {
      id: this.settings.SANDBOX_MTN_API_USER,
      providerCallbackHost: new URL(config.SANDBOX_CALLBACK_BASE_URL).hostname,
      apiKeys: [this.settings.SANDBOX_MTN_API_KEY],
      bindsCallbackHost: false,
      createdAt: new Date().toISOString(),
    });
  }

  subscriptionKey(product: MtnProduct): string {
    return product === 'collection'
      ? this.settings.SANDBOX_MTN_COLLECTION_KEY
      : this.settings.SANDBOX_MTN_DISBURSEMENT_KEY;
  }

  // ------------------------------------------------------------------ provisioning and tokens

  createApiUser(id: string, providerCallbackHost: string): MtnApiUser | undefined {
    if (this.apiUsers.has(id)) return undefined;
    const user: MtnApiUser = {
      id,
      providerCallbackHost,
      apiKeys: [],
      bindsCallbackHost: true,
      createdAt: new Date().toISOString(),
    };
    this.apiUsers.set(id, user);
    return user;
  }

  /** A new key for the user (keys issued before stay valid). */
  createApiKey(id: string): string | undefined {
    const user = this.apiUsers.get(id);
    if (!user) return undefined;
    const key = randomBytes(16).toString('hex');
    user.apiKeys.push(key);
    return key;
  }

  /** `Authorization: Basic base64(apiUser:apiKey)` → a token for the product, or undefined. */
  issueToken(
    product: MtnProduct,
    authorization: string | undefined,
  ): { access_token: string; token_type: string; expires_in: number } | undefined {
    const m = /^Basic\s+(\S+)$/i.exec(authorization ?? '');
    if (!m) return undefined;
    const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    const user = this.apiUsers.get(decoded.slice(0, colon));
    if (!user?.apiKeys.includes(decoded.slice(colon + 1))) return undefined;
    const ttl = this.settings.SANDBOX_MTN_TOKEN_TTL_SECONDS;
    const expiresAt = Date.now() + ttl * 1000;
    // JWT-shaped like MTN's (clientId, expires, sessionId); only this sandbox reads it, by lookup.
    const token = [
      base64url({ typ: 'JWT', alg: 'R256' }),
      base64url({
        clientId: user.id,
        expires: new Date(expiresAt).toISOString().replace('Z', ''),
        sessionId: randomUUID(),
      }),
      randomBytes(48).toString('base64url'),
    ].join('.');
    this.tokens.set(token, { product, apiUser: user.id, expiresAt });
    this.tokenCalls++;
    return { access_token: token, token_type: 'access_token', expires_in: ttl };
  }

  /** The API user a Bearer token stands for, if it is live and was issued for this product. */
  tokenUser(product: MtnProduct, authorization: string | undefined): MtnApiUser | undefined {
    const m = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    const token = m ? this.tokens.get(m[1]!) : undefined;
    if (!token || token.product !== product) return undefined;
    if (token.expiresAt <= Date.now()) {
      this.tokens.delete(m![1]!);
      return undefined;
    }
    return this.apiUsers.get(token.apiUser);
  }

  revokeTokens(): void {
    this.tokens.clear();
  }

  // ------------------------------------------------------------------ transactions

  find(product: MtnProduct, referenceId: string): MtnTransaction | undefined {
    const tx = this.transactions.get(referenceId);
    return tx?.product === product ? tx : undefined;
  }

  /** The latest transaction with this externalId (MTN does not require it to be unique). */
  byExternalId(externalId: string): MtnTransaction | undefined {
    return [...this.transactions.values()].reverse().find((t) => t.externalId === externalId);
  }

  register(
    t: Pick<
      MtnTransaction,
      | 'referenceId'
      | 'product'
      | 'targetEnvironment'
      | 'apiUser'
      | 'externalId'
      | 'currency'
      | 'decimals'
      | 'amountMinor'
      | 'party'
      | 'payerMessage'
      | 'payeeNote'
      | 'callbackUrl'
    >,
  ): MtnTransaction {
    const testNumber = t.party.partyIdType === 'MSISDN' ? MTN_TEST_NUMBERS[t.party.partyId] : undefined;
    const major = t.amountMinor / 10 ** t.decimals;
    const scenario = Number.isInteger(major) ? mtnScenario(t.product, major) : undefined;
    const tx: MtnTransaction = {
      ...t,
      status: 'PENDING',
      executed: false,
      hidden: testNumber?.outcome === 'hidden',
      ...(testNumber ? { testNumber } : {}),
      ...(scenario ? { scenario } : {}),
      createdAt: new Date().toISOString(),
      callbacks: [],
    };
    this.transactions.set(tx.referenceId, tx);
    return tx;
  }

  /** Where it ends: the party's test number decides first, then the amount's scenario. */
  private outcome(tx: MtnTransaction): Outcome {
    const n = tx.testNumber;
    if (n?.outcome === 'fails') return { status: 'FAILED', reason: n.reason ?? 'INTERNAL_PROCESSING_ERROR' };
    if (n?.outcome === 'pending' || n?.outcome === 'hidden') return { status: 'PENDING' };
    if (n?.outcome === 'delayed') return { status: 'SUCCESSFUL' };
    const s = tx.scenario;
    if (s?.outcome === 'fails') return { status: 'FAILED', reason: s.reason ?? 'INTERNAL_PROCESSING_ERROR' };
    if (s?.outcome === 'pending') return { status: 'PENDING' };
    return { status: 'SUCCESSFUL' };
  }

  /** Sets the transaction going: the payer approves (or not), the transfer executes (or not). */
  start(tx: MtnTransaction): void {
    const n = tx.testNumber;
    if (n?.outcome === 'fails') return this.end(tx, this.outcome(tx));
    if (n?.outcome === 'delayed') {
      later(this.config.SANDBOX_LATE_CALLBACK_MS, () => this.end(tx, this.outcome(tx)));
      return;
    }
    if (n) return; // pending forever, or hidden
    if (tx.scenario?.answer === 'late' || tx.scenario?.answer === 'http502')
      return this.end(tx, this.outcome(tx));
    const delay =
      tx.product === 'collection'
        ? this.config.SANDBOX_APPROVAL_DELAY_MS
        : this.config.SANDBOX_PROCESSING_DELAY_MS;
    later(delay, () => this.end(tx, this.outcome(tx)));
  }

  /** Control route: the payer approves now (a transaction left pending succeeds). */
  approve(tx: MtnTransaction): void {
    const o = this.outcome(tx);
    this.end(tx, o.status === 'PENDING' ? { status: 'SUCCESSFUL' } : o);
  }

  /** Control route: the payer rejects (collection), or the transfer is declined. */
  reject(tx: MtnTransaction): void {
    this.end(tx, {
      status: 'FAILED',
      reason: tx.product === 'collection' ? 'APPROVAL_REJECTED' : 'INTERNAL_PROCESSING_ERROR',
    });
  }

  /** Control route: succeeds whatever its scenario (a transfer still needs the funds). */
  complete(tx: MtnTransaction): void {
    this.end(tx, { status: 'SUCCESSFUL' });
  }

  private end(tx: MtnTransaction, outcome: Outcome): void {
    if (tx.status !== 'PENDING' || outcome.status === 'PENDING') return;
    if (outcome.status === 'FAILED') {
      tx.status = 'FAILED';
      tx.reason = outcome.reason;
    } else {
      const balances = this.balances[tx.product];
      const amount = this.statedMinor(tx, 'SUCCESSFUL');
      if (tx.product === 'disbursement' && (balances[tx.currency] ?? 0) < amount) {
        tx.status = 'FAILED';
        tx.reason = 'NOT_ENOUGH_FUNDS';
      } else {
        balances[tx.currency] =
          (balances[tx.currency] ?? 0) + (tx.product === 'collection' ? amount : -amount);
        tx.status = 'SUCCESSFUL';
        tx.executed = true;
        tx.financialTransactionId = digits(9);
      }
    }
    tx.completedAt = new Date().toISOString();
    this.logger.info(
      { product: tx.product, status: tx.status, reason: tx.reason, currency: tx.currency },
      'mtn sandbox transaction ended',
    );
    this.notify(tx);
  }

  /** The amount MTN states: one major unit less than requested once the 6006 scenario succeeds. */
  statedMinor(tx: MtnTransaction, status: MtnStatus = tx.status): number {
    return tx.scenario?.understated && status === 'SUCCESSFUL'
      ? tx.amountMinor - 10 ** tx.decimals
      : tx.amountMinor;
  }

  /** What `GET …/requesttopay/{id}` and `GET …/transfer/{id}` answer, and the callback's body. */
  statusBody(tx: MtnTransaction): Record<string, unknown> {
    return {
      ...(tx.status === 'SUCCESSFUL' ? { financialTransactionId: tx.financialTransactionId } : {}),
      ...(tx.externalId !== undefined ? { externalId: tx.externalId } : {}),
      amount: formatMajor(this.statedMinor(tx), tx.decimals),
      currency: tx.currency,
      [tx.product === 'collection' ? 'payer' : 'payee']: tx.party,
      ...(tx.payerMessage !== undefined ? { payerMessage: tx.payerMessage } : {}),
      ...(tx.payeeNote !== undefined ? { payeeNote: tx.payeeNote } : {}),
      status: tx.status,
      ...(tx.status === 'FAILED' ? { reason: tx.reason } : {}),
    };
  }

  /** MTN calls back once (no retry), with PUT and the status body, if X-Callback-Url was given. */
  private notify(tx: MtnTransaction): void {
    const url = tx.callbackUrl;
    const callback = tx.scenario?.callback;
    if (!url || tx.hidden || callback === 'none') return;
    const body = JSON.stringify(this.statusBody(tx));
    const send = async () => {
      for (let i = 0; i < (callback === 'thrice' ? 3 : 1); i++) {
        await deliver(
          url,
          { method: 'PUT', contentType: 'application/json', body, userAgent: 'MTN-MoMo-Sandbox/1.0' },
          tx.callbacks,
          0,
        );
      }
    };
    // After the 202 has gone (a transaction can end within its own request).
    later(callback === 'late' ? this.config.SANDBOX_LATE_CALLBACK_MS : 0, () => void send());
  }
}
