/**
 * Scenario control for the LigdiCash sandbox: a magic amount (1001 to 1010 XOF) or a magic payer
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
} as const;

export type Scenario = keyof typeof SCENARIOS;

const BY_CODE = new Map<number, Scenario>(
  (Object.entries(SCENARIOS) as [Scenario, { code: number }][]).map(([name, s]) => [s.code, name]),
);

export function scenarioFor(amount: number, customer: string): Scenario {
  if (amount >= 1001 && amount <= 1010) return BY_CODE.get(amount - 1000) ?? 'pays';
  const magic = /0000(\d{2})$/.exec(customer.replace(/\D/g, ''));
  if (magic) return BY_CODE.get(Number(magic[1])) ?? 'pays';
  return 'pays';
}
