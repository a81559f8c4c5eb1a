-- Up Migration

-- API keys a merchant manages itself: a name, a mode (test or live), scopes, an expiry, when it was
-- last used, and the key that replaced it (rotation: the old one works until its expires_at).
-- Keys of the earlier unprefixed format keep mode NULL: the deployment decides (live in production).
ALTER TABLE api_keys
  ADD COLUMN name text NOT NULL DEFAULT 'Default key' CHECK (length(name) BETWEEN 1 AND 100),
  ADD COLUMN mode text CHECK (mode IN ('test', 'live')),
  ADD COLUMN scopes text[] NOT NULL DEFAULT ARRAY['read', 'payins', 'payouts', 'admin']
    CHECK (cardinality(scopes) > 0 AND scopes <@ ARRAY['read', 'payins', 'payouts', 'admin']),
  ADD COLUMN expires_at timestamptz,
  ADD COLUMN last_used_at timestamptz,
  ADD COLUMN replaced_by text REFERENCES api_keys (id),
  ADD COLUMN expiry_warned_at timestamptz;
UPDATE api_keys SET mode = CASE key_prefix WHEN 'sk_test' THEN 'test' WHEN 'sk_live' THEN 'live' END;
-- Keys close to their expiry, for the 7-day warning.
CREATE INDEX api_keys_expiring ON api_keys (expires_at)
  WHERE expires_at IS NOT NULL AND revoked_at IS NULL AND expiry_warned_at IS NULL;

-- Requests each of a merchant's keys may make per window (NULL: the deployment's RATE_LIMIT_REQUESTS).
ALTER TABLE merchants
  ADD COLUMN rate_limit_requests integer CHECK (rate_limit_requests BETWEEN 1 AND 1000000);

-- The shared counters of rate-limiter-flexible's RateLimiterPostgres (its own schema, created here
-- so that the API never runs DDL): one row per key and window, shared by every API process.
CREATE UNLOGGED TABLE api_rate_limits (
  key     varchar(255) PRIMARY KEY,
  points  integer NOT NULL DEFAULT 0,
  expire  bigint
);

-- The keys that sign OAuth access tokens (HS256), shared by every API process; the newest signs,
-- every one verifies (tokens live minutes: an old key can be deleted an hour after a new one).
CREATE TABLE oauth_signing_keys (
  kid         text PRIMARY KEY,
  secret      bytea NOT NULL CHECK (length(secret) >= 32),
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE oauth_signing_keys;
DROP TABLE api_rate_limits;
ALTER TABLE merchants DROP COLUMN rate_limit_requests;
DROP INDEX api_keys_expiring;
ALTER TABLE api_keys DROP COLUMN name, DROP COLUMN mode, DROP COLUMN scopes, DROP COLUMN expires_at,
  DROP COLUMN last_used_at, DROP COLUMN replaced_by, DROP COLUMN expiry_warned_at;
