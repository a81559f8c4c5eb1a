import { describe, expect, it } from 'vitest';
import { mapMbankingStatut, mapNotification } from '../../operators/tmoney/mapping.js';

describe('TMoney words', () => {
  it.each([
    ['OK', undefined, 'succeeded'],
    ['NOK', 'CANCEL', 'cancelled'],
    ['NOK', 'AUTHENTICATION', 'failed'],
    ['NOK', 'PAYMENT_FAILED', 'failed'],
    ['NOK', 'EXPIRED_SESSION', 'expired'],
    ['NOK', 'SOMETHING_NEW', 'failed'],
    ['MAYBE', undefined, 'unknown'],
  ])('notification %s/%s is %s', (status, error, ours) => {
    expect(mapNotification(status, error).status).toBe(ours);
  });

  it.each([
    ['SUCCES', 'succeeded'],
    ['EN_ATTENTE', 'pending'],
    ['ECHEC', 'failed'],
    ['ANNULE', 'cancelled'],
    ['EXPIRE', 'expired'],
    [undefined, 'unknown'],
  ])('MBANKING statut %s is %s', (statut, ours) => {
    expect(mapMbankingStatut(statut).status).toBe(ours);
  });
});
