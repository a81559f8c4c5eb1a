-- Up Migration

-- Payment links (LigdiCash guide §1.2, "PAYLINK"; docs/payment-links.md): a public page
-- `/l/<slug>` where each payer gets a hosted payin of their own. Pricing as LigdiCash names it:
-- fixed ("vente à valeur fixe"), variable ("à valeur variable"), floor ("à valeur plancher"),
-- collection ("collecte", with a goal).
CREATE TABLE payment_links (
  id             text PRIMARY KEY,
  merchant_id    text NOT NULL REFERENCES merchants (id),
  livemode       boolean NOT NULL,
  slug           text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{2,63}$'),
  title          text NOT NULL CHECK (length(title) BETWEEN 1 AND 120),
  description    text,
  pricing        text NOT NULL CHECK (pricing IN ('fixed', 'variable', 'floor', 'collection')),
  currency       char(3) NOT NULL,
  -- fixed: the price; floor: the least a payer may pay; collection: the least contribution, if any.
  amount         bigint CHECK (amount > 0),
  goal_amount    bigint CHECK (goal_amount > 0),
  -- At most this many payins succeed through the link (each payer holds a place while paying).
  sales_limit    integer CHECK (sales_limit > 0),
  expires_at     timestamptz,
  -- What the page asks the payer: any of name, email, phone.
  collect        text[] NOT NULL DEFAULT '{}',
  after_payment  jsonb NOT NULL,
  active         boolean NOT NULL DEFAULT true,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  CHECK ((pricing IN ('fixed', 'floor')) <= (amount IS NOT NULL)),
  CHECK ((pricing = 'collection') = (goal_amount IS NOT NULL))
);
CREATE INDEX payment_links_merchant ON payment_links (merchant_id, livemode, created_at DESC, id DESC);

ALTER TABLE payments ADD COLUMN payment_link_id text REFERENCES payment_links (id);
CREATE INDEX payments_payment_link ON payments (payment_link_id, created_at DESC, id DESC)
  WHERE payment_link_id IS NOT NULL;

-- Down Migration
DROP INDEX payments_payment_link;
ALTER TABLE payments DROP COLUMN payment_link_id;
DROP TABLE payment_links;
