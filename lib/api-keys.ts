/**
 * What a key may do. Every scope lets its key read (GET) the merchant's resources of its mode;
 * `payins` creates and acts on payins; `payouts` moves money out (payouts, refunds, transfers);
 * `admin` manages keys and webhook endpoints.
 */
export const API_KEY_SCOPES = ['read', 'payins', 'payouts', 'admin'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

export const API_KEY_MODES = ['test', 'live'] as const;
export type ApiKeyMode = (typeof API_KEY_MODES)[number];

/** Grace period of a rotated key when the merchant names none: 24 hours. */
export const DEFAULT_ROTATION_GRACE_SECONDS = 86_400;
/** The longest grace period a rotation may give the old key: 7 days. */
export const MAX_ROTATION_GRACE_SECONDS = 7 * 86_400;

/**
 * The scope a request needs, from its method and path (under /v1). Reads need any scope; writes
 * need the scope of what they move; keys and webhook endpoints need `admin`, reads included
 * (a key list tells an attacker which keys to aim at).
 */
export function scopeNeeded(method: string, path: string): ApiKeyScope {
  const m = method.toUpperCase();
  if (path.startsWith('/v1/api-keys') || path.startsWith('/v1/webhook-endpoints')) return 'admin';
  if (m === 'GET' || m === 'HEAD') return 'read';
  if (/^\/v1\/payins\/[^/]+\/refunds\/?$/.test(path)) return 'payouts';
  if (path.startsWith('/v1/payins') || path.startsWith('/v1/payment-links')) return 'payins';
  if (/^\/v1\/(payouts|refunds|transfers)(\/|$)/.test(path)) return 'payouts';
  return 'admin';
}

export function scopeGrants(scopes: readonly ApiKeyScope[], needed: ApiKeyScope): boolean {
  return needed === 'read' ? scopes.length > 0 : scopes.includes(needed);
}

/** The mode a key acts in: its own, or for an unprefixed key of the earlier format, the deployment's. */
export function modeOfKey(key: { mode: ApiKeyMode | null }, production: boolean): ApiKeyMode {
  return key.mode ?? (production ? 'live' : 'test');
}
