import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { computeFee, payinFee } from '../../lib/fees.js';

describe('fees', () => {
  it.each([
    [10_000, 150, 0, 150],
    [1_000, 150, 0, 15],
    [999, 150, 0, 15], // 14.985 rounds half up to 15
    [966, 150, 0, 14], // 14.49 rounds to 14
    [100, 50, 0, 1], // 0.5 rounds half up to 1
    [99, 50, 0, 0], // 0.495 rounds down
    [5_000, 100, 25, 75],
    [5_000, 0, 100, 100],
    [0, 150, 0, 0],
  ])('%i at %i bps + %i -> %i', (amount, bps, fixed, fee) => {
    expect(computeFee(amount, { percentBps: bps, fixedAmount: fixed })).toBe(fee);
  });

  it('never credits a negative payin: the payin fee is capped at the amount', () => {
    expect(payinFee(50, { percentBps: 0, fixedAmount: 100 })).toBe(50);
  });

  it('is exact for large amounts (no float drift)', () => {
    expect(computeFee(900_719_925_474_099, { percentBps: 9_999, fixedAmount: 0 })).toBe(900_629_853_481_552);
  });

  it('grows with the amount and stays within [fixed, amount*bps/10000 + fixed + 1] (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1e12 }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 1e6 }),
        (a, bps, fixed) => {
          const fee = computeFee(a, { percentBps: bps, fixedAmount: fixed });
          expect(Number.isSafeInteger(fee)).toBe(true);
          expect(fee).toBeGreaterThanOrEqual(fixed);
          expect(fee - fixed).toBeLessThanOrEqual(Math.ceil((a * bps) / 10_000));
          expect(computeFee(a + 1, { percentBps: bps, fixedAmount: fixed })).toBeGreaterThanOrEqual(fee);
        },
      ),
    );
  });
});
