import { randomBytes } from 'node:crypto';
import { hashApiKey, newApiKey, newId } from '../lib/ids.js';
import { API_KEY_SCOPES, type ApiKeyMode, type ApiKeyScope } from '../lib/api-keys.js';
import { recordEvent } from './events.js';
import { inTransaction, type Pool, type PoolClient, type Queryable } from './pool.js';

/** A key as stored, without its secret (only its digest is kept). */
export interface ApiKey {
  id: string;
  merchantId: string;
  name: string;
  /** null: a key of the earlier unprefixed format, whose mode follows the deployment. */
  mode: ApiKeyMode | null;
  scopes: ApiKeyScope[];
  prefix: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
  replacedBy: string | null;
}

interface ApiKeyRow {
  id: string;
  merchant_id: string;
  name: string;
  mode: ApiKeyMode | null;
  scopes: ApiKeyScope[];
  key_prefix: string;
  created_at: Date;
  last_used_at: Date | null;
  expires_at: Date | null;
  revoked_at: Date | null;
  replaced_by: string | null;
}

const COLUMNS = `id, merchant_id, name, mode, scopes, key_prefix, created_at, last_used_at, expires_at,
  revoked_at, replaced_by`;

function toApiKey(r: ApiKeyRow): ApiKey {
  return {
    id: r.id,
    merchantId: r.merchant_id,
    name: r.name,
    mode: r.mode,
    scopes: r.scopes,
    prefix: r.key_prefix,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
    expiresAt: r.expires_at,
    revokedAt: r.revoked_at,
    replacedBy: r.replaced_by,
  };
}

/** The state of a key at `now`: usable while neither revoked nor past its expiry. */
export function apiKeyStatus(key: ApiKey, now = new Date()): 'active' | 'revoked' | 'expired' {
  if (key.revokedAt) return 'revoked';
  if (key.expiresAt && key.expiresAt <= now) return 'expired';
  return 'active';
}

export interface NewApiKey {
  merchantId: string;
  /** undefined: the earlier unprefixed format (mode from the deployment); kept for old callers. */
  mode?: ApiKeyMode;
  name?: string;
  scopes?: readonly ApiKeyScope[];
  expiresAt?: Date | null;
}

/** Makes a key; its secret is returned this once and stored only as a SHA-256 digest. */
export async function insertApiKey(
  db: Queryable,
  k: NewApiKey,
): Promise<{ apiKey: string; apiKeyId: string; key: ApiKey }> {
  const apiKey = newApiKey(k.mode);
  const apiKeyId = newId('key');
  const { rows } = await db.query<ApiKeyRow>(
    `INSERT INTO api_keys (id, merchant_id, key_hash, key_prefix, name, mode, scopes, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${COLUMNS}`,
    [
      apiKeyId,
      k.merchantId,
      hashApiKey(apiKey),
      // Enough to recognise a key in a list (`sk_test_abcd`), far too little to use it.
      apiKey.slice(0, k.mode ? 12 : 7),
      k.name ?? 'Default key',
      k.mode ?? null,
      k.scopes ?? API_KEY_SCOPES,
      k.expiresAt ?? null,
    ],
  );
  return { apiKey, apiKeyId, key: toApiKey(rows[0]!) };
}

/** The key a secret belongs to, whatever its state (the caller says why it is refused). */
export async function findApiKeyBySecret(db: Queryable, secret: string): Promise<ApiKey | undefined> {
  const { rows } = await db.query<ApiKeyRow>(`SELECT ${COLUMNS} FROM api_keys WHERE key_hash = $1`, [
    hashApiKey(secret),
  ]);
  return rows[0] && toApiKey(rows[0]);
}

export async function getApiKey(db: Queryable, merchantId: string, id: string): Promise<ApiKey | undefined> {
  const { rows } = await db.query<ApiKeyRow>(
    `SELECT ${COLUMNS} FROM api_keys WHERE id = $1 AND merchant_id = $2`,
    [id, merchantId],
  );
  return rows[0] && toApiKey(rows[0]);
}

/** Only the key id: OAuth clients authenticate with it (client_id) and the key's secret. */
export async function getApiKeyById(db: Queryable, id: string): Promise<ApiKey | undefined> {
  const { rows } = await db.query<ApiKeyRow>(`SELECT ${COLUMNS} FROM api_keys WHERE id = $1`, [id]);
  return rows[0] && toApiKey(rows[0]);
}

/** A merchant's keys of the given modes, newest first (a few per merchant: no pagination). */
export async function listApiKeys(
  db: Queryable,
  merchantId: string,
  modes: readonly (ApiKeyMode | null)[],
): Promise<ApiKey[]> {
  const { rows } = await db.query<ApiKeyRow>(
    `SELECT ${COLUMNS} FROM api_keys
      WHERE merchant_id = $1 AND (mode = ANY($2::text[]) OR (mode IS NULL AND $3))
      ORDER BY created_at DESC, id DESC`,
    [merchantId, modes.filter((m) => m !== null), modes.includes(null)],
  );
  return rows.map(toApiKey);
}

/**
 * When a key was last used, written at most once a minute per key: a request must not cost a
 * write, and nobody needs the exact second.
 */
export async function touchApiKey(db: Queryable, id: string): Promise<void> {
  await db.query(
    `UPDATE api_keys SET last_used_at = now()
      WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`,
    [id],
  );
}

/** Revokes a key at once; revoking a revoked key changes nothing. */
export async function revokeApiKey(
  db: Queryable,
  merchantId: string,
  id: string,
): Promise<ApiKey | undefined> {
  const { rows } = await db.query<ApiKeyRow>(
    `UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
      WHERE id = $1 AND merchant_id = $2 RETURNING ${COLUMNS}`,
    [id, merchantId],
  );
  return rows[0] && toApiKey(rows[0]);
}

/**
 * Replaces a key by a new one with the same name, mode, scopes and expiry; the old one keeps
 * working for `graceSeconds` (never longer than it would have anyway). Undefined when the key is
 * not usable or was already replaced (rotate its successor instead), checked under a row lock so
 * that two rotations at once make one successor.
 */
export async function rotateApiKey(
  pool: Pool,
  merchantId: string,
  id: string,
  graceSeconds: number,
  /** The mode of the successor of a key of the earlier unprefixed format (the deployment's). */
  legacyMode: ApiKeyMode,
): Promise<{ apiKey: string; key: ApiKey; previous: ApiKey } | 'not-found' | 'not-rotatable'> {
  return inTransaction(pool, async (client) => {
    const { rows } = await client.query<ApiKeyRow>(
      `SELECT ${COLUMNS} FROM api_keys WHERE id = $1 AND merchant_id = $2 FOR UPDATE`,
      [id, merchantId],
    );
    if (!rows[0]) return 'not-found' as const;
    const old = toApiKey(rows[0]);
    if (apiKeyStatus(old) !== 'active' || old.replacedBy) return 'not-rotatable' as const;
    const made = await insertApiKey(client, {
      merchantId,
      mode: old.mode ?? legacyMode,
      name: old.name,
      scopes: old.scopes,
      expiresAt: old.expiresAt,
    });
    const { rows: updated } = await client.query<ApiKeyRow>(
      `UPDATE api_keys
          SET replaced_by = $2,
              expires_at = least(coalesce(expires_at, 'infinity'), now() + make_interval(secs => $3))
        WHERE id = $1 RETURNING ${COLUMNS}`,
      [id, made.apiKeyId, graceSeconds],
    );
    return { apiKey: made.apiKey, key: made.key, previous: toApiKey(updated[0]!) };
  });
}

/** How long before its expiry a key's owner is warned (an `api_key.expiring` event and a log line). */
export const EXPIRY_WARNING_DAYS = 7;

/**
 * Records an `api_key.expiring` event for each usable key that expires within the warning period
 * and was not warned yet (a rotated key's grace period is not warned about: the merchant chose
 * it). Safe to run from several processes at once: each key is claimed by one under its row lock.
 */
export async function warnExpiringApiKeys(
  pool: Pool,
  view: (key: ApiKey) => { livemode: boolean },
): Promise<ApiKey[]> {
  return inTransaction(pool, async (client: PoolClient) => {
    const { rows } = await client.query<ApiKeyRow>(
      `UPDATE api_keys SET expiry_warned_at = now()
        WHERE id IN (SELECT id FROM api_keys
                      WHERE expires_at IS NOT NULL AND revoked_at IS NULL AND expiry_warned_at IS NULL
                        AND replaced_by IS NULL AND expires_at > now()
                        AND expires_at <= now() + make_interval(days => $1)
                      FOR UPDATE SKIP LOCKED)
        RETURNING ${COLUMNS}`,
      [EXPIRY_WARNING_DAYS],
    );
    const keys = rows.map(toApiKey);
    for (const key of keys) {
      const data = view(key);
      await recordEvent(client, {
        merchantId: key.merchantId,
        // Seen by the key's own mode (a test key's expiry is a test-mode event).
        livemode: data.livemode,
        type: 'api_key.expiring',
        resourceType: 'api_key',
        resourceId: key.id,
        source: `api_key:${key.id}:expiring:${key.expiresAt!.toISOString()}`,
        data,
      });
    }
    return keys;
  });
}

/** A key that signs OAuth access tokens. */
export interface SigningKey {
  kid: string;
  secret: Uint8Array;
  createdAt: Date;
}

/**
 * The newest signing key, made on first use: every API process reads the same one, so a token
 * issued by one is accepted by all (two processes starting at once make one, by the lock).
 */
export async function currentSigningKey(pool: Pool): Promise<SigningKey> {
  const newest = async (db: Queryable) =>
    (
      await db.query<{ kid: string; secret: Buffer; created_at: Date }>(
        'SELECT kid, secret, created_at FROM oauth_signing_keys ORDER BY created_at DESC, kid DESC LIMIT 1',
      )
    ).rows[0];
  let row = await newest(pool);
  if (!row) {
    row = await inTransaction(pool, async (client) => {
      await client.query("SELECT pg_advisory_xact_lock(hashtext('oauth_signing_keys'))");
      const made = await newest(client);
      if (made) return made;
      const { rows } = await client.query<{ kid: string; secret: Buffer; created_at: Date }>(
        `INSERT INTO oauth_signing_keys (kid, secret) VALUES ($1, $2) RETURNING kid, secret, created_at`,
        [newId('key').replace(/^key_/, 'sig_'), randomBytes(32)],
      );
      return rows[0]!;
    });
  }
  return { kid: row.kid, secret: new Uint8Array(row.secret), createdAt: row.created_at };
}

export async function signingKeyById(db: Queryable, kid: string): Promise<SigningKey | undefined> {
  const { rows } = await db.query<{ kid: string; secret: Buffer; created_at: Date }>(
    'SELECT kid, secret, created_at FROM oauth_signing_keys WHERE kid = $1',
    [kid],
  );
  const row = rows[0];
  return row && { kid: row.kid, secret: new Uint8Array(row.secret), createdAt: row.created_at };
}
