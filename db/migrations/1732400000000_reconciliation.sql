-- Up Migration

-- What to do with a payin the operator reports paid after we expired or failed it (DESIGN.md
-- rule 5): credit the merchant late, or credit and refund the payer at once.
ALTER TABLE merchants ADD COLUMN late_success_policy text NOT NULL DEFAULT 'credit'
  CHECK (late_success_policy IN ('credit', 'refund'));

CREATE TABLE reconciliation_runs (
  id              text PRIMARY KEY,
  operator        text NOT NULL,
  kind            text NOT NULL CHECK (kind IN ('settlement', 'sweep')),
  period_start    timestamptz,
  period_end      timestamptz,
  status          text NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
  triggered_by    text NOT NULL,
  workflow_id     text,
  lines_ingested  bigint NOT NULL DEFAULT 0,
  payments_checked bigint NOT NULL DEFAULT 0,
  summary         jsonb NOT NULL DEFAULT '{}',
  error           text,
  started_at      timestamptz NOT NULL DEFAULT now(),
  finished_at     timestamptz
);
CREATE INDEX reconciliation_runs_operator ON reconciliation_runs (operator, started_at DESC);

CREATE TABLE reconciliation_discrepancies (
  id                  bigserial PRIMARY KEY,
  run_id              text NOT NULL REFERENCES reconciliation_runs (id),
  operator            text NOT NULL,
  class               text NOT NULL CHECK (class IN ('missing_on_our_side', 'missing_on_operator_side', 'amount_mismatch',
                        'status_mismatch', 'duplicate_line', 'ledger_mismatch')),
  payment_id          text REFERENCES payments (id),
  merchant_id         text REFERENCES merchants (id),
  our_reference       text,
  operator_reference  text,
  line_no             bigint,
  our_amount          bigint,
  their_amount        bigint,
  our_status          text,
  their_status        text,
  resolution          text NOT NULL DEFAULT 'open' CHECK (resolution IN ('open', 'auto_resolved')),
  action              text,
  action_reason       text,
  created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reconciliation_discrepancies_run ON reconciliation_discrepancies (run_id, class);

-- The settlement reconciliation reads an operator's payments of a day; the sweep rotates
-- through payments to look at again.
CREATE INDEX payments_operator_created ON payments (operator, created_at);
ALTER TABLE payments ADD COLUMN last_swept_at timestamptz;

-- Down Migration
ALTER TABLE payments DROP COLUMN last_swept_at;
DROP INDEX payments_operator_created;
DROP TABLE reconciliation_discrepancies;
DROP TABLE reconciliation_runs;
ALTER TABLE merchants DROP COLUMN late_success_policy;
