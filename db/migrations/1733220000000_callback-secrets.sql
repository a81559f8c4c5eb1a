-- Up Migration

-- A secret an operator hands out with a payment, which that payment's callbacks must carry
-- (Orange Money WebPay's notif_token): kept as its SHA-256 only, like API keys.
ALTER TABLE payments ADD COLUMN callback_secret_hash bytea CHECK (octet_length(callback_secret_hash) = 32);

-- Down Migration
ALTER TABLE payments DROP COLUMN callback_secret_hash;
