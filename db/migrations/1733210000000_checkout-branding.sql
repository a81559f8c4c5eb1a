-- Up Migration

-- A merchant's colour and logo on the hosted checkout and payment link pages (docs/checkout.md).
-- The logo is stored here and served from our origin: the pages load nothing from elsewhere.
ALTER TABLE merchants
  ADD COLUMN checkout_color text CHECK (checkout_color ~ '^#[0-9a-f]{6}$'),
  ADD COLUMN checkout_logo bytea CHECK (octet_length(checkout_logo) <= 65536),
  ADD COLUMN checkout_logo_type text CHECK (checkout_logo_type IN ('image/png', 'image/jpeg', 'image/webp')),
  ADD CONSTRAINT checkout_logo_typed CHECK ((checkout_logo IS NULL) = (checkout_logo_type IS NULL));

-- Down Migration
ALTER TABLE merchants DROP CONSTRAINT checkout_logo_typed, DROP COLUMN checkout_logo_type,
  DROP COLUMN checkout_logo, DROP COLUMN checkout_color;
