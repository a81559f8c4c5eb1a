import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { CURRENCY_CODES } from '../lib/money.js';
import { COUNTRY_CODES, NETWORK_CODES } from '../lib/networks.js';
import { PAYER_LANGUAGES, PAYMENT_STATUSES, PAYOUT_METHODS } from '../lib/payments.js';
import { PHONE_PATTERN } from '../lib/phone.js';
import { OPERATORS } from '../lib/operators.js';
import { TRANSFER_EVENT_STATUSES } from '../lib/events.js';

extendZodWithOpenApi(z);

/**
 * The merchant-facing shapes: operator-neutral, amounts in integer minor units, snake_case.
 * A merchant never writes an operator's payload.
 */

/** Text we store: PostgreSQL refuses NUL, and no other control character belongs in these fields. */
export const text = (max: number) =>
  z
    .string()
    .max(max)
    .refine(
      // eslint-disable-next-line no-control-regex
      (v) => !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(v),
      'must not contain control characters',
    );

export const OperatorSchema = z.enum(OPERATORS).meta({
  id: 'Operator',
  description: 'Leave it out to let Passerelle route by the number (docs/routing.md).',
});

const metadata = z
  .record(text(40).min(1), text(500))
  .refine((m) => Object.keys(m).length <= 20, 'at most 20 keys')
  .meta({
    description:
      'Your own key/value pairs, returned as given: at most 20 keys of 1 to 40 characters, values of at ' +
      'most 500, no control characters.',
    maxProperties: 20,
    propertyNames: { minLength: 1, maxLength: 40 },
  });

/**
 * A number as answers show it: masked, the country code and the last two digits. The full
 * number is in the vault alone (docs/cards.md, "Phone numbers and OTPs").
 */
const maskedPhone = z.string().meta({
  description:
    'The number masked: its country code and last two digits. The full number is kept only in the vault, encrypted.',
  example: '+226******56',
});

/** A payer's or recipient's number: what lib/phone.ts parseMsisdn accepts, stated as a pattern. */
const phoneNumber = (example: string) =>
  z
    .string()
    .max(32)
    .meta({
      example,
      pattern: PHONE_PATTERN,
      description:
        `International number of a supported country (${COUNTRY_CODES.join(', ')}), with its country code; ` +
        '`+`, `00`, spaces, dots, dashes and parentheses allowed. Its network must be one we know for the country.',
    });

export const CreatePayinRequest = z
  .object({
    amount: z
      .number()
      .int('must be a whole number of minor units (XOF has none: 1000 means 1,000 XOF)')
      .positive()
      .max(Number.MAX_SAFE_INTEGER)
      .meta({ description: 'Amount in minor units of the currency (XOF: francs).', example: 5000 }),
    currency: z.enum(CURRENCY_CODES).meta({ description: 'ISO 4217 code', example: 'XOF' }),
    operator: OperatorSchema.optional(),
    mode: z
      .enum(['redirect', 'direct', 'hosted'])
      .default('redirect')
      .meta({
        description:
          'redirect: the payer pays on the operator page; direct: on the phone (OTP or approval); hosted: on ' +
          "Passerelle's own page (`next_action.url`), where the payer chooses the network and the number, and may " +
          'try again after a decline (docs/checkout.md). A hosted payin names no operator.',
      }),
    country: z.enum(COUNTRY_CODES).optional().meta({
      description: "Hosted payins only: the payer's country, to offer only its networks. Default: all.",
    }),
    expires_in: z.number().int().min(10).max(86_400).optional().meta({
      description:
        'Hosted payins only: seconds during which the page takes attempts (default HOSTED_CHECKOUT_SECONDS, 1800).',
    }),
    network: z
      .enum(NETWORK_CODES)
      .optional()
      .meta({ description: "Payer's network for a direct payin; found from the number when absent." }),
    customer: z
      .object({
        phone: phoneNumber('+22670123456').optional(),
        first_name: text(100).optional(),
        last_name: text(100).optional(),
        email: z.email().max(254).optional(),
        language: z.enum(PAYER_LANGUAGES).optional().meta({
          description: "The payer's language on the operator's page where it offers one (TMoney); default fr",
        }),
      })
      .strict()
      .default({}),
    otp: z
      .string()
      .regex(/^\d{4,8}$/, 'must be the 4 to 8 digit code the payer obtained')
      .optional()
      .meta({
        description:
          'Direct payin on Orange Burkina: the code the payer got by dialling *144*4*6*amount#. Only with `mode: "direct"`.',
      }),
    description: text(255).min(1).optional(),
    return_url: z
      .url({ protocol: /^https?$/ })
      .max(2048)
      .optional(),
    cancel_url: z
      .url({ protocol: /^https?$/ })
      .max(2048)
      .optional(),
    metadata: metadata.default({}),
  })
  .strict()
  .meta({
    id: 'CreatePayinRequest',
    // `otp` only with `mode: "direct"` (the server answers 400 otherwise).
    if: { required: ['otp'] },
    then: { required: ['mode'], properties: { mode: { const: 'direct' } } },
  });
export type CreatePayinRequest = z.infer<typeof CreatePayinRequest>;

export const NextActionSchema = z
  .discriminatedUnion('type', [
    z.object({ type: z.literal('redirect'), url: z.string() }),
    z
      .object({
        type: z.literal('form_post'),
        url: z.string().meta({ description: "The operator's order form" }),
        fields: z
          .record(z.string(), z.string())
          .meta({ description: 'The fields the payer’s browser posts there' }),
        redirect_url: z
          .string()
          .meta({ description: 'Our page that posts them for the payer: send the payer here' }),
        payer_number_field: z.string().optional().meta({
          description:
            'The field for the payer’s number, left out of `fields` (numbers are kept only in the vault): our page adds it; a merchant posting the form itself may add the number it knows',
        }),
      })
      .meta({ description: "TMoney's online payment: the payer's browser posts a form to the operator" }),
    z.object({ type: z.literal('approve_on_phone'), message: z.string() }),
    z.object({ type: z.literal('wait'), message: z.string() }),
    z.object({ type: z.literal('none') }),
  ])
  .meta({ id: 'NextAction' });

export const PayinSchema = z
  .object({
    id: z.string().meta({ example: 'pay_7k2m4q6s8u2w4y6a3c5e7g2i' }),
    object: z.literal('payin'),
    livemode: z.boolean().meta({ description: 'Live money (a live key) or test mode (sandbox operators)' }),
    status: z.enum(PAYMENT_STATUSES),
    amount: z.number().int(),
    currency: z.string(),
    fee: z.number().int().meta({ description: 'Our fee, taken from what the merchant is credited' }),
    operator: z.string(),
    network: z.string().nullable(),
    mode: z.string(),
    customer: z.object({
      phone: maskedPhone.optional(),
      first_name: z.string().optional(),
      last_name: z.string().optional(),
      email: z.string().optional(),
      language: z.string().optional(),
    }),
    description: z.string().nullable(),
    metadata: z.record(z.string(), z.string()),
    next_action: NextActionSchema.nullable(),
    failure: z.object({ code: z.string(), message: z.string() }).nullable(),
    operator_reference: z.string().nullable(),
    operator_status: z.string().nullable(),
    return_url: z.string().nullable(),
    cancel_url: z.string().nullable(),
    workflow_id: z.string(),
    deadline_at: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
    completed_at: z.string().nullable(),
    attempt_of: z
      .string()
      .optional()
      .meta({ description: 'For an attempt of a hosted payin: that payin (docs/checkout.md)' }),
    attempts: z
      .array(
        z.object({
          id: z.string(),
          status: z.enum(PAYMENT_STATUSES),
          operator: z.string(),
          network: z.string().nullable(),
          operator_reference: z.string().nullable(),
          failure: z.object({ code: z.string(), message: z.string() }).nullable(),
          created_at: z.string(),
        }),
      )
      .optional()
      .meta({
        description:
          'A hosted payin: what the payer tried, oldest first. It succeeds through at most one; a second ' +
          'attempt that succeeds is refunded automatically.',
      }),
  })
  .meta({ id: 'Payin' });

export const PayinListQuery = z
  .object({
    status: z.enum(PAYMENT_STATUSES).optional(),
    limit: z.coerce.number().int().min(1).max(100).default(20),
    cursor: z.string().max(200).optional().meta({ description: '`next_cursor` of the previous page' }),
  })
  .strict();

export const PayinListSchema = z
  .object({
    object: z.literal('list'),
    data: z.array(PayinSchema),
    has_more: z.boolean(),
    next_cursor: z.string().nullable(),
  })
  .meta({ id: 'PayinList' });

export const PaymentEventSchema = z
  .object({
    id: z.number().int(),
    from_status: z.string().nullable(),
    to_status: z.string(),
    actor: z.string(),
    reason: z.string().nullable(),
    operator_status: z.string().nullable(),
    operator_message: z.string().nullable(),
    created_at: z.string(),
  })
  .meta({ id: 'PaymentEvent' });

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    instance: z.string().optional(),
    code: z.string().optional(),
    errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
    request_id: z.string().optional(),
  })
  .meta({ id: 'Problem' });

const amount = z
  .number()
  .int('must be a whole number of minor units (XOF has none: 1000 means 1,000 XOF)')
  .positive()
  .max(Number.MAX_SAFE_INTEGER);

export const CreatePayoutRequest = z
  .object({
    amount: amount.meta({ description: 'Amount the recipient receives, in minor units.', example: 2500 }),
    currency: z.enum(CURRENCY_CODES).meta({ example: 'XOF' }),
    operator: OperatorSchema.optional(),
    method: z
      .enum(PAYOUT_METHODS)
      .default('mobile_money')
      .meta({
        description:
          'mobile_money: to any mobile money number (LigdiCash merchant payout, up to 1,000,000 XOF); ' +
          "wallet / wallet_to_mobile_money: to the recipient's LigdiCash account (client payout).",
      }),
    recipient: z
      .object({
        phone: phoneNumber('+22670123456'),
        network: z.enum(NETWORK_CODES).optional(),
        first_name: text(100).optional(),
        last_name: text(100).optional(),
      })
      .strict(),
    description: text(255).min(1).optional(),
    metadata: metadata.default({}),
  })
  .strict()
  .meta({ id: 'CreatePayoutRequest' });
export type CreatePayoutRequest = z.infer<typeof CreatePayoutRequest>;

export const CreateRefundRequest = z
  .object({
    amount: amount.optional().meta({ description: 'Defaults to what remains refundable.' }),
    reason: text(255).min(1).optional(),
    recipient: z
      .object({ phone: phoneNumber('+22670123456') })
      .strict()
      .optional()
      .meta({ description: "Where the refund goes; defaults to the payer's number." }),
    metadata: metadata.default({}),
  })
  .strict()
  .meta({ id: 'CreateRefundRequest' });
export type CreateRefundRequest = z.infer<typeof CreateRefundRequest>;

export const LedgerQuery = z
  .object({
    payment_id: z.string().max(64).optional(),
    limit: z.coerce.number().int().min(1).max(100).default(20),
    cursor: z.string().max(200).optional(),
  })
  .strict();

const disbursementFields = {
  id: z.string(),
  livemode: z.boolean(),
  status: z.enum(PAYMENT_STATUSES),
  amount: z.number().int(),
  currency: z.string(),
  fee: z.number().int().meta({ description: 'Our fee, debited with the amount' }),
  operator: z.string(),
  network: z.string().nullable(),
  description: z.string().nullable(),
  metadata: z.record(z.string(), z.string()),
  failure: z.object({ code: z.string(), message: z.string() }).nullable(),
  operator_reference: z.string().nullable(),
  operator_status: z.string().nullable(),
  workflow_id: z.string(),
  deadline_at: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
  completed_at: z.string().nullable(),
  recipient: z.object({
    phone: maskedPhone.optional(),
    first_name: z.string().optional(),
    last_name: z.string().optional(),
  }),
};

export const PayoutSchema = z
  .object({ ...disbursementFields, object: z.literal('payout'), method: z.enum(PAYOUT_METHODS) })
  .meta({ id: 'Payout' });
export const RefundSchema = z
  .object({ ...disbursementFields, object: z.literal('refund'), payin: z.string() })
  .meta({ id: 'Refund' });

export const BalanceSchema = z
  .object({
    object: z.literal('balance'),
    livemode: z.boolean(),
    balances: z.array(
      z.object({
        currency: z.string(),
        available: z.number().int().meta({ description: 'Can be paid out or refunded now' }),
        on_hold: z
          .number()
          .int()
          .meta({ description: 'Held for payouts and refunds in progress (or of unknown outcome)' }),
        pending: z.number().int().meta({ description: 'Expected from payins still open, net of fees' }),
      }),
    ),
  })
  .meta({ id: 'Balance' });

export const LedgerEntrySchema = z
  .object({
    id: z.number().int(),
    payment_id: z.string(),
    step: z.enum(['payin_succeeded', 'late_payin_succeeded', 'hold', 'capture', 'release']),
    description: z.string(),
    created_at: z.string(),
    lines: z.array(
      z.object({
        account: z.enum(['available', 'on_hold']),
        currency: z.string(),
        amount: z
          .number()
          .int()
          .meta({ description: 'Positive: money into this account of yours; negative: out of it' }),
      }),
    ),
  })
  .meta({ id: 'LedgerEntry' });

export const CreateTransferRequest = z
  .object({
    amount: amount.meta({
      description:
        'What the recipient receives (fee_bearer sender) or what the sender pays (fee_bearer recipient).',
    }),
    currency: z.enum(CURRENCY_CODES).meta({ example: 'XOF' }),
    fee_bearer: z.enum(['sender', 'recipient']).default('sender'),
    mode: z.enum(['direct', 'redirect']).default('direct').meta({
      description: 'How the sender pays: on the phone (direct) or on the operator page (redirect).',
    }),
    sender: z
      .object({
        phone: phoneNumber('+22890112233'),
        network: z.enum(NETWORK_CODES).optional(),
        otp: z
          .string()
          .regex(/^\d{4,8}$/)
          .optional(),
      })
      .strict(),
    recipient: z
      .object({
        phone: phoneNumber('+22897112233'),
        network: z.enum(NETWORK_CODES).optional(),
      })
      .strict(),
    description: text(255).min(1).optional(),
    metadata: metadata.default({}),
  })
  .strict()
  .meta({ id: 'CreateTransferRequest' });
export type CreateTransferRequest = z.infer<typeof CreateTransferRequest>;

// ------------------------------------------------------------------ transfers, operators, health

const TransferPartySchema = z.object({ phone: maskedPhone, network: z.string(), operator: z.string() });
const TransferLegSchema = z
  .object({
    id: z.string(),
    status: z.enum(PAYMENT_STATUSES),
    amount: z.number().int(),
    operator: z.string(),
    network: z.string().nullable(),
    operator_reference: z.string().nullable(),
    failure: z.object({ code: z.string(), message: z.string() }).nullable(),
  })
  .meta({ id: 'TransferLeg' });

export const TransferSchema = z
  .object({
    id: z.string().meta({ example: 'trf_7k2m4q6s8u2w4y6a3c5e7g2i' }),
    object: z.literal('transfer'),
    livemode: z.boolean(),
    status: z.enum(TRANSFER_EVENT_STATUSES),
    currency: z.string(),
    amount: z
      .number()
      .int()
      .meta({ description: 'What the request named (sent or received, by fee_bearer)' }),
    fee: z.number().int(),
    fee_bearer: z.enum(['sender', 'recipient']),
    collect_amount: z.number().int().meta({ description: 'What the sender pays' }),
    disburse_amount: z.number().int().meta({ description: 'What the recipient receives' }),
    sender: TransferPartySchema,
    recipient: TransferPartySchema,
    next_action: NextActionSchema.nullable(),
    legs: z.object({
      collection: TransferLegSchema.nullable(),
      disbursement: TransferLegSchema.nullable(),
      refunds: z.array(TransferLegSchema),
    }),
    description: z.string().nullable(),
    metadata: z.record(z.string(), z.string()),
    failure: z.object({ code: z.string(), message: z.string() }).nullable(),
    workflow_id: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
    completed_at: z.string().nullable(),
  })
  .meta({ id: 'Transfer' });

export const TransferWithEventsSchema = TransferSchema.extend({
  events: z.array(
    z.object({
      step: z.string(),
      from_status: z.string().nullable(),
      to_status: z.string(),
      reason: z.string().nullable(),
      created_at: z.string(),
    }),
  ),
}).meta({ id: 'TransferWithEvents' });

export const listOf = <T extends z.ZodType>(item: T, id: string) =>
  z
    .object({
      object: z.literal('list'),
      data: z.array(item),
      has_more: z.boolean(),
      next_cursor: z.string().nullable(),
    })
    .meta({ id });

export const TransferListSchema = listOf(TransferSchema, 'TransferList');
export const PayoutListSchema = listOf(PayoutSchema, 'PayoutList');

export const OperatorListSchema = z
  .object({
    object: z.literal('list'),
    data: z.array(
      z.object({
        operator: z.string(),
        status: z
          .enum(['up', 'down'])
          .meta({ description: 'Route health in the caller’s mode (its circuit)' }),
        down_until: z.string().optional(),
        balances: z
          .array(z.object({ network: z.string(), amount: z.number().int(), currency: z.string() }))
          .nullable()
          .optional()
          .meta({ description: 'Operations key only: what the operator reports holding for us' }),
        balance_error: z.string().optional(),
      }),
    ),
  })
  .meta({ id: 'OperatorList' });

export const HealthSchema = z
  .object({
    status: z.enum(['ok', 'unavailable']),
    checks: z.object({
      postgres: z.string().meta({ description: '`ok`, or what failed' }),
      temporal: z.string().meta({ description: '`ok`, or what failed' }),
    }),
  })
  .meta({ id: 'Health' });
