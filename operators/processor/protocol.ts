import { z } from 'zod';

/**
 * The Visa/Mastercard card processor with EMV 3-D Secure 2 (docs/card-processor.md): the schemas
 * of everything it answers or sends us, read from that document alone. Fields the document does
 * not list are dropped (it says they are ignored); an optional field that does not apply is absent
 * from an answer, never `null`, so the schemas do not take `null`.
 */

export const PROCESSOR_PATHS = {
  tokens: 'v1/tokens',
  authentications: 'v1/authentications',
  authentication: (threeDSServerTransID: string) =>
    `v1/authentications/${encodeURIComponent(threeDSServerTransID)}`,
  payments: 'v1/payments',
  payment: (id: string) => `v1/payments/${encodeURIComponent(id)}`,
  paymentsByReference: (reference: string) => `v1/payments?reference=${encodeURIComponent(reference)}`,
  captures: (paymentId: string) => `v1/payments/${encodeURIComponent(paymentId)}/captures`,
  voids: (paymentId: string) => `v1/payments/${encodeURIComponent(paymentId)}/voids`,
  refunds: (paymentId: string) => `v1/payments/${encodeURIComponent(paymentId)}/refunds`,
  refund: (id: string) => `v1/refunds/${encodeURIComponent(id)}`,
  refundsByReference: (reference: string) => `v1/refunds?reference=${encodeURIComponent(reference)}`,
} as const;

/** The only EMV 3-D Secure version the processor speaks. */
export const MESSAGE_VERSION = '2.2.0';

/**
 * ISO 4217: the currencies the processor takes. Payments name them by their alpha code, the
 * authentication (EMV) by their numeric code with the exponent, and the processor declines a
 * payment whose alpha code is not the authentication's numeric one: both come from this table.
 */
export const PROCESSOR_CURRENCIES = {
  XOF: { numeric: '952', exponent: 0 },
  XAF: { numeric: '950', exponent: 0 },
  EUR: { numeric: '978', exponent: 2 },
  USD: { numeric: '840', exponent: 2 },
} as const satisfies Record<string, { numeric: string; exponent: number }>;

export type ProcessorCurrency = keyof typeof PROCESSOR_CURRENCIES;
export const PROCESSOR_CURRENCY_CODES = Object.keys(PROCESSOR_CURRENCIES) as [
  ProcessorCurrency,
  ...ProcessorCurrency[],
];

export function isProcessorCurrency(code: string): code is ProcessorCurrency {
  return Object.hasOwn(PROCESSOR_CURRENCIES, code);
}

/** The alpha code of an ISO 4217 numeric code the processor takes. */
export function currencyOfNumeric(numeric: string): ProcessorCurrency | undefined {
  return PROCESSOR_CURRENCY_CODES.find((alpha) => PROCESSOR_CURRENCIES[alpha].numeric === numeric);
}

const iso = z.iso.datetime({ offset: true });
const money = z.number().int().nonnegative();
const positive = z.number().int().positive();
const currency = z.enum(PROCESSOR_CURRENCY_CODES);
const brand = z.enum(['visa', 'mastercard']);
const id = (prefix: string) => z.string().startsWith(`${prefix}_`);

export const TRANS_STATUSES = ['Y', 'A', 'C', 'N', 'R', 'U'] as const;
export type TransStatus = (typeof TRANS_STATUSES)[number];

// ------------------------------------------------------------------ errors

/** Every `/v1` error: `{error: {code, message, field?}}`; `code` is the word a client branches on. */
export const errorAnswer = z.object({
  error: z.object({
    code: z.string().min(1),
    message: z.string(),
    field: z.string().optional(),
  }),
});
export type ProcessorErrorAnswer = z.infer<typeof errorAnswer>['error'];

// ------------------------------------------------------------------ tokens

export const tokenAnswer = z.object({
  id: id('tok'),
  brand,
  last4: z.string().regex(/^\d{4}$/),
  expiresAt: iso,
});
export type TokenAnswer = z.infer<typeof tokenAnswer>;

// ------------------------------------------------------------------ authentications (ARes, state, RReq)

const transIds = {
  threeDSServerTransID: z.string().min(1),
  acsTransID: z.string().min(1),
  dsTransID: z.string().min(1),
  messageVersion: z.string().min(1),
};

/** `Y`/`A` carry what a payment must repeat (ECI and CAVV/AAV); only these can be authorised. */
const authenticated = {
  transStatus: z.enum(['Y', 'A']),
  eci: z.string().regex(/^\d{2}$/),
  authenticationValue: z.string().min(1),
};

/** `N`/`R`/`U`: the EMV reason (absent after a cancelled challenge), and no ECI nor CAVV. */
const notAuthenticated = {
  transStatus: z.enum(['N', 'R', 'U']),
  transStatusReason: z.string().optional(),
};

/**
 * The ARes (201, or 200 for a replay of the same threeDSServerTransID and body). A replay gives the
 * very first ARes, so `C` even once the challenge has ended: `GET /v1/authentications/{id}` is the
 * current result.
 */
export const aresAnswer = z.discriminatedUnion('transStatus', [
  z.object({ messageType: z.literal('ARes'), ...transIds, ...authenticated }),
  z.object({
    messageType: z.literal('ARes'),
    ...transIds,
    transStatus: z.literal('C'),
    acsURL: z.url({ protocol: /^https?$/ }),
    acsChallengeMandated: z.string().optional(),
  }),
  z.object({ messageType: z.literal('ARes'), ...transIds, ...notAuthenticated }),
]);
export type Ares = z.infer<typeof aresAnswer>;

const challengeOutcome = {
  /** EMV: `01` cardholder cancelled, `04` timed out after the CReq, `05` timed out before it. */
  challengeCancel: z.string().optional(),
  /** Two digits: how many codes the payer submitted; present once a challenge has ended. */
  interactionCounter: z
    .string()
    .regex(/^\d{2}$/)
    .optional(),
};

export const AUTHENTICATION_STAGES = ['frictionless', 'challenge_pending', 'challenge_completed'] as const;
const stage = z.enum(AUTHENTICATION_STAGES);

/** `GET /v1/authentications/{threeDSServerTransID}`: the current result (the truth after a challenge). */
export const authenticationAnswer = z.discriminatedUnion('transStatus', [
  z.object({ ...transIds, ...authenticated, ...challengeOutcome, stage }),
  z.object({ ...transIds, transStatus: z.literal('C'), stage }),
  z.object({ ...transIds, ...notAuthenticated, ...challengeOutcome, stage }),
]);
export type AuthenticationState = z.infer<typeof authenticationAnswer>;

/**
 * The RReq the processor POSTs to our threeDSServerURL when a challenge ends (signed: see
 * three-ds.ts). A hint only: `GET /v1/authentications/{id}` confirms it (DESIGN.md rule 1).
 */
export const rreqBody = z.discriminatedUnion('transStatus', [
  z.object({
    messageType: z.literal('RReq'),
    ...transIds,
    ...authenticated,
    ...challengeOutcome,
    interactionCounter: z.string().regex(/^\d{2}$/),
  }),
  z.object({
    messageType: z.literal('RReq'),
    ...transIds,
    ...notAuthenticated,
    ...challengeOutcome,
    interactionCounter: z.string().regex(/^\d{2}$/),
  }),
]);
export type Rreq = z.infer<typeof rreqBody>;

/** What we answer an RReq (HTTP 200): received for further processing. Anything else makes it retry. */
export const RRES_RECEIVED = { messageType: 'RRes', resultsStatus: '01' } as const;

/** The CReq our checkout posts (base64url) to the acsURL through the payer's browser. */
export const creqMessage = z.object({
  threeDSServerTransID: z.string().min(1),
  acsTransID: z.string().min(1),
  messageType: z.literal('CReq'),
  messageVersion: z.string().min(1),
  challengeWindowSize: z.enum(['01', '02', '03', '04', '05']),
});
export type Creq = z.infer<typeof creqMessage>;
export type ChallengeWindowSize = Creq['challengeWindowSize'];

/**
 * The CRes the ACS sends back through the payer's browser to our notificationURL. A browser's word
 * (anyone can post one): it says the challenge ended, never how; no ECI nor CAVV in it.
 */
export const cresMessage = z.object({
  threeDSServerTransID: z.string().min(1),
  acsTransID: z.string().min(1),
  messageType: z.literal('CRes'),
  messageVersion: z.string().min(1),
  transStatus: z.enum(['Y', 'N']),
  challengeCompletionInd: z.literal('Y'),
});
export type Cres = z.infer<typeof cresMessage>;

// ------------------------------------------------------------------ payments, captures, voids, refunds

export const captureAnswer = z.object({
  id: id('cap'),
  paymentId: id('pay'),
  amount: positive,
  currency,
  status: z.enum(['succeeded', 'declined']),
  declineReason: z.string().optional(),
  createdAt: iso,
});
export type ProcessorCapture = z.infer<typeof captureAnswer>;

export const voidAnswer = z.object({
  id: id('void'),
  paymentId: id('pay'),
  status: z.literal('succeeded'),
  createdAt: iso,
});
export type ProcessorVoid = z.infer<typeof voidAnswer>;

export const refundAnswer = z.object({
  id: id('ref'),
  paymentId: id('pay'),
  reference: z.string(),
  amount: positive,
  currency,
  status: z.enum(['succeeded', 'declined']),
  declineReason: z.string().optional(),
  createdAt: iso,
});
export type ProcessorRefund = z.infer<typeof refundAnswer>;

export const PAYMENT_STATUSES = ['authorised', 'declined', 'captured', 'voided'] as const;
export type ProcessorPaymentStatus = (typeof PAYMENT_STATUSES)[number];

/**
 * A payment (the authorisation), as created (201, a declined one too: it exists) or as it is now
 * (GET). `capturedAmount` and `refundedAmount` count succeeded captures and refunds only.
 */
export const paymentAnswer = z.object({
  id: id('pay'),
  reference: z.string(),
  status: z.enum(PAYMENT_STATUSES),
  /** ISO 8583: `00` approved, `05` do not honour, `51` insufficient funds, `54` expired card. */
  responseCode: z.string().regex(/^[0-9A-Z]{2}$/),
  approvalCode: z.string().optional(),
  declineReason: z.string().optional(),
  amount: positive,
  currency,
  capturedAmount: money,
  refundedAmount: money,
  brand,
  last4: z.string().regex(/^\d{4}$/),
  threeDSServerTransID: z.string(),
  createdAt: iso,
  captures: z.array(captureAnswer),
  refunds: z.array(refundAnswer),
});
export type ProcessorPayment = z.infer<typeof paymentAnswer>;

export const paymentListAnswer = z.object({ data: z.array(paymentAnswer) });
export const refundListAnswer = z.object({ data: z.array(refundAnswer) });
