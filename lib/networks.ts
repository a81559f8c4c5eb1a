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
} as const;

export type Network = keyof typeof NETWORKS;
export const NETWORK_CODES = Object.keys(NETWORKS) as [Network, ...Network[]];

export const COUNTRY_CODES = ['TG', 'BF', 'CI', 'BJ', 'ML', 'SN'] as const;
export type CountryCode = (typeof COUNTRY_CODES)[number];

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
