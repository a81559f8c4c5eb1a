-- Up Migration

-- A discrepancy that needs a person is closed by one, with a note that stays in the reports:
-- resolution 'resolved' (by a person), who, when, and why. A later run that finds the same
-- discrepancy of the same payment again records it resolved, with the note it carries.
ALTER TABLE reconciliation_discrepancies DROP CONSTRAINT reconciliation_discrepancies_resolution_check;
ALTER TABLE reconciliation_discrepancies ADD CONSTRAINT reconciliation_discrepancies_resolution_check
  CHECK (resolution IN ('open', 'auto_resolved', 'resolved'));
ALTER TABLE reconciliation_discrepancies
  ADD COLUMN resolved_by text,
  ADD COLUMN resolved_at timestamptz,
  ADD COLUMN resolution_note text,
  ADD CONSTRAINT reconciliation_discrepancies_resolved_has_note
    CHECK (resolution <> 'resolved' OR (resolution_note IS NOT NULL AND resolved_at IS NOT NULL));
CREATE INDEX reconciliation_discrepancies_resolved ON reconciliation_discrepancies (payment_id, class)
  WHERE resolution = 'resolved';

-- Down Migration

DROP INDEX reconciliation_discrepancies_resolved;
UPDATE reconciliation_discrepancies SET resolution = 'open' WHERE resolution = 'resolved';
ALTER TABLE reconciliation_discrepancies
  DROP CONSTRAINT reconciliation_discrepancies_resolved_has_note,
  DROP COLUMN resolution_note,
  DROP COLUMN resolved_at,
  DROP COLUMN resolved_by;
ALTER TABLE reconciliation_discrepancies DROP CONSTRAINT reconciliation_discrepancies_resolution_check;
ALTER TABLE reconciliation_discrepancies ADD CONSTRAINT reconciliation_discrepancies_resolution_check
  CHECK (resolution IN ('open', 'auto_resolved'));
