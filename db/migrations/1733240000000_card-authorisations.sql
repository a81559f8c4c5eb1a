-- Up Migration

-- STANs (ISO 8583 field 11) are unique per acquirer and UTC day, across every worker.
CREATE TABLE gim_stans (
  day      date NOT NULL,
  acquirer text NOT NULL,
  last     integer NOT NULL CHECK (last BETWEEN 0 AND 999999),
  PRIMARY KEY (day, acquirer)
);

-- A card payment's messages to the switch (docs/cards.md): what identifies it there (STAN, RRN,
-- times) is recorded before the first byte is sent, so that its reversal or its completion can
-- always be built again; then what the switch answered, and how many reversals and completion
-- advices were sent (each repeat is numbered: 0400, 0420, 0421...).
CREATE TABLE card_authorisations (
  payment_id       text PRIMARY KEY REFERENCES payments (id),
  card_token       text NOT NULL REFERENCES card_vault (token),
  stan             text NOT NULL CHECK (stan ~ '^\d{6}$'),
  rrn              text NOT NULL UNIQUE CHECK (rrn ~ '^\d{12}$'),
  local_at         timestamptz NOT NULL,
  transmission     text NOT NULL CHECK (transmission ~ '^\d{10}$'),
  outcome          text NOT NULL DEFAULT 'recorded'
                   CHECK (outcome IN ('recorded', 'approved', 'declined', 'no_answer')),
  response_code    text,
  approval_code    text,
  reversal_sends   integer NOT NULL DEFAULT 0,
  reversed_at      timestamptz,
  capture_sends    integer NOT NULL DEFAULT 0,
  captured_at      timestamptz,
  -- A transaction is never both captured and reversed.
  CHECK (reversed_at IS NULL OR captured_at IS NULL)
);

-- Down Migration
DROP TABLE card_authorisations;
DROP TABLE gim_stans;
