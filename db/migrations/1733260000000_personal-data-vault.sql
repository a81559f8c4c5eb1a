-- Up Migration

-- The vault's second table (docs/cards.md, "Phone numbers and OTPs"): the personal data that is
-- not a card, under the same envelope encryption and the same key ring as card_vault: a payer's
-- or recipient's phone number, a payin's OTP until it is sent, an operator callback's body as it
-- arrived. Rows elsewhere keep only the token (and a phone number masked, +226******77).
CREATE TABLE personal_vault (
  token        text PRIMARY KEY CHECK (token ~ '^pd_[a-z2-7]{24}$'),
  kind         text NOT NULL CHECK (kind IN ('phone', 'otp', 'callback_body', 'callback_query')),
  kek_id       text NOT NULL,
  wrapped_key  bytea NOT NULL CHECK (octet_length(wrapped_key) = 60),
  -- IV + ciphertext + tag; a callback body is at most 16 kB (api/callbacks.ts).
  ciphertext   bytea NOT NULL CHECK (octet_length(ciphertext) BETWEEN 28 AND 20000),
  created_at   timestamptz NOT NULL DEFAULT now(),
  rewrapped_at timestamptz
);
CREATE INDEX personal_vault_kek ON personal_vault (kek_id);

-- A payin's OTP waits in the vault, not in clear; rows written before this version keep theirs
-- in `otp` until they are used (minutes).
ALTER TABLE payin_authorisations
  ALTER COLUMN otp DROP NOT NULL,
  ADD COLUMN otp_token text REFERENCES personal_vault (token),
  ADD CONSTRAINT payin_authorisations_otp_somewhere CHECK (otp IS NOT NULL OR otp_token IS NOT NULL);

-- A callback's body and query string as they arrived go to the vault (they may carry the
-- payer's number: TMoney's notification is a GET with it in the query); the inbox keeps their
-- tokens, and the path without its query. Rows written before this version keep `raw_body`.
ALTER TABLE operator_callbacks
  ALTER COLUMN raw_body DROP NOT NULL,
  ADD COLUMN raw_body_token text REFERENCES personal_vault (token),
  ADD COLUMN raw_query_token text REFERENCES personal_vault (token),
  ADD CONSTRAINT operator_callbacks_body_somewhere CHECK (raw_body IS NOT NULL OR raw_body_token IS NOT NULL);

-- Down Migration
ALTER TABLE operator_callbacks DROP CONSTRAINT operator_callbacks_body_somewhere, DROP COLUMN raw_body_token,
  DROP COLUMN raw_query_token;
ALTER TABLE payin_authorisations DROP CONSTRAINT payin_authorisations_otp_somewhere, DROP COLUMN otp_token;
DROP TABLE personal_vault;
