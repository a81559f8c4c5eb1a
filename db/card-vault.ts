import {
  cardFingerprint,
  cardSummary,
  openCard,
  rewrapCard,
  sealCard,
  type CardSecret,
  type KeyRing,
} from '../lib/card-vault.js';
import { newId } from '../lib/ids.js';
import { inTransaction, type Pool, type Queryable } from './pool.js';

/** What a payment keeps of a vaulted card. */
export interface VaultedCard {
  token: string;
  firstSix: string;
  lastFour: string;
  expiry: string;
  brand: string;
}

/** Stores a card (number and expiry; never its security code) and answers its token. */
export async function vaultCard(
  db: Queryable,
  ring: KeyRing,
  card: CardSecret,
  gimBins: readonly string[] = [],
): Promise<VaultedCard> {
  const token = newId('card');
  const sealed = sealCard(ring, token, card);
  const summary = cardSummary(card.pan, card.expiry, gimBins);
  await db.query(
    `INSERT INTO card_vault (token, kek_id, wrapped_key, ciphertext, fingerprint, first_six, last_four, expiry, brand)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [
      token,
      sealed.kekId,
      sealed.wrappedKey,
      sealed.ciphertext,
      cardFingerprint(ring, card.pan),
      summary.firstSix,
      summary.lastFour,
      summary.expiry,
      summary.brand,
    ],
  );
  return { token, ...summary };
}

/** The card behind a token, for the one activity that sends it to the card network. */
export async function openVaultedCard(
  db: Queryable,
  ring: KeyRing,
  token: string,
): Promise<CardSecret | undefined> {
  const { rows } = await db.query<{ kek_id: string; wrapped_key: Buffer; ciphertext: Buffer }>(
    'SELECT kek_id, wrapped_key, ciphertext FROM card_vault WHERE token = $1',
    [token],
  );
  const row = rows[0];
  if (!row) return undefined;
  return openCard(ring, token, {
    kekId: row.kek_id,
    wrappedKey: row.wrapped_key,
    ciphertext: row.ciphertext,
  });
}

/** The vault's tables: both under the one key ring, both re-wrapped by a rotation. */
const VAULT_TABLES = ['card_vault', 'personal_vault'] as const;

/**
 * Re-wraps the data keys of the vault (cards and other personal data, db/personal-vault.ts) under
 * any other key than the active one (or under `fromKey` only: one retired key at a time), a batch
 * at a time (each batch one transaction; concurrent runs take different rows). Returns how many
 * it re-wrapped and how many remain under other keys.
 */
export async function rotateVaultKeys(
  pool: Pool,
  ring: KeyRing,
  options: { batch?: number; fromKey?: string } = {},
): Promise<{ rewrapped: number; remaining: number }> {
  const batch = options.batch ?? 500;
  const from = options.fromKey ?? null;
  let rewrapped = 0;
  let remaining = 0;
  for (const table of VAULT_TABLES) {
    for (;;) {
      const done = await inTransaction(pool, async (client) => {
        const { rows } = await client.query<{
          token: string;
          kek_id: string;
          wrapped_key: Buffer;
          ciphertext: Buffer;
        }>(
          `SELECT token, kek_id, wrapped_key, ciphertext FROM ${table}
            WHERE kek_id <> $1 AND ($3::text IS NULL OR kek_id = $3) ORDER BY token LIMIT $2 FOR UPDATE SKIP LOCKED`,
          [ring.activeId, batch, from],
        );
        for (const row of rows) {
          const next = rewrapCard(ring, row.token, {
            kekId: row.kek_id,
            wrappedKey: row.wrapped_key,
            ciphertext: row.ciphertext,
          });
          await client.query(
            `UPDATE ${table} SET kek_id = $2, wrapped_key = $3, rewrapped_at = now() WHERE token = $1`,
            [row.token, next.kekId, next.wrappedKey],
          );
        }
        return rows.length;
      });
      rewrapped += done;
      if (done < batch) break;
    }
    const { rows } = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${table} WHERE kek_id <> $1 AND ($2::text IS NULL OR kek_id = $2)`,
      [ring.activeId, from],
    );
    remaining += rows[0]!.n;
  }
  return { rewrapped, remaining };
}

/** How many vaulted items (cards and other personal data) each key wraps. */
export async function vaultKeyUsage(db: Queryable): Promise<Record<string, number>> {
  const { rows } = await db.query<{ kek_id: string; n: number }>(
    `SELECT kek_id, count(*)::int AS n
       FROM (SELECT kek_id FROM card_vault UNION ALL SELECT kek_id FROM personal_vault) v
      GROUP BY kek_id ORDER BY kek_id`,
  );
  return Object.fromEntries(rows.map((r) => [r.kek_id, r.n]));
}
