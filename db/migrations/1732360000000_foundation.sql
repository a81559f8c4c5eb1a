-- Up Migration

CREATE TABLE merchants (
  id          text PRIMARY KEY,
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- API keys are stored as SHA-256 digests: a key is shown once, at creation, and never again.
CREATE TABLE api_keys (
  id           text PRIMARY KEY,
  merchant_id  text NOT NULL REFERENCES merchants (id),
  key_hash     bytea NOT NULL UNIQUE,
  key_prefix   text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  revoked_at   timestamptz
);
CREATE INDEX api_keys_merchant ON api_keys (merchant_id);

CREATE TABLE payments (
  id                  text PRIMARY KEY,
  merchant_id         text NOT NULL REFERENCES merchants (id),
  kind                text NOT NULL CHECK (kind IN ('payin', 'payout', 'refund')),
  status              text NOT NULL CHECK (status IN ('created', 'pending', 'action_required', 'succeeded',
                        'failed', 'expired', 'cancelled', 'unknown', 'refunded', 'partially_refunded')),
  amount              bigint NOT NULL CHECK (amount > 0),
  currency            char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  operator            text NOT NULL,
  network             text,
  mode                text NOT NULL,
  customer            jsonb NOT NULL DEFAULT '{}',
  description         text,
  return_url          text,
  cancel_url          text,
  metadata            jsonb NOT NULL DEFAULT '{}',
  operator_reference  text,
  next_action         jsonb,
  failure_code        text,
  failure_message     text,
  operator_status     text,
  operator_message    text,
  -- Number of initiation requests sent to the operator (recorded before each one is sent).
  initiation_attempts integer NOT NULL DEFAULT 0,
  deadline_at         timestamptz,
  workflow_id         text NOT NULL UNIQUE,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  completed_at        timestamptz,
  UNIQUE (operator, operator_reference)
);
CREATE INDEX payments_merchant_created ON payments (merchant_id, created_at DESC, id DESC);
CREATE INDEX payments_merchant_status_created ON payments (merchant_id, status, created_at DESC, id DESC);

-- The OTP a payer obtained for a direct payin: kept out of workflow histories and logs, and
-- deleted as soon as the operator has answered the initiation.
CREATE TABLE payin_authorisations (
  payment_id  text PRIMARY KEY REFERENCES payments (id),
  otp         text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Raw inbox: every operator callback is stored here before we answer the operator.
CREATE TABLE operator_callbacks (
  id             bigserial PRIMARY KEY,
  operator       text NOT NULL,
  received_at    timestamptz NOT NULL DEFAULT now(),
  http_method    text NOT NULL,
  path           text NOT NULL,
  content_type   text,
  headers        jsonb NOT NULL,
  -- Bytes exactly as received (a callback may carry anything, NUL bytes included).
  raw_body       bytea NOT NULL,
  source_ip      text,
  payment_id     text REFERENCES payments (id),
  -- Identifies the operator event the callback reports; repeats of one event share it.
  event_key      text,
  verdict        text NOT NULL DEFAULT 'received' CHECK (verdict IN ('received', 'signalled', 'confirmed',
                   'duplicate', 'rejected', 'late')),
  reject_reason  text,
  parsed         jsonb,
  processed_at   timestamptz
);
-- One delivery per operator event reaches the workflow; repeats are kept as 'duplicate'.
CREATE UNIQUE INDEX operator_callbacks_one_per_event ON operator_callbacks (operator, event_key)
  WHERE verdict IN ('signalled', 'confirmed');
CREATE INDEX operator_callbacks_payment ON operator_callbacks (payment_id);

-- Append-only history of every payment's transitions.
CREATE TABLE payment_events (
  id               bigserial PRIMARY KEY,
  payment_id       text NOT NULL REFERENCES payments (id),
  -- Names the workflow step that wrote the event, so that a re-run activity cannot append it twice.
  step             text NOT NULL,
  from_status      text,
  to_status        text NOT NULL,
  actor            text NOT NULL,
  reason           text,
  operator_status  text,
  operator_message text,
  operator_data    jsonb,
  callback_id      bigint REFERENCES operator_callbacks (id),
  created_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (payment_id, step)
);

CREATE FUNCTION payment_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'payment_events is append-only (% refused)', TG_OP;
END;
$$;
CREATE TRIGGER payment_events_no_update_delete BEFORE UPDATE OR DELETE ON payment_events
  FOR EACH ROW EXECUTE FUNCTION payment_events_append_only();
CREATE TRIGGER payment_events_no_truncate BEFORE TRUNCATE ON payment_events
  FOR EACH STATEMENT EXECUTE FUNCTION payment_events_append_only();

CREATE TABLE idempotency_keys (
  merchant_id      text NOT NULL REFERENCES merchants (id),
  key              text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
  request_method   text NOT NULL,
  request_path     text NOT NULL,
  request_hash     text NOT NULL,
  resource_id      text,
  response_status  integer,
  response_body    jsonb,
  created_at       timestamptz NOT NULL DEFAULT now(),
  completed_at     timestamptz,
  PRIMARY KEY (merchant_id, key)
);

-- Down Migration
DROP TABLE idempotency_keys;
DROP TABLE payment_events;
DROP FUNCTION payment_events_append_only();
DROP TABLE operator_callbacks;
DROP TABLE payin_authorisations;
DROP TABLE payments;
DROP TABLE api_keys;
DROP TABLE merchants;
