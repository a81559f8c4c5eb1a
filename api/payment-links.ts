import { randomBytes } from 'node:crypto';
import { Router } from 'express';
import {
  getMerchantPaymentLink,
  insertPaymentLink,
  listPaymentLinks,
  paymentLinkTotals,
  updatePaymentLink,
  type PaymentLink,
} from '../db/payment-links.js';
import { listMerchantPayments } from '../db/payments.js';
import type { Queryable } from '../db/pool.js';
import { newId } from '../lib/ids.js';
import { currentMerchant } from './auth.js';
import { idempotentCreate, replayIdempotent } from './idempotency.js';
import { requireJson, type PaymentRouteDeps } from './payment-routes.js';
import { CreatePaymentLinkRequest, UpdatePaymentLinkRequest } from './payment-link-schemas.js';
import { Problem, validationProblem } from './problems.js';
import { PayinListQuery } from './schemas.js';
import { decodeCursor, listAnswer } from './views.js';

const LINK_ID = /^lnk_[a-z2-7]{24}$/;

export function paymentLinkUrl(publicBaseUrl: string, slug: string): string {
  return new URL(`/l/${slug}`, publicBaseUrl).toString();
}

/** A link as the merchant sees it, with its totals from the ledger. */
export async function paymentLinkView(db: Queryable, publicBaseUrl: string, l: PaymentLink, taken?: number) {
  const totals = await paymentLinkTotals(db, l.id);
  return {
    id: l.id,
    object: 'payment_link' as const,
    livemode: l.livemode,
    url: paymentLinkUrl(publicBaseUrl, l.slug),
    slug: l.slug,
    title: l.title,
    description: l.description,
    pricing: l.pricing,
    currency: l.currency,
    amount: l.amount,
    goal_amount: l.goalAmount,
    sales_limit: l.salesLimit,
    expires_at: l.expiresAt?.toISOString() ?? null,
    collect: l.collect,
    after_payment: l.afterPayment,
    active: l.active,
    totals: {
      succeeded: totals.succeeded,
      collected: totals.collected,
      refunded: totals.refunded,
      raised: totals.collected - totals.refunded,
      places_left: l.salesLimit === null ? null : Math.max(0, l.salesLimit - (taken ?? totals.succeeded)),
    },
    created_at: l.createdAt.toISOString(),
    updated_at: l.updatedAt.toISOString(),
  };
}

/** A random slug: 12 base32 characters (60 bits), lowercase as the page path wants. */
function randomSlug(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  return [...randomBytes(12)].map((b) => alphabet[b & 31]).join('');
}

/**
 * `/v1/payment-links` (docs/payment-links.md): a merchant's links, their settings and their
 * payins. The public page is api/payment-link-page.ts.
 */
export function paymentLinkRoutes(deps: PaymentRouteDeps): Router {
  const { config, pool } = deps;
  const router = Router();
  const base = config.PUBLIC_BASE_URL;

  const find = async (owner: { id: string; livemode: boolean }, id: string) => {
    const link = LINK_ID.test(id)
      ? await getMerchantPaymentLink(pool, { merchantId: owner.id, livemode: owner.livemode }, id)
      : undefined;
    if (!link) throw new Problem('not-found', `No payment link ${id}`);
    return link;
  };

  router.post('/', async (req, res) => {
    const merchant = currentMerchant(res.locals);
    requireJson(req.is('application/json'));
    if (await replayIdempotent(pool, req, res, { merchantId: merchant.id, path: '/v1/payment-links' }))
      return;
    const parsed = CreatePaymentLinkRequest.safeParse(req.body);
    if (!parsed.success) throw validationProblem(parsed.error);
    const b = parsed.data;
    const invalid = (field: string, message: string) =>
      new Problem('validation-error', `${field}: ${message}`, { errors: [{ field, message }] });
    if ((b.pricing === 'fixed' || b.pricing === 'floor') && b.amount === undefined) {
      throw invalid('amount', `required with pricing "${b.pricing}"`);
    }
    if (b.pricing === 'variable' && b.amount !== undefined) {
      throw invalid('amount', 'not with pricing "variable": the payer chooses');
    }
    if ((b.pricing === 'collection') !== (b.goal_amount !== undefined)) {
      throw invalid('goal_amount', 'required with pricing "collection", and only with it');
    }
    if (b.expires_at && Date.parse(b.expires_at) <= Date.now()) {
      throw invalid('expires_at', 'must be in the future');
    }
    await idempotentCreate(pool, req, res, {
      merchantId: merchant.id,
      path: '/v1/payment-links',
      newResourceId: () => newId('lnk'),
      create: async (id) => {
        const fields = {
          id,
          merchantId: merchant.id,
          livemode: merchant.livemode,
          title: b.title,
          description: b.description ?? null,
          pricing: b.pricing,
          currency: b.currency,
          amount: b.amount ?? null,
          goalAmount: b.goal_amount ?? null,
          salesLimit: b.sales_limit ?? null,
          expiresAt: b.expires_at ? new Date(b.expires_at) : null,
          collect: [...new Set(b.collect)],
          afterPayment: b.after_payment,
        };
        const existing = await getMerchantPaymentLink(
          pool,
          { merchantId: merchant.id, livemode: merchant.livemode },
          id,
        );
        const link = existing ?? (await insertPaymentLink(pool, { ...fields, slug: b.slug ?? randomSlug() }));
        if (!link) {
          throw new Problem('conflict', `The slug "${b.slug}" is taken; choose another`, {
            code: 'slug_taken',
          });
        }
        req.log.info({ paymentLinkId: id, pricing: link.pricing }, 'payment link created');
        res.location(`/v1/payment-links/${id}`);
        return { status: 201, body: await paymentLinkView(pool, base, link) };
      },
    });
  });

  router.get('/', async (req, res) => {
    const merchant = currentMerchant(res.locals);
    const parsed = PayinListQuery.pick({ limit: true, cursor: true }).safeParse(req.query);
    if (!parsed.success) throw validationProblem(parsed.error);
    const page = await listPaymentLinks(pool, {
      merchantId: merchant.id,
      livemode: merchant.livemode,
      limit: parsed.data.limit,
      after: parsed.data.cursor ? decodeCursor(parsed.data.cursor) : undefined,
    });
    const data = [];
    for (const l of page.items) data.push(await paymentLinkView(pool, base, l));
    res.json(listAnswer(data, page.next));
  });

  router.get('/:id', async (req, res) => {
    const link = await find(currentMerchant(res.locals), req.params.id);
    res.json(await paymentLinkView(pool, base, link));
  });

  router.patch('/:id', async (req, res) => {
    requireJson(req.is('application/json'));
    const merchant = currentMerchant(res.locals);
    const link = await find(merchant, req.params.id);
    const parsed = UpdatePaymentLinkRequest.safeParse(req.body);
    if (!parsed.success) throw validationProblem(parsed.error);
    const b = parsed.data;
    const updated = await updatePaymentLink(pool, link.id, {
      active: b.active,
      salesLimit: b.sales_limit,
      expiresAt:
        b.expires_at === undefined ? undefined : b.expires_at === null ? null : new Date(b.expires_at),
    });
    req.log.info({ paymentLinkId: link.id, change: b }, 'payment link changed');
    res.json(await paymentLinkView(pool, base, updated));
  });

  router.get('/:id/payins', async (req, res) => {
    const merchant = currentMerchant(res.locals);
    const link = await find(merchant, req.params.id);
    const parsed = PayinListQuery.safeParse(req.query);
    if (!parsed.success) throw validationProblem(parsed.error);
    const page = await listMerchantPayments(pool, {
      merchantId: merchant.id,
      livemode: merchant.livemode,
      kind: 'payin',
      status: parsed.data.status,
      paymentLinkId: link.id,
      limit: parsed.data.limit,
      after: parsed.data.cursor ? decodeCursor(parsed.data.cursor) : undefined,
    });
    res.json(
      listAnswer(
        page.items.map((p) => ({
          id: p.id,
          status: p.status,
          amount: p.amount,
          currency: p.currency,
          customer: Object.fromEntries(
            Object.entries({
              name: [p.customer.firstName, p.customer.lastName].filter(Boolean).join(' ') || undefined,
              email: p.customer.email,
              phone: p.customer.phoneMasked,
            }).filter((e): e is [string, string] => e[1] !== undefined),
          ),
          created_at: p.createdAt.toISOString(),
          completed_at: p.completedAt?.toISOString() ?? null,
        })),
        page.next,
      ),
    );
  });

  return router;
}
