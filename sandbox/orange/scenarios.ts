/**
 * Orange Money WebPay sandbox scenarios: a magic amount picks what happens, any other amount
 * behaves normally. Webpayments (payins) use 5001-5010; cash-ins and refunds (payouts) use
 * 5101-5106. An amount of one range means nothing to the other kind (a cash-in of 5003 pays).
 */
export const ORANGE_SCENARIOS = {
  5001: 'webpayment declined: FAILED when the payer posts the page (notified, redirect to cancel_url)',
  5002: 'payer cancels: FAILED when the page is posted (notified, redirect to cancel_url)',
  5003: 'webpayment paid, no notification',
  5004: 'webpayment paid, notification after SANDBOX_LATE_CALLBACK_MS',
  5005: 'webpayment paid, notification sent three times',
  5006: 'webpayment paid, the settlement report states one unit less',
  5007: 'webpayment answers HTTP 500 and creates nothing',
  5008: 'webpayment answers after SANDBOX_SLOW_MS (created at once), then behaves normally',
  5009: 'the payer never finishes: PENDING forever (never expires)',
  5010: 'session expires: EXPIRED as soon as the page is posted (no notification)',
  5101: 'cash-in/refund accepted, then FAILED after SANDBOX_PROCESSING_DELAY_MS (notified)',
  5102: 'cash-in/refund executed at once, the answer comes after SANDBOX_AMBIGUOUS_DELAY_MS',
  5103: 'cash-in/refund executed at once, answered HTTP 502',
  5104: 'cash-in/refund refused: 400 insufficient_balance',
  5105: 'cash-in/refund accepted and PENDING forever',
  5106: 'cash-in/refund NOT executed, answered 504 after SANDBOX_AMBIGUOUS_DELAY_MS (status by order_id: 404)',
} as const;

export type OrangeScenario = keyof typeof ORANGE_SCENARIOS;

export type OrangeKind = 'webpayment' | 'cashin' | 'refund';

/** The scenario an amount picks for a kind of transaction, if any (undefined: behaves normally). */
export function orangeScenario(kind: OrangeKind, amount: number): OrangeScenario | undefined {
  const [from, to] = kind === 'webpayment' ? [5001, 5010] : [5101, 5106];
  return amount >= from && amount <= to ? (amount as OrangeScenario) : undefined;
}
