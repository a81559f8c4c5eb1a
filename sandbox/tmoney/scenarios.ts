/**
 * TMoney sandbox scenarios: a magic amount picks what happens (any other amount pays). Payins
 * (online page and MBANKING debit) use 3001-3010; payouts (MBANKING credit) 3101-3105; a
 * recipient number ending in 000021 has no TMoney account.
 */
export const TMONEY_PAYIN_SCENARIOS = {
  pays: { amount: 0, summary: 'The payer pays; one notification (online) / SUCCES (MBANKING).' },
  payment_failed: { amount: 3001, summary: 'NOK PAYMENT_FAILED / statut ECHEC.' },
  cancels: { amount: 3002, summary: 'NOK CANCEL / statut ANNULE.' },
  authentication: { amount: 3003, summary: 'NOK AUTHENTICATION (as after three wrong PINs) / statut ECHEC.' },
  session_expires: {
    amount: 3004,
    summary:
      'The payer starts but never finishes: NOK EXPIRED_SESSION when the session ends / statut EXPIRE.',
  },
  no_notification: { amount: 3005, summary: 'The payer pays; no notification is sent.' },
  duplicate_notifications: { amount: 3006, summary: 'The payer pays; the notification is sent three times.' },
  wrong_amount: { amount: 3007, summary: 'The notification reports one franc less than the order.' },
  late_notification: { amount: 3008, summary: 'Paid, but notified after SANDBOX_LATE_CALLBACK_MS.' },
  never: { amount: 3009, summary: 'Nothing happens: no payment, no notification.' },
  server_error: {
    amount: 3010,
    summary:
      'The MBANKING debit answers HTTP 500. (The session request carries no amount: POST _sandbox/session-failures {count} makes the next ones answer HTTP 500.)',
  },
} as const;

export const TMONEY_PAYOUT_SCENARIOS = {
  executes: { amount: 0, summary: 'Credited after SANDBOX_PROCESSING_DELAY_MS (SUCCES).' },
  declined: { amount: 3101, summary: 'Accepted, then ECHEC.' },
  ambiguous_timeout: {
    amount: 3102,
    summary: 'Credited at once; the answer comes after SANDBOX_AMBIGUOUS_DELAY_MS.',
  },
  ambiguous_5xx: { amount: 3103, summary: 'Credited at once; the answer is HTTP 502.' },
  balance_low: { amount: 3104, summary: 'Refused: code 402 (partner balance too low).' },
  never: { amount: 3105, summary: 'Accepted and left EN_ATTENTE.' },
} as const;

export type TmoneyPayinScenario = keyof typeof TMONEY_PAYIN_SCENARIOS;
export type TmoneyPayoutScenario = keyof typeof TMONEY_PAYOUT_SCENARIOS;

export function tmoneyPayinScenario(amount: number): TmoneyPayinScenario {
  const hit = Object.entries(TMONEY_PAYIN_SCENARIOS).find(([, s]) => s.amount === amount);
  return (hit?.[0] as TmoneyPayinScenario | undefined) ?? 'pays';
}

export function tmoneyPayoutScenario(amount: number): TmoneyPayoutScenario {
  const hit = Object.entries(TMONEY_PAYOUT_SCENARIOS).find(([, s]) => s.amount === amount);
  return (hit?.[0] as TmoneyPayoutScenario | undefined) ?? 'executes';
}
