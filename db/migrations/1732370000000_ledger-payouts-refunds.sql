-- Up Migration

-- Chart of accounts. Balances are always derivable from ledger_lines; `balance` is a cache kept
-- by a trigger for merchant accounts only (the ones that must never go negative), so that the
-- busy system accounts (operator clearing, fees) are not a single hot row under load.
CREATE TABLE ledger_accounts (
  id           bigserial PRIMARY KEY,
  code         text NOT NULL UNIQUE,
  kind         text NOT NULL CHECK (kind IN ('merchant_available', 'merchant_held', 'operator_clearing',
                 'fees_revenue')),
  merchant_id  text REFERENCES merchants (id),
  operator     text,
  currency     char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  -- Liabilities and revenue grow with credits; assets with debits.
  normal_side  text NOT NULL CHECK (normal_side IN ('debit', 'credit')),
  track_balance boolean NOT NULL DEFAULT false,
  balance      bigint NOT NULL DEFAULT 0,
  created_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (id, currency),
  CHECK ((kind LIKE 'merchant_%') = (merchant_id IS NOT NULL)),
  CHECK ((kind = 'operator_clearing') = (operator IS NOT NULL)),
  -- A merchant's available and held money never goes below zero (DESIGN.md rule 4).
  CONSTRAINT merchant_balance_not_negative CHECK (NOT track_balance OR balance >= 0)
);

CREATE TABLE journal_entries (
  id           bigserial PRIMARY KEY,
  payment_id   text NOT NULL REFERENCES payments (id),
  -- The posting step (payin_succeeded, hold, capture, release, ...): one entry per payment and step.
  step         text NOT NULL,
  description  text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (payment_id, step)
);

-- Lines in integer minor units: positive = debit, negative = credit.
CREATE TABLE ledger_lines (
  id          bigserial PRIMARY KEY,
  entry_id    bigint NOT NULL REFERENCES journal_entries (id),
  account_id  bigint NOT NULL,
  currency    char(3) NOT NULL,
  amount      bigint NOT NULL CHECK (amount <> 0),
  FOREIGN KEY (account_id, currency) REFERENCES ledger_accounts (id, currency)
);
CREATE INDEX ledger_lines_entry ON ledger_lines (entry_id);
CREATE INDEX ledger_lines_account ON ledger_lines (account_id, id);

-- Every entry sums to zero in each currency, checked when the transaction commits.
CREATE FUNCTION ledger_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  unbalanced record;
BEGIN
  SELECT currency, sum(amount) AS total INTO unbalanced
    FROM ledger_lines WHERE entry_id = NEW.entry_id
   GROUP BY currency HAVING sum(amount) <> 0 LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'journal entry % does not balance: % % off', NEW.entry_id, unbalanced.total, unbalanced.currency
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END;
$$;
CREATE CONSTRAINT TRIGGER ledger_lines_balanced AFTER INSERT ON ledger_lines
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_entry_balanced();

-- An entry must have lines: checked at commit too.
CREATE FUNCTION journal_entry_has_lines() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM ledger_lines WHERE entry_id = NEW.id) THEN
    RAISE EXCEPTION 'journal entry % has no lines', NEW.id USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END;
$$;
CREATE CONSTRAINT TRIGGER journal_entries_have_lines AFTER INSERT ON journal_entries
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION journal_entry_has_lines();

-- The cached balance of tracked accounts moves with each line, in the same transaction.
CREATE FUNCTION ledger_line_moves_balance() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE ledger_accounts
     SET balance = balance + CASE normal_side WHEN 'debit' THEN NEW.amount ELSE -NEW.amount END
   WHERE id = NEW.account_id AND track_balance;
  RETURN NEW;
END;
$$;
CREATE TRIGGER ledger_lines_move_balance AFTER INSERT ON ledger_lines
  FOR EACH ROW EXECUTE FUNCTION ledger_line_moves_balance();

-- The books are immutable: corrections are new entries.
CREATE FUNCTION ledger_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP;
END;
$$;
CREATE TRIGGER journal_entries_immutable BEFORE UPDATE OR DELETE ON journal_entries
  FOR EACH ROW EXECUTE FUNCTION ledger_immutable();
CREATE TRIGGER ledger_lines_immutable BEFORE UPDATE OR DELETE ON ledger_lines
  FOR EACH ROW EXECUTE FUNCTION ledger_immutable();
CREATE TRIGGER journal_entries_no_truncate BEFORE TRUNCATE ON journal_entries
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_immutable();
CREATE TRIGGER ledger_lines_no_truncate BEFORE TRUNCATE ON ledger_lines
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_immutable();

-- Fees: a percentage (basis points) plus a fixed part, per merchant and operator and kind; NULL
-- merchant or operator means "any". The most specific schedule wins.
CREATE TABLE fee_schedules (
  id           bigserial PRIMARY KEY,
  merchant_id  text REFERENCES merchants (id),
  operator     text,
  kind         text NOT NULL CHECK (kind IN ('payin', 'payout', 'refund')),
  currency     char(3) NOT NULL,
  percent_bps  integer NOT NULL DEFAULT 0 CHECK (percent_bps BETWEEN 0 AND 10000),
  fixed_amount bigint NOT NULL DEFAULT 0 CHECK (fixed_amount >= 0),
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX fee_schedules_scope ON fee_schedules
  (coalesce(merchant_id, ''), coalesce(operator, ''), kind, currency);

ALTER TABLE payments
  ADD COLUMN fee_amount bigint NOT NULL DEFAULT 0 CHECK (fee_amount >= 0),
  -- A refund points at the payin it refunds.
  ADD COLUMN parent_payment_id text REFERENCES payments (id),
  ADD CONSTRAINT refund_has_parent CHECK ((kind = 'refund') = (parent_payment_id IS NOT NULL));
CREATE INDEX payments_parent ON payments (parent_payment_id) WHERE parent_payment_id IS NOT NULL;

-- Down Migration
ALTER TABLE payments DROP CONSTRAINT refund_has_parent, DROP COLUMN parent_payment_id, DROP COLUMN fee_amount;
DROP TABLE fee_schedules;
DROP TABLE ledger_lines;
DROP TABLE journal_entries;
DROP TABLE ledger_accounts;
DROP FUNCTION ledger_immutable();
DROP FUNCTION ledger_line_moves_balance();
DROP FUNCTION journal_entry_has_lines();
DROP FUNCTION ledger_entry_balanced();
