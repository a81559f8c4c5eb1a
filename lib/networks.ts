/**
 * Mobile networks by number prefix. Source: ../shared/reference/operators-facts.md, "Mobile
 * prefixes (libphonenumber carrier data, 2026)". Number portability exists, so a prefix gives
 * the likely network, not a certainty: an explicit network chosen by the merchant wins.
 */
export const NETWORKS = {
  orange_bf: { country: 'BF', name: 'Orange Burkina' },
  moov_bf: { country: 'BF', name: 'Moov Africa Burkina (Onatel)' },
  telecel_bf: { country: 'BF', name: 'Telecel Faso' },
  togocel_tg: { country: 'TG', name: 'Togocel (TMoney)' },
  moov_tg: { country: 'TG', name: 'Moov Africa Togo (Flooz)' },
  moov_ci: { country: 'CI', name: "Moov Africa Côte d'Ivoire" },
  mtn_ci: { country: 'CI', name: "MTN Côte d'Ivoire" },
  orange_ci: { country: 'CI', name: "Orange Côte d'Ivoire" },
  mtn_bj: { country: 'BJ', name: 'MTN Bénin' },
  moov_bj: { country: 'BJ', name: 'Moov Africa Bénin' },
  celtiis_bj: { country: 'BJ', name: 'Celtiis Bénin' },
  orange_ml: { country: 'ML', name: 'Orange Mali' },
  moov_ml: { country: 'ML', name: 'Moov Africa Mali (Malitel)' },
  telecel_ml: { country: 'ML', name: 'Telecel Mali' },
  orange_sn: { country: 'SN', name: 'Orange Sénégal' },
  free_sn: { country: 'SN', name: 'Free Sénégal' },
  expresso_sn: { country: 'SN', name: 'Expresso Sénégal' },
  airtel_ne: { country: 'NE', name: 'Airtel Niger' },
  moov_ne: { country: 'NE', name: 'Moov Africa Niger' },
  zamani_ne: { country: 'NE', name: 'Zamani Telecom Niger' },
  orange_gn: { country: 'GN', name: 'Orange Guinée' },
  mtn_gn: { country: 'GN', name: 'MTN Guinée' },
  cellcom_gn: { country: 'GN', name: 'Cellcom Guinée' },
  orange_cm: { country: 'CM', name: 'Orange Cameroun' },
  mtn_cm: { country: 'CM', name: 'MTN Cameroon' },
  nexttel_cm: { country: 'CM', name: 'Nexttel Cameroun' },
  mtn_gh: { country: 'GH', name: 'MTN Ghana' },
  telecel_gh: { country: 'GH', name: 'Telecel Ghana' },
  airteltigo_gh: { country: 'GH', name: 'AirtelTigo (AT) Ghana' },
} as const;

export type Network = keyof typeof NETWORKS;
export const NETWORK_CODES = Object.keys(NETWORKS) as [Network, ...Network[]];

export const COUNTRY_CODES = ['TG', 'BF', 'CI', 'BJ', 'ML', 'SN', 'NE', 'GN', 'CM', 'GH'] as const;
export type CountryCode = (typeof COUNTRY_CODES)[number];

/**
 * The currency mobile money uses in each country (ISO 4217): the UEMOA's West African CFA franc,
 * CEMAC's Central African CFA franc in Cameroon, the Guinean franc and the Ghanaian cedi (the
 * only one with minor units: pesewas).
 */
export const COUNTRY_CURRENCIES = {
  TG: 'XOF',
  BF: 'XOF',
  CI: 'XOF',
  BJ: 'XOF',
  ML: 'XOF',
  SN: 'XOF',
  NE: 'XOF',
  GN: 'GNF',
  CM: 'XAF',
  GH: 'GHS',
} as const satisfies Record<CountryCode, string>;

/** The currency a network's wallets hold. */
export function networkCurrency(network: Network): (typeof COUNTRY_CURRENCIES)[CountryCode] {
  return COUNTRY_CURRENCIES[NETWORKS[network].country];
}

/**
 * Networks whose direct payin the payer authorises with a one-time code obtained by dialling a
 * USSD string before the payin is sent (LigdiCash guide §1.5, Orange Burkina: `*144*4*6*amount#`).
 * The hosted checkout shows the string with the amount filled in, then asks for the code.
 */
export const OTP_DIAL_CODES: Partial<Record<keyof typeof NETWORKS, (amount: number) => string>> = {
  orange_bf: (amount) => `*144*4*6*${amount}#`,
};

interface CountryPlan {
  callingCode: string;
  nationalLength: number;
  /** Prefix of the national number -> network; the longest matching prefix wins. */
  prefixes: Record<string, Network>;
}

function range(from: number, to: number, width = 2): string[] {
  const out: string[] = [];
  for (let n = from; n <= to; n++) out.push(String(n).padStart(width, '0'));
  return out;
}

function assign(network: Network, prefixes: string[]): Record<string, Network> {
  return Object.fromEntries(prefixes.map((p) => [p, network]));
}

export const NUMBERING_PLANS: Record<CountryCode, CountryPlan> = {
  TG: {
    callingCode: '228',
    nationalLength: 8,
    prefixes: {
      ...assign('togocel_tg', ['70', '71', '72', '90', '91', '92', '93']),
      ...assign('moov_tg', ['78', '79', '96', '97', '98', '99']),
    },
  },
  BF: {
    callingCode: '226',
    nationalLength: 8,
    prefixes: {
      ...assign('orange_bf', [
        ...range(4, 7),
        ...range(40, 49),
        ...range(54, 57),
        ...range(64, 67),
        ...range(74, 77),
      ]),
      ...assign('moov_bf', [...range(1, 3), ...range(50, 53), ...range(60, 63), ...range(70, 73)]),
      ...assign('telecel_bf', ['58', '68', '69', '78', '79']),
    },
  },
  CI: {
    callingCode: '225',
    nationalLength: 10,
    prefixes: { '01': 'moov_ci', '05': 'mtn_ci', '07': 'orange_ci' },
  },
  BJ: {
    callingCode: '229',
    nationalLength: 10,
    prefixes: {
      ...assign('celtiis_bj', ['0128', ...range(140, 149, 4), '0192', '0193']),
      ...assign('mtn_bj', ['0142', '0146', ...range(150, 159, 4), '0161', '0162', '0166', '0167', '0169']),
      ...assign('mtn_bj', ['0190', '0191', '0196', '0197']),
      ...assign('moov_bj', ['0145', '0155', '0158', '0160', '0163', '0164', '0165', '0168']),
      ...assign('moov_bj', ['0194', '0195', '0198', '0199']),
    },
  },
  ML: {
    callingCode: '223',
    nationalLength: 8,
    prefixes: {
      ...assign('orange_ml', [...range(70, 79), ...range(82, 85), ...range(90, 94)]),
      ...assign('moov_ml', [...range(60, 69), '89', ...range(95, 99)]),
      ...assign('telecel_ml', range(50, 59)),
    },
  },
  SN: {
    callingCode: '221',
    nationalLength: 9,
    prefixes: {
      '71': 'orange_sn',
      '77': 'orange_sn',
      '78': 'orange_sn',
      '76': 'free_sn',
      '70': 'expresso_sn',
    },
  },
  // Niger, Guinea, Cameroon, Ghana: libphonenumber's carrier data (operators-facts.md adds none).
  NE: {
    callingCode: '227',
    nationalLength: 8,
    prefixes: {
      ...assign('airtel_ne', ['88', '89', '96', '97']),
      ...assign('moov_ne', ['94', '95']),
      ...assign('zamani_ne', ['90', '91', '92', '93', '98', '99']),
    },
  },
  GN: {
    callingCode: '224',
    nationalLength: 9,
    prefixes: {
      ...assign('orange_gn', [
        '610',
        '611',
        '620',
        '621',
        '622',
        '623',
        '624',
        '625',
        '626',
        '627',
        '628',
        '629',
      ]),
      ...assign('mtn_gn', range(660, 669, 3)),
      ...assign('cellcom_gn', range(650, 659, 3)),
    },
  },
  CM: {
    callingCode: '237',
    nationalLength: 9,
    prefixes: {
      ...assign('mtn_cm', [...range(650, 654, 3), ...range(670, 679, 3), ...range(680, 683, 3)]),
      ...assign('orange_cm', [...range(655, 659, 3), ...range(690, 699, 3), ...range(686, 689, 3), '640']),
      ...assign('nexttel_cm', range(660, 669, 3)),
    },
  },
  GH: {
    callingCode: '233',
    nationalLength: 9,
    prefixes: {
      ...assign('mtn_gh', ['24', '25', '53', '54', '55', '59']),
      ...assign('telecel_gh', ['20', '50']),
      ...assign('airteltigo_gh', ['26', '27', '56', '57']),
    },
  },
};

/** Longest-prefix lookup of a national number's network in a country. */
export function networkForNationalNumber(country: CountryCode, national: string): Network | undefined {
  const plan = NUMBERING_PLANS[country];
  for (let len = Math.min(4, national.length); len >= 1; len--) {
    const hit = plan.prefixes[national.slice(0, len)];
    if (hit) return hit;
  }
  return undefined;
}
