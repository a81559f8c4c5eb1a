import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { NUMBERING_PLANS, networkForNationalNumber, type CountryCode, type Network } from './networks.js';

export interface Msisdn {
  /** E.164 with the plus: +22670123456. */
  e164: string;
  /** Country code and national number, digits only, as most operators want it: 22670123456. */
  international: string;
  national: string;
  country: CountryCode;
  /** Network the prefix points to (portability makes it a likelihood, not a certainty). */
  network: Network | undefined;
}

export type PhoneParseResult = { ok: true; value: Msisdn } | { ok: false; reason: string };

const SUPPORTED = new Set<string>(Object.keys(NUMBERING_PLANS));

/**
 * Parses a mobile number given in international form (+226..., 00226... or 226...), checks that it
 * belongs to a supported country and has that country's national length, and finds its network.
 */
export function parseMsisdn(input: string): PhoneParseResult {
  const compact = input.replace(/[\s.()-]/g, '');
  if (!/^(\+|00)?\d{8,15}$/.test(compact)) {
    return {
      ok: false,
      reason: 'must be an international number: digits with the country code, e.g. +22670123456',
    };
  }
  const withPlus = compact.startsWith('+') ? compact : `+${compact.replace(/^00/, '')}`;
  const parsed = parsePhoneNumberFromString(withPlus);
  if (!parsed?.country || !SUPPORTED.has(parsed.country)) {
    return { ok: false, reason: `country not supported (${Object.keys(NUMBERING_PLANS).join(', ')})` };
  }
  const country = parsed.country as CountryCode;
  const national = String(parsed.nationalNumber);
  const plan = NUMBERING_PLANS[country];
  if (national.length !== plan.nationalLength) {
    return {
      ok: false,
      reason: `a ${country} number has ${plan.nationalLength} digits after +${plan.callingCode}`,
    };
  }
  return {
    ok: true,
    value: {
      e164: `+${plan.callingCode}${national}`,
      international: `${plan.callingCode}${national}`,
      national,
      country,
      network: networkForNationalNumber(country, national),
    },
  };
}

/**
 * What `parseMsisdn` can accept, as a regular expression for the API document: an international
 * number of a supported country (with `+` or `00` or neither, separators allowed) with its
 * country's number of digits. The parser then also checks the network prefix.
 */
export const PHONE_PATTERN = (() => {
  const sep = '[\\s.()-]*';
  const countries = Object.values(NUMBERING_PLANS)
    .map((plan) => `${plan.callingCode}(?:${sep}\\d){${plan.nationalLength}}`)
    .join('|');
  return `^${sep}(?:\\+|00)?${sep}(?:${countries})${sep}$`;
})();
