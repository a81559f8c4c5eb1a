import { describe, expect, it } from 'vitest';
import { mapPaymentCode, registrationRefusal } from '../../operators/paygate/mapping.js';

describe("PayGateGlobal's two enums", () => {
  it('reads 0, 2, 4, 6 as payment codes in status answers', () => {
    expect(mapPaymentCode(0).status).toBe('succeeded');
    expect(mapPaymentCode(2).status).toBe('pending');
    expect(mapPaymentCode(4).status).toBe('expired');
    expect(mapPaymentCode(6).status).toBe('cancelled');
    expect(mapPaymentCode(9).status).toBe('unknown');
  });

  it('reads the same numbers as registration codes in /pay answers', () => {
    expect(registrationRefusal(2)).toMatchObject({
      failure: { code: 'operator_authentication_failed' },
      operatorSide: true,
    });
    expect(registrationRefusal(4).failure.code).toBe('invalid_request');
    expect(registrationRefusal(6).failure.code).toBe('duplicate_transaction');
  });
});
