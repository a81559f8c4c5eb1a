/**
 * Scenario control for the LigdiCash sandbox: a magic amount (1001 to 1012 XOF) or a magic payer
 * number (national number ending in 0000NN, e.g. +226 70 0000 02) picks what happens. Any other
 * amount or number behaves like a payer who pays. The table is documented in docs/sandbox.md.
 */
export const SCENARIOS = {
  pays: { code: 0, summary: 'The payer pays; one callback event (sent as form and as JSON).' },
  declined: {
    code: 1,
    summary: 'The operator declines (insufficient balance): nocompleted, "Echec (Code04)".',
  },
  cancels: { code: 2, summary: 'The payer cancels: notcompleted without an error code.' },
  no_callback: { code: 3, summary: 'The payer pays but no callback is ever sent: only polling finds it.' },
  late_callback: {
    code: 4,
    summary: 'Payment completes and is notified only after SANDBOX_LATE_CALLBACK_MS.',
  },
  duplicate_callbacks: { code: 5, summary: 'The payer pays; every callback body is sent three times.' },
  wrong_amount: { code: 6, summary: 'The operator records (and reports) one franc less than invoiced.' },
  server_error: { code: 7, summary: 'The create call answers HTTP 500 and creates nothing.' },
  slow: { code: 8, summary: 'The create call answers after SANDBOX_SLOW_MS; then the payer pays.' },
  never: { code: 9, summary: 'Nothing ever happens: the invoice stays pending, no callback.' },
  status_errors: {
    code: 10,
    summary: 'The payer pays; the status call answers HTTP 503 twice before answering.',
  },
  grouped_amount: {
    code: 11,
    summary: 'The payer pays; the status call and the callbacks write the amount with a space ("1 011").',
  },
  status_down: { code: 12, summary: 'The payer pays; the status call answers HTTP 503 every time.' },
} as const;

export type Scenario = keyof typeof SCENARIOS;

const BY_CODE = new Map<number, Scenario>(
  (Object.entries(SCENARIOS) as [Scenario, { code: number }][]).map(([name, s]) => [s.code, name]),
);

export function scenarioFor(amount: number, customer: string): Scenario {
  if (amount >= 1001 && amount <= 1012) return BY_CODE.get(amount - 1000) ?? 'pays';
  const magic = /0000(\d{2})$/.exec(customer.replace(/\D/g, ''));
  if (magic) return BY_CODE.get(Number(magic[1])) ?? 'pays';
  return 'pays';
}

/**
 * Payout scenarios: a magic amount (2001 to 2008 XOF) or a recipient number ending in 000021 or
 * 000022. Any other payout is executed and notified.
 */
export const PAYOUT_SCENARIOS = {
  executes: {
    trigger: 'any other',
    summary: 'Executed after SANDBOX_PROCESSING_DELAY_MS; one callback event (form + JSON).',
  },
  declined: { trigger: 'amount 2001', summary: 'Accepted, then fails (nocompleted, "Transfert échoué").' },
  ambiguous_timeout: {
    trigger: 'amount 2002',
    summary:
      'Executed at once, but the answer comes after SANDBOX_AMBIGUOUS_DELAY_MS (past the caller timeout).',
  },
  ambiguous_5xx: { trigger: 'amount 2003', summary: 'Executed at once, but the answer is HTTP 502.' },
  no_callback: { trigger: 'amount 2004', summary: 'Executed; no callback: only the status call tells.' },
  duplicate_callbacks: {
    trigger: 'amount 2005',
    summary: 'Executed; every callback body is sent three times.',
  },
  balance_low: {
    trigger: 'amount 2006',
    summary: 'Refused: merchant payout "Echec (Code08)", client payout "Echec (Code04)".',
  },
  slow: {
    trigger: 'amount 2007',
    summary: 'Registered at once and executed; the create call answers after SANDBOX_SLOW_MS.',
  },
  never: { trigger: 'amount 2008', summary: 'Accepted and left pending forever, no callback.' },
  lost: {
    trigger: 'amount 2009',
    summary: 'Lost on the way: NOT executed, and the answer never comes in time (504).',
  },
  wrong_amount: {
    trigger: 'amount 2010',
    summary: 'Executed, but the status call and the callbacks report one franc less than requested.',
  },
  recipient_unknown: {
    trigger: 'number …000021',
    summary:
      'Refused: client payout "Echec (Code02)" (no account), merchant payout "Echec (Code05)" (operator not identified).',
  },
  pending_24h: {
    trigger: 'number …000022',
    summary:
      'Refused as if a payout to this number were pending: client "Echec (Code03a)", merchant "Echec (Code04)".',
  },
} as const;

export type PayoutScenario = keyof typeof PAYOUT_SCENARIOS;

const PAYOUT_BY_AMOUNT: Record<number, PayoutScenario> = {
  2001: 'declined',
  2002: 'ambiguous_timeout',
  2003: 'ambiguous_5xx',
  2004: 'no_callback',
  2005: 'duplicate_callbacks',
  2006: 'balance_low',
  2007: 'slow',
  2008: 'never',
  2009: 'lost',
  2010: 'wrong_amount',
};

export function payoutScenarioFor(amount: number, customer: string): PayoutScenario {
  const byAmount = PAYOUT_BY_AMOUNT[amount];
  if (byAmount) return byAmount;
  const digits = customer.replace(/\D/g, '');
  if (digits.endsWith('000021')) return 'recipient_unknown';
  if (digits.endsWith('000022')) return 'pending_24h';
  return 'executes';
}
