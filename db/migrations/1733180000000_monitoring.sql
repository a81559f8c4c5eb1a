-- Up Migration

-- What /metrics reads every 15 s (db/metrics.ts), served by indexes instead of table scans:
-- payments that ended in the last hour (success rates), callbacks of the last hour by verdict,
-- and the discrepancies still open.
CREATE INDEX payment_events_final ON payment_events (created_at)
  WHERE to_status IN ('succeeded', 'failed', 'expired', 'cancelled', 'unknown');
CREATE INDEX operator_callbacks_received ON operator_callbacks (received_at);
CREATE INDEX reconciliation_discrepancies_open ON reconciliation_discrepancies (operator, class)
  WHERE resolution = 'open';

-- Down Migration
DROP INDEX reconciliation_discrepancies_open;
DROP INDEX operator_callbacks_received;
DROP INDEX payment_events_final;
