-- Up Migration

-- A payment is credited at most once, whatever step posts the credit (DESIGN.md rule 8): the
-- workflow (`payin_succeeded`), reconciliation (`late_payin_succeeded`) or any later path. The
-- constraint is on "this entry credits the payment", not on the step's name.
ALTER TABLE journal_entries ADD COLUMN credits_payment boolean NOT NULL DEFAULT false;
ALTER TABLE journal_entries DISABLE TRIGGER journal_entries_immutable;
UPDATE journal_entries SET credits_payment = true WHERE step IN ('payin_succeeded', 'late_payin_succeeded');
ALTER TABLE journal_entries ENABLE TRIGGER journal_entries_immutable;
CREATE UNIQUE INDEX journal_entries_one_credit_per_payment ON journal_entries (payment_id) WHERE credits_payment;

-- One send of a payment to its operator at a time: a retry of the send activity waits while an
-- earlier attempt may still be talking to the operator (lease until its worst-case end).
ALTER TABLE payments ADD COLUMN send_lease_until timestamptz, ADD COLUMN send_lease_owner text;

-- Where a merchant's refunds may go: the payer's own number (default), or any number it gives.
ALTER TABLE merchants ADD COLUMN refund_recipients text NOT NULL DEFAULT 'payer'
  CHECK (refund_recipients IN ('payer', 'any'));

-- /metrics counts the payments still open or unknown: a partial index, never the whole table.
CREATE INDEX payments_open_by_status ON payments (kind, status, operator)
  WHERE status IN ('created', 'pending', 'action_required', 'unknown');

-- Down Migration
DROP INDEX payments_open_by_status;
ALTER TABLE merchants DROP COLUMN refund_recipients;
ALTER TABLE payments DROP COLUMN send_lease_until, DROP COLUMN send_lease_owner;
DROP INDEX journal_entries_one_credit_per_payment;
ALTER TABLE journal_entries DROP COLUMN credits_payment;
