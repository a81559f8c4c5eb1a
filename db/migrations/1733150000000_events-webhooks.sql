-- Up Migration

-- An id like lib/ids.ts newId(): prefix, '_', 24 base32 characters of randomness. Events are
-- also written by triggers (reconciliation discrepancies), so the database makes their ids.
CREATE FUNCTION passerelle_random_id(prefix text) RETURNS text LANGUAGE sql VOLATILE AS $$
  SELECT prefix || '_' || string_agg(substr('abcdefghijklmnopqrstuvwxyz234567', (get_byte(b, i) & 31) + 1, 1), '' ORDER BY i)
    FROM (SELECT uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()) AS b) s, generate_series(0, 23) i
$$;

-- The outbox: every change a merchant hears about, written in the transaction of the change.
CREATE TABLE events (
  id             text PRIMARY KEY DEFAULT passerelle_random_id('evt'),
  -- NULL: an operations event (a discrepancy no merchant's payment explains).
  merchant_id    text REFERENCES merchants (id),
  type           text NOT NULL CHECK (type ~ '^[a-z_]+\.[a-z_]+$'),
  resource_type  text NOT NULL,
  resource_id    text NOT NULL,
  -- What caused the event (the transition's step): one event per cause, however often it is written.
  source         text NOT NULL UNIQUE,
  api_version    text NOT NULL,
  -- The resource as the API showed it when the event happened.
  data           jsonb NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
  -- The order in which events became visible, given after their transaction committed (the
  -- publisher assigns it under a lock, in one transaction at a time): a reader that follows
  -- positions never skips an event that committed late.
  position       bigint UNIQUE,
  published_at   timestamptz
);
CREATE INDEX events_merchant_created ON events (merchant_id, created_at DESC, id DESC);
CREATE INDEX events_merchant_resource ON events (merchant_id, resource_id, created_at DESC);
CREATE INDEX events_merchant_position ON events (merchant_id, position) WHERE position IS NOT NULL;
CREATE INDEX events_unpublished ON events (created_at, id) WHERE position IS NULL;

-- Events are facts: only their publication (position, published_at) is ever filled in, once.
CREATE FUNCTION events_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.position IS NULL
     AND (NEW.id, NEW.merchant_id, NEW.type, NEW.resource_type, NEW.resource_id, NEW.source, NEW.api_version,
          NEW.data, NEW.created_at) IS NOT DISTINCT FROM
         (OLD.id, OLD.merchant_id, OLD.type, OLD.resource_type, OLD.resource_id, OLD.source, OLD.api_version,
          OLD.data, OLD.created_at) THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'events are immutable (% refused)', TG_OP;
END;
$$;
CREATE TRIGGER events_no_rewrite BEFORE UPDATE OR DELETE ON events
  FOR EACH ROW EXECUTE FUNCTION events_immutable();

-- Wakes the publisher when a transaction that wrote events commits (NOTIFY is delivered at commit).
CREATE FUNCTION events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('passerelle_events', '');
  RETURN NULL;
END;
$$;
CREATE TRIGGER events_wake_publisher AFTER INSERT ON events
  FOR EACH STATEMENT EXECUTE FUNCTION events_notify();

-- A payment or transfer whose status changes without its event cannot commit: checked at
-- commit, whatever code path wrote the transition.
CREATE FUNCTION payment_transition_has_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.from_status IS DISTINCT FROM NEW.to_status
     AND NOT EXISTS (SELECT 1 FROM events WHERE source = 'payment:' || NEW.payment_id || ':' || NEW.step) THEN
    RAISE EXCEPTION 'payment % moved to % (step %) without its event', NEW.payment_id, NEW.to_status, NEW.step;
  END IF;
  RETURN NULL;
END;
$$;
CREATE CONSTRAINT TRIGGER payment_events_need_merchant_event AFTER INSERT ON payment_events
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION payment_transition_has_event();

CREATE FUNCTION transfer_transition_has_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.from_status IS DISTINCT FROM NEW.to_status
     AND NOT EXISTS (SELECT 1 FROM events WHERE source = 'transfer:' || NEW.transfer_id || ':' || NEW.step) THEN
    RAISE EXCEPTION 'transfer % moved to % (step %) without its event', NEW.transfer_id, NEW.to_status, NEW.step;
  END IF;
  RETURN NULL;
END;
$$;
CREATE CONSTRAINT TRIGGER transfer_events_need_merchant_event AFTER INSERT ON transfer_events
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION transfer_transition_has_event();

-- Reconciliation writes discrepancies set-based: their events come from the same statement.
-- They are operations events (no merchant): what an operator's report disagrees with is ours to settle.
CREATE FUNCTION discrepancy_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO events (merchant_id, type, resource_type, resource_id, source, api_version, data)
  SELECT NULL, 'reconciliation.discrepancy_found', 'reconciliation_discrepancy', d.id::text,
         'discrepancy:' || d.id, '2026-12-01',
         jsonb_build_object('id', d.id, 'object', 'reconciliation_discrepancy', 'run_id', d.run_id,
           'operator', d.operator, 'class', d.class, 'payment_id', d.payment_id, 'merchant_id', d.merchant_id,
           'our_reference', d.our_reference, 'operator_reference', d.operator_reference, 'line_no', d.line_no,
           'our_amount', d.our_amount, 'their_amount', d.their_amount, 'our_status', d.our_status,
           'their_status', d.their_status, 'resolution', d.resolution, 'action', d.action,
           'action_reason', d.action_reason)
    FROM new_discrepancies d
   WHERE d.resolution = 'open'
  ON CONFLICT (source) DO NOTHING;
  RETURN NULL;
END;
$$;
CREATE TRIGGER reconciliation_discrepancies_events AFTER INSERT ON reconciliation_discrepancies
  REFERENCING NEW TABLE AS new_discrepancies FOR EACH STATEMENT EXECUTE FUNCTION discrepancy_events();

CREATE TABLE webhook_endpoints (
  id               text PRIMARY KEY,
  merchant_id      text NOT NULL REFERENCES merchants (id),
  url              text NOT NULL CHECK (length(url) <= 2048),
  description      text CHECK (length(description) <= 500),
  -- '{*}': every type.
  event_types      text[] NOT NULL,
  enabled          boolean NOT NULL DEFAULT true,
  disabled_reason  text,
  -- Whether private and loopback addresses are refused (live keys) or allowed (test keys).
  livemode         boolean NOT NULL,
  last_success_at  timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  deleted_at       timestamptz
);
CREATE INDEX webhook_endpoints_merchant ON webhook_endpoints (merchant_id) WHERE deleted_at IS NULL;

-- Signing secrets: HMAC needs them in clear. A rotated-out secret keeps signing until expires_at.
CREATE TABLE webhook_endpoint_secrets (
  id           bigserial PRIMARY KEY,
  endpoint_id  text NOT NULL REFERENCES webhook_endpoints (id),
  secret       text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz
);
CREATE INDEX webhook_endpoint_secrets_endpoint ON webhook_endpoint_secrets (endpoint_id);

-- One delivery of one event to one endpoint (the event's own, a resend, or a replay), carried
-- out by the workflow named in workflow_id; dispatched_at once that workflow is known started.
CREATE TABLE webhook_deliveries (
  id             text PRIMARY KEY DEFAULT passerelle_random_id('whd'),
  event_id       text NOT NULL REFERENCES events (id),
  endpoint_id    text NOT NULL REFERENCES webhook_endpoints (id),
  reason         text NOT NULL CHECK (reason IN ('event', 'resend', 'replay')),
  status         text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed', 'cancelled')),
  workflow_id    text NOT NULL,
  dispatched_at  timestamptz,
  attempts       integer NOT NULL DEFAULT 0,
  last_error     text,
  next_attempt_at timestamptz,
  created_at     timestamptz NOT NULL DEFAULT now(),
  completed_at   timestamptz
);
CREATE UNIQUE INDEX webhook_deliveries_once_per_event ON webhook_deliveries (event_id, endpoint_id) WHERE reason = 'event';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at DESC, id DESC);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id, created_at DESC);
CREATE INDEX webhook_deliveries_undispatched ON webhook_deliveries (created_at) WHERE dispatched_at IS NULL;
CREATE INDEX webhook_deliveries_workflow ON webhook_deliveries (workflow_id);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (endpoint_id) WHERE status = 'pending';

-- Every attempt, as the receiver answered it.
CREATE TABLE webhook_attempts (
  id             bigserial PRIMARY KEY,
  delivery_id    text NOT NULL REFERENCES webhook_deliveries (id),
  attempt        integer NOT NULL,
  attempted_at   timestamptz NOT NULL DEFAULT now(),
  http_status    integer,
  latency_ms     integer NOT NULL,
  -- The first 1 kB of the answer.
  response_body  text,
  error          text,
  UNIQUE (delivery_id, attempt)
);

-- Down Migration
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoint_secrets;
DROP TABLE webhook_endpoints;
DROP TRIGGER reconciliation_discrepancies_events ON reconciliation_discrepancies;
DROP FUNCTION discrepancy_events();
DROP TRIGGER transfer_events_need_merchant_event ON transfer_events;
DROP FUNCTION transfer_transition_has_event();
DROP TRIGGER payment_events_need_merchant_event ON payment_events;
DROP FUNCTION payment_transition_has_event();
DROP TABLE events;
DROP FUNCTION events_notify();
DROP FUNCTION events_immutable();
DROP FUNCTION passerelle_random_id(text);
