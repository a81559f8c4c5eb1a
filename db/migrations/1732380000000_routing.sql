-- Up Migration

-- A merchant's allowed routes per network and kind, in order of preference. Absent: the default
-- routing table (lib/routing.ts).
CREATE TABLE merchant_routes (
  merchant_id  text NOT NULL REFERENCES merchants (id),
  network      text NOT NULL,
  kind         text NOT NULL CHECK (kind IN ('payin', 'payout')),
  operators    text[] NOT NULL CHECK (cardinality(operators) >= 1),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (merchant_id, network, kind)
);

-- Route health (circuit breaker), shared by every worker: after repeated operator-side failures
-- the operator is skipped until `open_until`.
CREATE TABLE operator_health (
  operator              text PRIMARY KEY,
  consecutive_failures  integer NOT NULL DEFAULT 0,
  open_until            timestamptz,
  last_failure          text,
  updated_at            timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE operator_health;
DROP TABLE merchant_routes;
