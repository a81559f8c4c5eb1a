import { describe, expect, it } from 'vitest';
import {
  decideAtDeadline,
  decideDisbursement,
  decideDisbursementAtDeadline,
  decideFromStatus,
  nextPollDelay,
  weighCallbacks,
} from '../../lib/payment-decisions.js';

describe('decideFromStatus', () => {
  it('succeeds only when the status API agrees on the amount', () => {
    expect(decideFromStatus({ reachable: true, status: 'succeeded', amount: 500 }, 500)).toMatchObject({
      final: true,
      status: 'succeeded',
    });
    expect(decideFromStatus({ reachable: true, status: 'succeeded', amount: 499 }, 500)).toMatchObject({
      final: true,
      status: 'unknown',
      failure: { code: 'amount_mismatch' },
    });
  });

  it('ends on definite failures and keeps waiting otherwise', () => {
    expect(
      decideFromStatus({ reachable: true, status: 'failed', operatorStatus: 'nocompleted' }, 1),
    ).toMatchObject({ final: true, status: 'failed' });
    expect(decideFromStatus({ reachable: true, status: 'cancelled' }, 1)).toMatchObject({
      final: true,
      status: 'cancelled',
    });
    expect(decideFromStatus({ reachable: true, status: 'pending' }, 1)).toEqual({ final: false });
    expect(decideFromStatus({ reachable: true, status: 'unknown' }, 1)).toEqual({ final: false });
    expect(decideFromStatus({ reachable: false }, 1)).toEqual({ final: false });
  });
});

describe('decideAtDeadline', () => {
  it('expires what is still open, but honours a last-minute definite answer', () => {
    expect(decideAtDeadline({ reachable: true, status: 'pending' }, 1)).toMatchObject({
      status: 'expired',
      failure: { code: 'expired' },
    });
    expect(decideAtDeadline({ reachable: false }, 1).reason).toContain('did not answer');
    expect(decideAtDeadline({ reachable: true, status: 'succeeded', amount: 1 }, 1).status).toBe('succeeded');
  });
});

describe('weighCallbacks', () => {
  it('confirms callbacks the status API agrees with and rejects those it contradicts', () => {
    const hints = [
      { callbackId: 1, reportedStatus: 'succeeded' as const, amount: 100 },
      { callbackId: 2, reportedStatus: 'failed' as const, amount: 100 },
      { callbackId: 3, reportedStatus: 'pending' as const },
    ];
    expect(weighCallbacks(hints, { reachable: true, status: 'succeeded', amount: 100 }, 100)).toEqual({
      confirmed: [1, 3],
      rejected: [2],
      undecided: [],
    });
  });

  it('leaves callbacks undecided while the status API does not answer', () => {
    const hints = [{ callbackId: 1, reportedStatus: 'succeeded' as const }];
    expect(weighCallbacks(hints, { reachable: false }, 100)).toEqual({
      confirmed: [],
      rejected: [],
      undecided: hints,
    });
  });
});

describe('nextPollDelay', () => {
  it('doubles up to the cap', () => {
    expect(nextPollDelay(5, 60)).toBe(10);
    expect(nextPollDelay(40, 60)).toBe(60);
    expect(nextPollDelay(60, 60)).toBe(60);
  });
});

describe('decideDisbursement', () => {
  it('captures only on a confirmed success for our amount, and never "expires" a payout', () => {
    expect(decideDisbursement({ reachable: true, status: 'succeeded', amount: 500 }, 500)).toMatchObject({
      status: 'succeeded',
    });
    expect(decideDisbursement({ reachable: true, status: 'succeeded', amount: 400 }, 500)).toMatchObject({
      status: 'unknown',
    });
    expect(decideDisbursement({ reachable: true, status: 'failed' }, 500)).toMatchObject({
      status: 'failed',
    });
    expect(decideDisbursement({ reachable: true, status: 'pending' }, 500)).toEqual({ final: false });
    expect(decideDisbursementAtDeadline({ reachable: true, status: 'pending' }, 500)).toMatchObject({
      status: 'unknown',
      failure: { code: 'operator_outcome_unknown' },
    });
    expect(decideDisbursementAtDeadline({ reachable: false }, 500).status).toBe('unknown');
  });
});
