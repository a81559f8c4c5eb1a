-- Up Migration

-- The card vault (docs/cards.md): card numbers and expiries, encrypted (AES-256-GCM) under a data
-- key of their own, itself wrapped under a key-encryption key named by kek_id. Kept apart from
-- payments, which keep only the token, the first six and last four digits, the expiry and the
-- brand. The security code is never stored anywhere.
CREATE TABLE card_vault (
  token        text PRIMARY KEY CHECK (token ~ '^card_[a-z2-7]{24}$'),
  kek_id       text NOT NULL,
  wrapped_key  bytea NOT NULL CHECK (octet_length(wrapped_key) = 60),
  ciphertext   bytea NOT NULL CHECK (octet_length(ciphertext) BETWEEN 29 AND 512),
  fingerprint  bytea NOT NULL CHECK (octet_length(fingerprint) = 32),
  first_six    text NOT NULL CHECK (first_six ~ '^\d{6}$'),
  last_four    text NOT NULL CHECK (last_four ~ '^\d{4}$'),
  expiry       text NOT NULL CHECK (expiry ~ '^\d{2}(0[1-9]|1[0-2])$'),
  brand        text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  rewrapped_at timestamptz
);
-- Rotation finds the cards still under an old key.
CREATE INDEX card_vault_kek ON card_vault (kek_id);
CREATE INDEX card_vault_fingerprint ON card_vault (fingerprint);

-- Down Migration
DROP TABLE card_vault;
