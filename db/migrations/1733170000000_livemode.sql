-- Up Migration

-- Test and live modes never mix: every payment, transfer, event, ledger account and idempotency
-- key belongs to one mode, the mode of the key that made it. Rows made before modes existed were
-- made by keys of the earlier unprefixed format, whose mode follows the deployment: db/migrate.ts
-- says which through the session setting passerelle.production (live in production, test
-- elsewhere). The defaults below are evaluated once, for the existing rows, then dropped: every
-- new row states its mode.
ALTER TABLE payments
  ADD COLUMN livemode boolean NOT NULL
    DEFAULT coalesce(current_setting('passerelle.production', true), 'false')::boolean;
ALTER TABLE payments ALTER COLUMN livemode DROP DEFAULT;
CREATE INDEX payments_merchant_mode_created ON payments (merchant_id, livemode, kind, created_at DESC, id DESC);

ALTER TABLE transfers
  ADD COLUMN livemode boolean NOT NULL
    DEFAULT coalesce(current_setting('passerelle.production', true), 'false')::boolean;
ALTER TABLE transfers ALTER COLUMN livemode DROP DEFAULT;

-- A transfer's legs and a refund are of their parent's mode.
CREATE FUNCTION payment_mode_follows_parent() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.transfer_id IS NOT NULL AND NEW.livemode IS DISTINCT FROM
       (SELECT livemode FROM transfers WHERE id = NEW.transfer_id) THEN
    RAISE EXCEPTION 'payment % is not of its transfer''s mode', NEW.id USING ERRCODE = 'check_violation';
  END IF;
  IF NEW.parent_payment_id IS NOT NULL AND NEW.livemode IS DISTINCT FROM
       (SELECT livemode FROM payments WHERE id = NEW.parent_payment_id) THEN
    RAISE EXCEPTION 'refund % is not of its payin''s mode', NEW.id USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER payments_mode_follows_parent BEFORE INSERT ON payments
  FOR EACH ROW EXECUTE FUNCTION payment_mode_follows_parent();

-- NULL: an operations event (no merchant, no mode).
ALTER TABLE events
  ADD COLUMN livemode boolean
    DEFAULT coalesce(current_setting('passerelle.production', true), 'false')::boolean;
ALTER TABLE events ALTER COLUMN livemode DROP DEFAULT;
-- Operations events written before this migration got the default too: the rule holds from now on.
ALTER TABLE events ADD CONSTRAINT events_mode CHECK ((merchant_id IS NULL) = (livemode IS NULL)) NOT VALID;
CREATE INDEX events_merchant_mode_position ON events (merchant_id, livemode, position) WHERE position IS NOT NULL;

-- Each mode has its own books: a merchant's test balance is not its live balance, and test money
-- never reaches a live operator's clearing account.
ALTER TABLE ledger_accounts
  ADD COLUMN livemode boolean NOT NULL
    DEFAULT coalesce(current_setting('passerelle.production', true), 'false')::boolean;
ALTER TABLE ledger_accounts ALTER COLUMN livemode DROP DEFAULT;
ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_code_key;
ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_mode_code UNIQUE (livemode, code);

-- An Idempotency-Key is the merchant's within one mode: a test request never answers a live one.
ALTER TABLE idempotency_keys
  ADD COLUMN livemode boolean NOT NULL
    DEFAULT coalesce(current_setting('passerelle.production', true), 'false')::boolean;
ALTER TABLE idempotency_keys ALTER COLUMN livemode DROP DEFAULT;
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys ADD PRIMARY KEY (merchant_id, livemode, key);

-- Down Migration
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys DROP COLUMN livemode;
ALTER TABLE idempotency_keys ADD PRIMARY KEY (merchant_id, key);
ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_mode_code;
ALTER TABLE ledger_accounts DROP COLUMN livemode;
ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_code_key UNIQUE (code);
DROP INDEX events_merchant_mode_position;
ALTER TABLE events DROP CONSTRAINT events_mode;
ALTER TABLE events DROP COLUMN livemode;
DROP TRIGGER payments_mode_follows_parent ON payments;
DROP FUNCTION payment_mode_follows_parent();
ALTER TABLE transfers DROP COLUMN livemode;
DROP INDEX payments_merchant_mode_created;
ALTER TABLE payments DROP COLUMN livemode;
