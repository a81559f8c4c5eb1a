/**
 * Fees: a percentage in basis points (150 = 1.5 %) plus a fixed part, in minor units.
 *
 * Rounding rule: the percentage part is rounded half up to the nearest minor unit (XOF: the
 * franc), computed in exact integer arithmetic; then the fixed part is added. For a payin the fee
 * is capped at the amount, so a payin never credits the merchant a negative sum.
 */
export interface FeeSchedule {
  percentBps: number;
  fixedAmount: number;
}

export function computeFee(amount: number, schedule: FeeSchedule): number {
  if (!Number.isSafeInteger(amount) || amount < 0)
    throw new RangeError(`amount must be a whole number, got ${amount}`);
  const scaled = BigInt(amount) * BigInt(schedule.percentBps);
  const percentPart = (scaled + 5_000n) / 10_000n;
  return Number(percentPart) + schedule.fixedAmount;
}

export function payinFee(amount: number, schedule: FeeSchedule): number {
  return Math.min(amount, computeFee(amount, schedule));
}
