-- Up Migration

-- An operator's transaction export uploaded by operations (its back-office file), read with the
-- operator's column mapping into lines, then reconciled by the settlement workflow as a report.
-- One upload per (operator, file, period): the same file again answers the first run.
CREATE TABLE reconciliation_uploads (
  id            text PRIMARY KEY,
  operator      text NOT NULL,
  sha256        text NOT NULL,
  filename      text,
  content_type  text NOT NULL,
  period_start  timestamptz NOT NULL,
  period_end    timestamptz NOT NULL,
  lines         bigint NOT NULL DEFAULT 0,
  unreadable    bigint NOT NULL DEFAULT 0,
  run_id        text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT reconciliation_uploads_once UNIQUE (operator, sha256, period_start, period_end)
);

CREATE TABLE reconciliation_upload_lines (
  upload_id           text NOT NULL REFERENCES reconciliation_uploads (id) ON DELETE CASCADE,
  line_no             bigint NOT NULL,
  our_reference       text,
  operator_reference  text,
  kind                text,
  amount              bigint,
  currency            text,
  status_word         text,
  occurred_at         text,
  error               text,
  PRIMARY KEY (upload_id, line_no)
);

-- Down Migration

DROP TABLE reconciliation_upload_lines;
DROP TABLE reconciliation_uploads;
