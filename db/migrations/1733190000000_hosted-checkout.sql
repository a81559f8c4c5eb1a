-- Up Migration

-- Hosted checkout (docs/checkout.md). A hosted payin is the merchant's payment intent: the payer
-- chooses a network and a number on our page, and each choice is an attempt, a payin of its own
-- (its own operator transaction, callbacks, reconciliation and ledger credit) that names its
-- intent here. The intent itself never moves money.
ALTER TABLE payments ADD COLUMN attempt_of text REFERENCES payments (id);
ALTER TABLE payments ADD CONSTRAINT attempt_is_a_payin CHECK (attempt_of IS NULL OR kind = 'payin');
CREATE INDEX payments_attempts ON payments (attempt_of, created_at) WHERE attempt_of IS NOT NULL;

-- The payer's page is reached by this token only, never by the payment id: whoever holds the
-- merchant's redirect URL may pay, nobody can walk payment ids to reach someone else's page.
CREATE TABLE checkout_sessions (
  token       text PRIMARY KEY CHECK (length(token) >= 32),
  payment_id  text NOT NULL UNIQUE REFERENCES payments (id),
  -- The payer's country when the merchant gave it: the page offers only its networks.
  country     text,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE checkout_sessions;
DROP INDEX payments_attempts;
ALTER TABLE payments DROP CONSTRAINT attempt_is_a_payin, DROP COLUMN attempt_of;
