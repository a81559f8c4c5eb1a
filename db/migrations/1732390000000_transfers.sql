-- Up Migration

-- A transfer: collect from the sender on one network, pay the recipient on another, refund the
-- sender when the payout fails. Its legs are payments (kind payin, payout, refund) pointing here.
CREATE TABLE transfers (
  id                 text PRIMARY KEY,
  merchant_id        text NOT NULL REFERENCES merchants (id),
  status             text NOT NULL CHECK (status IN ('created', 'collecting', 'disbursing', 'awaiting_resolution',
                       'refunding', 'completed', 'refunded', 'failed', 'needs_review')),
  currency           char(3) NOT NULL,
  -- What the sender pays, what the recipient receives, and our fee (collected = disbursed + fee).
  collect_amount     bigint NOT NULL CHECK (collect_amount > 0),
  disburse_amount    bigint NOT NULL CHECK (disburse_amount > 0),
  fee_amount         bigint NOT NULL CHECK (fee_amount >= 0),
  fee_bearer         text NOT NULL CHECK (fee_bearer IN ('sender', 'recipient')),
  sender             jsonb NOT NULL,
  recipient          jsonb NOT NULL,
  description        text,
  metadata           jsonb NOT NULL DEFAULT '{}',
  failure_code       text,
  failure_message    text,
  workflow_id        text NOT NULL UNIQUE,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  completed_at       timestamptz,
  CHECK (collect_amount = disburse_amount + fee_amount)
);
CREATE INDEX transfers_merchant_created ON transfers (merchant_id, created_at DESC, id DESC);

CREATE TABLE transfer_events (
  id           bigserial PRIMARY KEY,
  transfer_id  text NOT NULL REFERENCES transfers (id),
  step         text NOT NULL,
  from_status  text,
  to_status    text NOT NULL,
  reason       text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (transfer_id, step)
);
CREATE TRIGGER transfer_events_no_update_delete BEFORE UPDATE OR DELETE ON transfer_events
  FOR EACH ROW EXECUTE FUNCTION payment_events_append_only();

ALTER TABLE payments ADD COLUMN transfer_id text REFERENCES transfers (id);
CREATE INDEX payments_transfer ON payments (transfer_id) WHERE transfer_id IS NOT NULL;

-- The money of a transfer between its legs sits in an account of its own.
ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_kind_check;
ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_kind_check
  CHECK (kind IN ('merchant_available', 'merchant_held', 'operator_clearing', 'fees_revenue', 'transfer_transit'));

ALTER TABLE fee_schedules DROP CONSTRAINT fee_schedules_kind_check;
ALTER TABLE fee_schedules ADD CONSTRAINT fee_schedules_kind_check CHECK (kind IN ('payin', 'payout', 'refund', 'transfer'));

-- Down Migration
ALTER TABLE fee_schedules DROP CONSTRAINT fee_schedules_kind_check;
ALTER TABLE fee_schedules ADD CONSTRAINT fee_schedules_kind_check CHECK (kind IN ('payin', 'payout', 'refund'));
ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_kind_check;
ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_kind_check
  CHECK (kind IN ('merchant_available', 'merchant_held', 'operator_clearing', 'fees_revenue'));
ALTER TABLE payments DROP COLUMN transfer_id;
DROP TABLE transfer_events;
DROP TABLE transfers;
