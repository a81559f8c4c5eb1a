/**
 * What the MTN MoMo sandbox does with a request: the payer's (collection) or payee's
 * (disbursement) number picks a fixed outcome first, as on MTN's own sandbox; otherwise the
 * amount (in the request's major units) picks one of our scenarios; any other request succeeds.
 */

/** The failure reasons MTN's v1_0 status answers carry (`reason`, a plain string). */
export type MtnReason =
  | 'INTERNAL_PROCESSING_ERROR'
  | 'APPROVAL_REJECTED'
  | 'EXPIRED'
  | 'NOT_ENOUGH_FUNDS'
  | 'PAYER_LIMIT_REACHED'
  | 'PAYEE_NOT_FOUND'
  | 'NOT_ALLOWED'
  | 'NOT_ALLOWED_TARGET_ENVIRONMENT'
  | 'INVALID_CALLBACK_URL_HOST'
  | 'INVALID_CURRENCY'
  | 'SERVICE_UNAVAILABLE'
  | 'COULD_NOT_PERFORM_TRANSACTION';

export interface MtnTestNumber {
  /** `fails` at once, stays `pending`, succeeds `delayed` (after SANDBOX_LATE_CALLBACK_MS), or `hidden` (accepted, then unknown to the status call). */
  outcome: 'fails' | 'pending' | 'delayed' | 'hidden';
  reason?: MtnReason;
  /** True for the numbers MTN's sandbox documents; the others are Passerelle's additions. */
  mtn: boolean;
  summary: string;
}

/** MTN's sandbox numbers (46733123450-46733123454) and ours (…455-…464); payer or payee alike. */
export const MTN_TEST_NUMBERS: Record<string, MtnTestNumber> = {
  '46733123450': {
    outcome: 'fails',
    reason: 'INTERNAL_PROCESSING_ERROR',
    mtn: true,
    summary: 'Failed (INTERNAL_PROCESSING_ERROR)',
  },
  '46733123451': {
    outcome: 'fails',
    reason: 'APPROVAL_REJECTED',
    mtn: true,
    summary: 'Rejected (APPROVAL_REJECTED)',
  },
  '46733123452': { outcome: 'fails', reason: 'EXPIRED', mtn: true, summary: 'Timeout (EXPIRED)' },
  '46733123453': { outcome: 'pending', mtn: true, summary: 'Ongoing: PENDING forever' },
  '46733123454': {
    outcome: 'delayed',
    mtn: true,
    summary: 'Pending, then SUCCESSFUL after SANDBOX_LATE_CALLBACK_MS',
  },
  '46733123455': { outcome: 'fails', reason: 'NOT_ENOUGH_FUNDS', mtn: false, summary: 'NOT_ENOUGH_FUNDS' },
  '46733123456': {
    outcome: 'fails',
    reason: 'PAYER_LIMIT_REACHED',
    mtn: false,
    summary: 'PAYER_LIMIT_REACHED',
  },
  '46733123457': {
    outcome: 'fails',
    reason: 'PAYEE_NOT_FOUND',
    mtn: false,
    summary: 'PAYEE_NOT_FOUND (the account holder is not active)',
  },
  '46733123458': { outcome: 'fails', reason: 'NOT_ALLOWED', mtn: false, summary: 'NOT_ALLOWED' },
  '46733123459': {
    outcome: 'fails',
    reason: 'NOT_ALLOWED_TARGET_ENVIRONMENT',
    mtn: false,
    summary: 'NOT_ALLOWED_TARGET_ENVIRONMENT',
  },
  '46733123460': {
    outcome: 'fails',
    reason: 'INVALID_CALLBACK_URL_HOST',
    mtn: false,
    summary: 'INVALID_CALLBACK_URL_HOST',
  },
  '46733123461': { outcome: 'fails', reason: 'INVALID_CURRENCY', mtn: false, summary: 'INVALID_CURRENCY' },
  '46733123462': {
    outcome: 'fails',
    reason: 'SERVICE_UNAVAILABLE',
    mtn: false,
    summary: 'SERVICE_UNAVAILABLE',
  },
  '46733123463': {
    outcome: 'fails',
    reason: 'COULD_NOT_PERFORM_TRANSACTION',
    mtn: false,
    summary: 'COULD_NOT_PERFORM_TRANSACTION',
  },
  '46733123464': {
    outcome: 'hidden',
    mtn: false,
    summary:
      'Accepted (202), then the status call answers 404 RESOURCE_NOT_FOUND; the account holder is not active',
  },
};

export interface MtnScenario {
  product: 'collection' | 'disbursement';
  summary: string;
  /** How it ends; `pending`: never. */
  outcome: 'succeeds' | 'fails' | 'pending';
  reason?: MtnReason;
  /** The callback: none, after SANDBOX_LATE_CALLBACK_MS, or sent three times. */
  callback?: 'none' | 'late' | 'thrice';
  /** The status and the callback state one major unit less than requested. */
  understated?: boolean;
  /** How the create call answers, when not a plain 202. */
  answer?: 'http500' | 'slow' | 'late' | 'http502' | 'lost';
}

/** Our scenario vocabulary, by amount (the other sandboxes use the same shape of table). */
export const MTN_SCENARIOS: Record<number, MtnScenario> = {
  6001: {
    product: 'collection',
    outcome: 'fails',
    reason: 'NOT_ENOUGH_FUNDS',
    summary: 'declined: FAILED NOT_ENOUGH_FUNDS after SANDBOX_APPROVAL_DELAY_MS',
  },
  6002: {
    product: 'collection',
    outcome: 'fails',
    reason: 'APPROVAL_REJECTED',
    summary: 'the payer cancels: FAILED APPROVAL_REJECTED',
  },
  6003: { product: 'collection', outcome: 'succeeds', callback: 'none', summary: 'SUCCESSFUL, no callback' },
  6004: {
    product: 'collection',
    outcome: 'succeeds',
    callback: 'late',
    summary: 'SUCCESSFUL, callback after SANDBOX_LATE_CALLBACK_MS',
  },
  6005: {
    product: 'collection',
    outcome: 'succeeds',
    callback: 'thrice',
    summary: 'SUCCESSFUL, callback sent three times',
  },
  6006: {
    product: 'collection',
    outcome: 'succeeds',
    understated: true,
    summary: 'SUCCESSFUL, but the status and the callback state one unit less ("6005")',
  },
  6007: {
    product: 'collection',
    outcome: 'succeeds',
    answer: 'http500',
    summary: 'the request answers HTTP 500 and creates nothing',
  },
  6008: {
    product: 'collection',
    outcome: 'succeeds',
    answer: 'slow',
    summary: 'the request answers after SANDBOX_SLOW_MS, then as usual',
  },
  6009: { product: 'collection', outcome: 'pending', summary: 'PENDING forever' },
  6010: {
    product: 'collection',
    outcome: 'fails',
    reason: 'EXPIRED',
    summary: 'FAILED EXPIRED after SANDBOX_APPROVAL_DELAY_MS',
  },
  6101: {
    product: 'disbursement',
    outcome: 'fails',
    reason: 'INTERNAL_PROCESSING_ERROR',
    summary: 'declined: FAILED INTERNAL_PROCESSING_ERROR after SANDBOX_PROCESSING_DELAY_MS',
  },
  6102: {
    product: 'disbursement',
    outcome: 'succeeds',
    answer: 'late',
    summary: 'executed at once, but the 202 comes after SANDBOX_AMBIGUOUS_DELAY_MS',
  },
  6103: {
    product: 'disbursement',
    outcome: 'succeeds',
    answer: 'http502',
    summary: 'executed at once, but answered HTTP 502',
  },
  6104: {
    product: 'disbursement',
    outcome: 'fails',
    reason: 'NOT_ENOUGH_FUNDS',
    summary: 'FAILED NOT_ENOUGH_FUNDS (balance too low)',
  },
  6105: { product: 'disbursement', outcome: 'pending', summary: 'PENDING forever' },
  6106: {
    product: 'disbursement',
    outcome: 'succeeds',
    answer: 'lost',
    summary:
      'NOT executed: answered HTTP 504 after SANDBOX_AMBIGUOUS_DELAY_MS; the status call then answers 404',
  },
};

/** The scenario a request's amount picks for its product, if any. */
export function mtnScenario(
  product: 'collection' | 'disbursement',
  majorAmount: number,
): MtnScenario | undefined {
  const s = MTN_SCENARIOS[majorAmount];
  return s && s.product === product ? s : undefined;
}

/**
 * The target environments: MTN's sandbox (EUR only), and ours for the local currencies.
 * `decimals`: how many the currency's amounts may carry ("10.50" EUR, "1000" XOF).
 */
export const MTN_TARGET_ENVIRONMENTS: Record<string, { currency: string; decimals: number }> = {
  sandbox: { currency: 'EUR', decimals: 2 },
  mtnivorycoast: { currency: 'XOF', decimals: 0 },
  mtnbenin: { currency: 'XOF', decimals: 0 },
  mtncameroon: { currency: 'XAF', decimals: 0 },
  mtnghana: { currency: 'GHS', decimals: 2 },
  mtnguineaconakry: { currency: 'GNF', decimals: 0 },
};
