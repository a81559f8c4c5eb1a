import { openPersonalData, sealPersonalData, type KeyRing } from '../lib/card-vault.js';
import { newId } from '../lib/ids.js';
import { maskPhone } from '../lib/logger.js';
import { inTransaction, type Pool, type PoolClient, type Queryable } from './pool.js';

/**
 * The vault's personal data that is not a card (issue 19: no phone number or OTP in any column
 * outside the vault): a payer's or recipient's phone number, a payin's OTP until it is sent, an
 * operator callback's body and query string as they arrived. Same envelope encryption and key ring as card_vault
 * (lib/card-vault.ts); `passerelle vault rotate` re-wraps both tables. Rows elsewhere keep the token.
 */
export type PersonalDataKind = 'phone' | 'otp' | 'callback_body' | 'callback_query';

/** Personal data sealed for the vault and not yet stored: its row goes in with the row that keeps its token. */
export interface SealedPersonalData {
  token: string;
  kind: PersonalDataKind;
  kekId: string;
  wrappedKey: Buffer;
  ciphertext: Buffer;
}

export function sealForVault(ring: KeyRing, kind: PersonalDataKind, data: Buffer): SealedPersonalData {
  const token = newId('pd');
  return { token, kind, ...sealPersonalData(ring, token, data) };
}

/**
 * An INSERT of sealed rows into the vault, for a WITH clause of the statement that writes the row
 * keeping their tokens (one round trip, and the vault row exists exactly when its holder does).
 * The rows are the five array parameters from `$first` (vaultRowParams); `onlyIf` is an SQL
 * condition on the rest of the statement (the holder was inserted).
 */
export function vaultInsertSql(first: number, onlyIf = 'true'): string {
  const [token, kind, kek, wrapped, ciphertext] = [0, 1, 2, 3, 4].map((i) => `$${first + i}`);
  return `INSERT INTO personal_vault (token, kind, kek_id, wrapped_key, ciphertext)
          SELECT * FROM unnest(${token}::text[], ${kind}::text[], ${kek}::text[], ${wrapped}::bytea[],
                               ${ciphertext}::bytea[])
           WHERE ${onlyIf}`;
}

/** The five array parameters of vaultInsertSql. */
export function vaultRowParams(rows: readonly SealedPersonalData[]): unknown[] {
  return [
    rows.map((r) => r.token),
    rows.map((r) => r.kind),
    rows.map((r) => r.kekId),
    rows.map((r) => r.wrappedKey),
    rows.map((r) => r.ciphertext),
  ];
}

/** Stores a sealed row on its own. */
async function storeSealed(db: Queryable, sealed: SealedPersonalData): Promise<void> {
  await db.query(vaultInsertSql(1), vaultRowParams([sealed]));
}

export async function vaultPersonalData(
  db: Queryable,
  ring: KeyRing,
  kind: PersonalDataKind,
  data: Buffer,
): Promise<string> {
  const sealed = sealForVault(ring, kind, data);
  await storeSealed(db, sealed);
  return sealed.token;
}

export async function openVaultedData(
  db: Queryable,
  ring: KeyRing,
  token: string,
): Promise<Buffer | undefined> {
  const { rows } = await db.query<{ kek_id: string; wrapped_key: Buffer; ciphertext: Buffer }>(
    'SELECT kek_id, wrapped_key, ciphertext FROM personal_vault WHERE token = $1',
    [token],
  );
  const row = rows[0];
  if (!row) return undefined;
  return openPersonalData(ring, token, {
    kekId: row.kek_id,
    wrappedKey: row.wrapped_key,
    ciphertext: row.ciphertext,
  });
}

/** Forgets vaulted data that has served (an OTP once sent): nothing, not even ciphertext, remains. */
export async function forgetVaultedData(db: Queryable, tokens: readonly string[]): Promise<void> {
  if (tokens.length) await db.query('DELETE FROM personal_vault WHERE token = ANY($1::text[])', [tokens]);
}

/** A phone number as rows outside the vault keep it: its token, and the number masked for people. */
export interface VaultedPhone {
  phoneToken: string;
  /** The country code and the last two digits (+226******77): enough to tell numbers apart. */
  phoneMasked: string;
}

/** Vaults a phone number (E.164) and answers what a row may keep of it. */
export async function vaultPhone(db: Queryable, ring: KeyRing, e164: string): Promise<VaultedPhone> {
  const { phone, sealed } = sealPhone(ring, e164);
  await storeSealed(db, sealed);
  return phone;
}

/** vaultPhone's answer with its vault row sealed, for a statement that stores both at once. */
export function sealPhone(ring: KeyRing, e164: string): { phone: VaultedPhone; sealed: SealedPersonalData } {
  const sealed = sealForVault(ring, 'phone', Buffer.from(e164, 'utf8'));
  return { phone: { phoneToken: sealed.token, phoneMasked: maskPhone(e164) }, sealed };
}

/** The number behind a phone token, for the activity that sends it to an operator. */
export async function openPhone(db: Queryable, ring: KeyRing, token: string): Promise<string | undefined> {
  return (await openVaultedData(db, ring, token))?.toString('utf8');
}

/**
 * Moves into the vault what rows written before it kept in clear: payments' and transfers'
 * numbers, waiting OTPs, callbacks' bodies and query strings. A batch per transaction (rows
 * locked, concurrent runs take others); run once after upgrading, before the new workers start
 * sending (`passerelle vault seal-legacy`). Returns how many rows it sealed per table.
 */
export async function sealLegacyPersonalData(
  pool: Pool,
  ring: KeyRing,
  batch = 500,
): Promise<Record<'payments' | 'transfers' | 'payin_authorisations' | 'operator_callbacks', number>> {
  const sealed = { payments: 0, transfers: 0, payin_authorisations: 0, operator_callbacks: 0 };
  const inBatches = async (table: keyof typeof sealed, step: (client: PoolClient) => Promise<number>) => {
    for (;;) {
      const done = await inTransaction(pool, step);
      sealed[table] += done;
      if (done < batch) return;
    }
  };
  await inBatches('payments', async (client) => {
    const { rows } = await client.query<{ id: string; phone: string }>(
      `SELECT id, customer->>'phone' AS phone FROM payments WHERE customer ? 'phone'
        ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
      [batch],
    );
    for (const row of rows) {
      const vaulted = await vaultPhone(client, ring, row.phone);
      await client.query(`UPDATE payments SET customer = (customer - 'phone') || $2::jsonb WHERE id = $1`, [
        row.id,
        JSON.stringify(vaulted),
      ]);
    }
    return rows.length;
  });
  await inBatches('transfers', async (client) => {
    const { rows } = await client.query<{
      id: string;
      sender: { phone?: string };
      recipient: { phone?: string };
    }>(
      `SELECT id, sender, recipient FROM transfers WHERE sender ? 'phone' OR recipient ? 'phone'
        ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
      [batch],
    );
    for (const row of rows) {
      const party = async ({ phone, ...rest }: { phone?: string }) =>
        phone === undefined ? rest : { ...rest, ...(await vaultPhone(client, ring, phone)) };
      await client.query('UPDATE transfers SET sender = $2, recipient = $3 WHERE id = $1', [
        row.id,
        JSON.stringify(await party(row.sender)),
        JSON.stringify(await party(row.recipient)),
      ]);
    }
    return rows.length;
  });
  await inBatches('payin_authorisations', async (client) => {
    const { rows } = await client.query<{ payment_id: string; otp: string }>(
      `SELECT payment_id, otp FROM payin_authorisations WHERE otp IS NOT NULL
        ORDER BY payment_id LIMIT $1 FOR UPDATE SKIP LOCKED`,
      [batch],
    );
    for (const row of rows) {
      const token = await vaultPersonalData(client, ring, 'otp', Buffer.from(row.otp, 'utf8'));
      await client.query('UPDATE payin_authorisations SET otp = NULL, otp_token = $2 WHERE payment_id = $1', [
        row.payment_id,
        token,
      ]);
    }
    return rows.length;
  });
  await inBatches('operator_callbacks', async (client) => {
    const { rows } = await client.query<{ id: number; path: string; raw_body: Buffer }>(
      `SELECT id, path, raw_body FROM operator_callbacks WHERE raw_body IS NOT NULL
        ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
      [batch],
    );
    for (const row of rows) {
      const [path, ...query] = row.path.split('?');
      const bodyToken = await vaultPersonalData(client, ring, 'callback_body', row.raw_body);
      const queryToken = query.length
        ? await vaultPersonalData(client, ring, 'callback_query', Buffer.from(query.join('?'), 'utf8'))
        : null;
      await client.query(
        `UPDATE operator_callbacks SET raw_body = NULL, raw_body_token = $2, raw_query_token = $3, path = $4,
                parsed = parsed - 'fields'
          WHERE id = $1`,
        [row.id, bodyToken, queryToken, path],
      );
    }
    return rows.length;
  });
  return sealed;
}
