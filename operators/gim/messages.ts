import type { IsoMessage } from './iso8583.js';

/**
 * The messages of our GIM-UEMOA profile (docs/gim-uemoa.md, "Messages"), built from what a card
 * payment records before it is sent: its STAN, RRN and local date and time, so that a reversal or
 * a completion can be built again after any crash. Pure.
 */
export interface CardTransaction {
  pan: string;
  /** `YYMM`. */
  expiry: string;
  /** Minor units. */
  amount: number;
  /** ISO 4217 numeric (`952`). */
  currencyNumeric: string;
  stan: string;
  rrn: string;
  /** When the original was made (fields 12 and 13), and when it was first sent (field 7 of the original). */
  localDateTime: Date;
  originalTransmission: string;
  acquirerId: string;
  terminalId: string;
  merchantId: string;
}

export const PROCESSING = { purchase: '000000', refund: '200000' } as const;

function p2(n: number): string {
  return String(n).padStart(2, '0');
}

function common(t: CardTransaction, processing: string): IsoMessage['fields'] {
  const at = t.localDateTime;
  return {
    2: t.pan,
    3: processing,
    4: String(t.amount),
    11: t.stan,
    12: `${p2(at.getUTCHours())}${p2(at.getUTCMinutes())}${p2(at.getUTCSeconds())}`,
    13: `${p2(at.getUTCMonth() + 1)}${p2(at.getUTCDate())}`,
    14: t.expiry,
    22: '010',
    32: t.acquirerId,
    37: t.rrn,
    41: t.terminalId,
    42: t.merchantId,
    49: t.currencyNumeric,
  };
}

/** Field 90: the original's MTI, STAN, transmission time, acquirer (11 digits), forwarding (none). */
export function originalDataElements(originalMti: string, t: CardTransaction): string {
  return `${originalMti}${t.stan.padStart(6, '0')}${t.originalTransmission}${t.acquirerId.padStart(11, '0')}${'0'.repeat(11)}`;
}

export function authorisationRequest(t: CardTransaction): IsoMessage {
  return { mti: '0100', fields: common(t, PROCESSING.purchase) };
}

/** Captures an approved authorisation; `repeat` > 0 sends it as 0221 (same STAN and RRN). */
export function completionAdvice(t: CardTransaction, approvalCode: string, repeat: number): IsoMessage {
  return {
    mti: repeat > 0 ? '0221' : '0220',
    fields: { ...common(t, PROCESSING.purchase), 38: approvalCode, 90: originalDataElements('0100', t) },
  };
}

export function refundRequest(t: CardTransaction): IsoMessage {
  return { mti: '0200', fields: common(t, PROCESSING.refund) };
}

/**
 * Cancels an authorisation (or a refund) whose answer never came, or that will not be captured:
 * the first send is a 0400 request, the next a 0420 advice, every later one a 0421 repeat, until
 * the switch acknowledges (0410 / 0430).
 */
export function reversal(
  t: CardTransaction,
  original: { mti: '0100' | '0200'; approvalCode?: string },
  send: number,
): IsoMessage {
  const processing = original.mti === '0200' ? PROCESSING.refund : PROCESSING.purchase;
  return {
    mti: send === 0 ? '0400' : send === 1 ? '0420' : '0421',
    fields: {
      ...common(t, processing),
      ...(original.approvalCode ? { 38: original.approvalCode } : {}),
      90: originalDataElements(original.mti, t),
    },
  };
}

/** Field 39 in our words (docs/gim-uemoa.md, "Response codes"). */
export function responseMeaning(
  code: string,
): { approved: true } | { approved: false; failure: { code: string; message: string }; ourFault?: true } {
  const declined = (ours: string, text: string, ourFault?: true) => ({
    approved: false as const,
    failure: { code: ours, message: `GIM-UEMOA: ${text} (${code})` },
    ...(ourFault ? { ourFault } : {}),
  });
  switch (code) {
    case '00':
      return { approved: true };
    case '05':
    case '12':
      return declined('card_declined', 'the issuer declined');
    case '13':
      return declined('invalid_amount', 'invalid amount');
    case '14':
      return declined('card_number_invalid', 'invalid card number');
    case '51':
      return declined('insufficient_funds', 'insufficient funds');
    case '54':
      return declined('card_expired', 'expired card');
    case '91':
    case '96':
      return declined('issuer_unavailable', 'issuer or switch unavailable');
    case '30':
      return declined('operator_configuration', 'format error', true);
    case '63':
      return declined('operator_authentication_failed', 'security violation (MAC)', true);
    default:
      return declined('card_declined', `response code ${code}`);
  }
}
