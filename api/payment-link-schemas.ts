import { z } from 'zod';
import { LINK_PRICINGS, PAYER_FIELDS } from '../db/payment-links.js';
import { CURRENCY_CODES } from '../lib/money.js';
import { PAYMENT_STATUSES } from '../lib/payments.js';
import { text } from './schemas.js';

/** Payment links (docs/payment-links.md): the shapes of `/v1/payment-links`. */

const money = (description: string) =>
  z.number().int('must be a whole number of minor units').positive().max(Number.MAX_SAFE_INTEGER).meta({
    description,
  });

export const AfterPaymentSchema = z
  .discriminatedUnion('type', [
    z.object({ type: z.literal('message'), message: text(500).min(1) }).strict(),
    z
      .object({
        type: z.literal('redirect'),
        url: z.url({ protocol: /^https?$/ }).max(2048),
      })
      .strict(),
  ])
  .meta({
    id: 'AfterPayment',
    description: 'What the payer sees once paid: a message on our page, or the merchant page to go to',
  });

export const CreatePaymentLinkRequest = z
  .object({
    title: text(120).min(1).meta({ example: 'Pagne wax 6 yards' }),
    description: text(500).min(1).optional(),
    pricing: z.enum(LINK_PRICINGS).meta({
      description:
        'fixed: every payer pays `amount`; variable: the payer chooses; floor: the payer chooses, at least ' +
        '`amount`; collection: contributions towards `goal_amount` (at least `amount` if given)',
    }),
    currency: z.enum(CURRENCY_CODES).meta({ example: 'XOF' }),
    amount: money(
      'fixed: the price; floor: the least a payer may pay; collection: the least contribution',
    ).optional(),
    goal_amount: money('collection only: the goal shown to payers with what was raised').optional(),
    sales_limit: z.number().int().positive().max(1_000_000).optional().meta({
      description: 'At most this many payments succeed through the link, even with many payers at once',
    }),
    expires_at: z.iso
      .datetime({ offset: true })
      .optional()
      .meta({ description: 'After this, the page takes no payer' }),
    slug: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{2,63}$/, '3 to 64 lowercase letters, digits and dashes')
      .optional()
      .meta({ description: 'The page is `/l/<slug>`; a random one when absent. Unique across Passerelle.' }),
    collect: z
      .array(z.enum(PAYER_FIELDS))
      .max(PAYER_FIELDS.length)
      .default([])
      .meta({ description: 'What the page asks the payer besides the payment: name, email, phone' }),
    after_payment: AfterPaymentSchema.default({ type: 'message', message: 'Merci pour votre paiement.' }),
    metadata: z.record(text(40).min(1), text(500)).optional(),
  })
  .strict()
  .meta({ id: 'CreatePaymentLinkRequest' });
export type CreatePaymentLinkRequest = z.infer<typeof CreatePaymentLinkRequest>;

export const UpdatePaymentLinkRequest = z
  .object({
    active: z.boolean().optional().meta({ description: 'false: the page takes no new payer' }),
    sales_limit: z.number().int().positive().max(1_000_000).nullable().optional(),
    expires_at: z.iso.datetime({ offset: true }).nullable().optional(),
  })
  .strict()
  .meta({ id: 'UpdatePaymentLinkRequest' });

export const PaymentLinkSchema = z
  .object({
    id: z.string().meta({ example: 'lnk_7k2m4q6s8u2w4y6a3c5e7g2i' }),
    object: z.literal('payment_link'),
    livemode: z.boolean(),
    url: z.string().meta({ description: 'The public page to share' }),
    slug: z.string(),
    title: z.string(),
    description: z.string().nullable(),
    pricing: z.enum(LINK_PRICINGS),
    currency: z.string(),
    amount: z.number().int().nullable(),
    goal_amount: z.number().int().nullable(),
    sales_limit: z.number().int().nullable(),
    expires_at: z.string().nullable(),
    collect: z.array(z.enum(PAYER_FIELDS)),
    after_payment: AfterPaymentSchema,
    active: z.boolean(),
    totals: z
      .object({
        succeeded: z.number().int().meta({ description: 'Payers who paid (contributors of a collection)' }),
        collected: z.number().int().meta({ description: 'Gross amount credited, from the ledger' }),
        refunded: z.number().int(),
        raised: z.number().int().meta({ description: 'collected − refunded' }),
        places_left: z
          .number()
          .int()
          .nullable()
          .meta({ description: 'With a sales limit: places not taken' }),
      })
      .meta({ description: 'From the ledger (journal entries of the link payins)' }),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'PaymentLink' });

export const PaymentLinkListSchema = z
  .object({
    object: z.literal('list'),
    data: z.array(PaymentLinkSchema),
    has_more: z.boolean(),
    next_cursor: z.string().nullable(),
  })
  .meta({ id: 'PaymentLinkList' });

export const LinkPayinSchema = z.object({
  id: z.string(),
  status: z.enum(PAYMENT_STATUSES),
  amount: z.number().int(),
  currency: z.string(),
  customer: z.record(z.string(), z.string()),
  created_at: z.string(),
  completed_at: z.string().nullable(),
});
export const LinkPayinListSchema = z
  .object({
    object: z.literal('list'),
    data: z.array(LinkPayinSchema),
    has_more: z.boolean(),
    next_cursor: z.string().nullable(),
  })
  .meta({ id: 'PaymentLinkPayinList' });
