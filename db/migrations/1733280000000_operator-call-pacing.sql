-- Up Migration

-- Each operator's rate limit, held across every worker process by the database (db/operator-pacing.ts):
-- one row per lane (an operator's sends, or its polls), holding the earliest moment the next call
-- may go out. A call reserves its slot by moving that moment on by the lane's interval, in one
-- statement, on the database's clock (the workers' clocks never disagree on it).
CREATE TABLE operator_call_pacing (
  lane text PRIMARY KEY,
  next_slot_at timestamptz NOT NULL
);

-- Down Migration
DROP TABLE operator_call_pacing;
