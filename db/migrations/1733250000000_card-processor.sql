-- Up Migration

-- A card payment through the Visa/Mastercard processor with EMV 3-D Secure 2 (docs/cards.md):
-- the vaulted card, the processor's single-use token (it holds the security code there, for
-- 30 minutes; we never store it), the 3-D Secure transaction id we chose, the payer's browser as
-- EMV's AReq needs it, then what the processor said at each step. The authentication value
-- (CAVV) is never stored: the authorisation reads it from the processor when it needs it.
CREATE TABLE card_processor_payments (
  payment_id                text PRIMARY KEY REFERENCES payments (id),
  card_token                text NOT NULL REFERENCES card_vault (token),
  processor_token           text NOT NULL,
  three_ds_server_trans_id  uuid NOT NULL UNIQUE,
  browser                   jsonb NOT NULL,
  trans_status              text CHECK (trans_status IN ('Y', 'A', 'C', 'N', 'R', 'U')),
  trans_status_reason       text,
  acs_url                   text,
  processor_payment_id      text UNIQUE,
  outcome                   text NOT NULL DEFAULT 'recorded'
                            CHECK (outcome IN ('recorded', 'authorised', 'declined')),
  response_code             text,
  decline_reason            text,
  captured_at               timestamptz,
  voided_at                 timestamptz,
  -- A payment is never both captured and voided.
  CHECK (captured_at IS NULL OR voided_at IS NULL)
);

-- Down Migration
DROP TABLE card_processor_payments;
