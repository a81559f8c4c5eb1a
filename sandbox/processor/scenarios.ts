/**
 * The card processor sandbox's scenarios (docs/card-processor.md, "Test cards" and "Test
 * amounts"): the card number picks the 3-D Secure outcome, the payment's amount (minor units, any
 * currency) what the issuer and the scheme do with the authorisation, its capture and refunds.
 */

export type TransStatus = 'Y' | 'A' | 'C' | 'N' | 'R' | 'U';
export type Brand = 'visa' | 'mastercard';

export interface CardScenario {
  /** The ARes's transStatus. */
  transStatus: TransStatus;
  /** EMV transStatusReason, for N, R and U. */
  transStatusReason?: string;
  summary: string;
}

const CARD_OUTCOMES = {
  Y: { transStatus: 'Y', summary: 'frictionless, authenticated' },
  A: { transStatus: 'A', summary: 'frictionless, attempted' },
  C: { transStatus: 'C', summary: 'challenge (code 123456)' },
  N: {
    transStatus: 'N',
    transStatusReason: '01',
    summary: 'not authenticated (01 card authentication failed)',
  },
  R: { transStatus: 'R', transStatusReason: '11', summary: 'rejected (11 suspected fraud)' },
  U: { transStatus: 'U', transStatusReason: '08', summary: 'authentication unavailable (08 no card record)' },
} satisfies Record<TransStatus, CardScenario>;

/** The test cards: a Visa and a Mastercard for each outcome (every number passes Luhn). */
export const PROCESSOR_TEST_CARDS: Record<string, CardScenario & { brand: Brand }> = {
  '4000000000000101': { brand: 'visa', ...CARD_OUTCOMES.Y },
  '5200000000000106': { brand: 'mastercard', ...CARD_OUTCOMES.Y },
  '4000000000000200': { brand: 'visa', ...CARD_OUTCOMES.A },
  '5200000000000205': { brand: 'mastercard', ...CARD_OUTCOMES.A },
  '4000000000000309': { brand: 'visa', ...CARD_OUTCOMES.C },
  '5200000000000304': { brand: 'mastercard', ...CARD_OUTCOMES.C },
  '4000000000000408': { brand: 'visa', ...CARD_OUTCOMES.N },
  '5200000000000403': { brand: 'mastercard', ...CARD_OUTCOMES.N },
  '4000000000000507': { brand: 'visa', ...CARD_OUTCOMES.R },
  '5200000000000502': { brand: 'mastercard', ...CARD_OUTCOMES.R },
  '4000000000000606': { brand: 'visa', ...CARD_OUTCOMES.U },
  '5200000000000601': { brand: 'mastercard', ...CARD_OUTCOMES.U },
};

/** The 3-D Secure outcome of a card: its test card's, or frictionless Y for any other. */
export function cardScenario(number: string): CardScenario {
  return PROCESSOR_TEST_CARDS[number] ?? CARD_OUTCOMES.Y;
}

export interface AmountScenario {
  summary: string;
  /** The authorisation is declined with this ISO 8583 response code and reason. */
  decline?: { responseCode: string; declineReason: string };
  /** The authorisation is answered 502 upstream_error (the payment exists), or after SANDBOX_PROCESSOR_SLOW_MS. */
  answer?: 'http502' | 'slow';
  captureDeclined?: boolean;
  refundDeclined?: boolean;
}

export const PROCESSOR_AMOUNTS: Record<number, AmountScenario> = {
  8001: {
    decline: { responseCode: '05', declineReason: 'do_not_honour' },
    summary: 'authorisation declined 05 (do_not_honour)',
  },
  8002: {
    decline: { responseCode: '51', declineReason: 'insufficient_funds' },
    summary: 'authorisation declined 51 (insufficient_funds)',
  },
  8003: {
    answer: 'http502',
    summary: 'authorised, answered 502 upstream_error (the payment exists; GET by reference finds it)',
  },
  8004: { captureDeclined: true, summary: 'authorised; the capture is declined (capture_declined)' },
  8005: { refundDeclined: true, summary: 'authorised; refunds are declined (refund_declined)' },
  8006: { answer: 'slow', summary: 'authorised, answered after SANDBOX_PROCESSOR_SLOW_MS' },
};

export function amountScenario(amount: number): AmountScenario | undefined {
  return PROCESSOR_AMOUNTS[amount];
}

/** Luhn (mod 10) check of a string of digits. */
export function luhnValid(number: string): boolean {
  if (!/^\d+$/.test(number)) return false;
  let sum = 0;
  for (let i = 0; i < number.length; i++) {
    let d = Number(number[number.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** The brand by the first digits: 4 Visa; 51-55 and 2221-2720 Mastercard; else none. */
export function brandOf(number: string): Brand | undefined {
  if (number.startsWith('4')) return 'visa';
  const two = Number(number.slice(0, 2));
  if (two >= 51 && two <= 55) return 'mastercard';
  const four = Number(number.slice(0, 4));
  if (four >= 2221 && four <= 2720) return 'mastercard';
  return undefined;
}

/** The ECI of an authenticated (Y) or attempted (A) authentication, per brand. */
export function eciOf(brand: Brand, status: 'Y' | 'A'): string {
  if (brand === 'visa') return status === 'Y' ? '05' : '06';
  return status === 'Y' ? '02' : '01';
}

/** ISO 4217: the currencies the processor takes, alpha → numeric and exponent. */
export const PROCESSOR_CURRENCIES: Record<string, { numeric: string; exponent: number }> = {
  XOF: { numeric: '952', exponent: 0 },
  XAF: { numeric: '950', exponent: 0 },
  EUR: { numeric: '978', exponent: 2 },
  USD: { numeric: '840', exponent: 2 },
};

export function currencyByNumeric(numeric: string): { alpha: string; exponent: number } | undefined {
  const found = Object.entries(PROCESSOR_CURRENCIES).find(([, c]) => c.numeric === numeric);
  return found ? { alpha: found[0], exponent: found[1].exponent } : undefined;
}

/** The sandbox's one-time code on the ACS page. */
export const PROCESSOR_OTP = '123456';
/** How many wrong codes end a challenge (N, reason 01). */
export const PROCESSOR_OTP_TRIES = 3;
