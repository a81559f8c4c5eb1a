import { randomUUID } from 'node:crypto';
import express, { Router, type Response } from 'express';
import { SignJWT, errors as joseErrors, jwtVerify, type JWTHeaderParameters } from 'jose';
import {
  apiKeyStatus,
  currentSigningKey,
  findApiKeyBySecret,
  signingKeyById,
  type SigningKey,
} from '../db/api-keys.js';
import type { Pool } from '../db/pool.js';
import { API_KEY_SCOPES, type ApiKeyScope } from '../lib/api-keys.js';

/** RFC 9068's media type of a JWT access token (its `typ` header). */
const ACCESS_TOKEN_TYPE = 'at+jwt';
const AUDIENCE = 'passerelle-api';
/** The newest signing key is read again after this long (a key added by operations is taken up). */
const CURRENT_KEY_TTL_MS = 60_000;

/**
 * OAuth 2.0 access tokens (client credentials, RFC 6749 section 4.4): JWTs signed with HS256 by
 * jose under a key shared by every API process through PostgreSQL. A token names its API key
 * (`sub`, `client_id`) and scopes; the key is read at every request, so revoking it ends its tokens.
 */
export class AccessTokens {
  private current?: { key: Promise<SigningKey>; at: number };
  private readonly byKid = new Map<string, SigningKey>();

  constructor(private readonly deps: { pool: Pool; issuer: string; ttlSeconds: number }) {}

  get ttlSeconds(): number {
    return this.deps.ttlSeconds;
  }

  private signingKey(): Promise<SigningKey> {
    if (!this.current || Date.now() - this.current.at > CURRENT_KEY_TTL_MS) {
      const key = currentSigningKey(this.deps.pool);
      this.current = { key, at: Date.now() };
      key.catch(() => (this.current = undefined));
    }
    return this.current.key;
  }

  async issue(
    keyId: string,
    scopes: readonly ApiKeyScope[],
    ttlSeconds = this.deps.ttlSeconds,
  ): Promise<string> {
    const signing = await this.signingKey();
    return new SignJWT({ scope: scopes.join(' '), client_id: keyId })
      .setProtectedHeader({ alg: 'HS256', kid: signing.kid, typ: ACCESS_TOKEN_TYPE })
      .setIssuer(this.deps.issuer)
      .setAudience(AUDIENCE)
      .setSubject(keyId)
      .setJti(randomUUID())
      .setIssuedAt()
      .setExpirationTime(`${ttlSeconds}s`)
      .sign(signing.secret);
  }

  /** The key and scopes of a valid token; undefined when forged, altered, expired or not ours. */
  async verify(token: string): Promise<{ keyId: string; scopes: ApiKeyScope[] } | undefined> {
    try {
      const { payload } = await jwtVerify(token, (header: JWTHeaderParameters) => this.keyFor(header), {
        issuer: this.deps.issuer,
        audience: AUDIENCE,
        algorithms: ['HS256'],
        typ: ACCESS_TOKEN_TYPE,
        requiredClaims: ['sub', 'exp', 'scope'],
      });
      const scopes = String(payload.scope)
        .split(' ')
        .filter((s): s is ApiKeyScope => (API_KEY_SCOPES as readonly string[]).includes(s));
      return { keyId: payload.sub!, scopes };
    } catch (err) {
      if (err instanceof joseErrors.JOSEError) return undefined;
      throw err;
    }
  }

  private async keyFor(header: JWTHeaderParameters): Promise<Uint8Array> {
    const kid = header.kid;
    if (!kid) throw new joseErrors.JWKSNoMatchingKey();
    let key = this.byKid.get(kid);
    if (!key) {
      key = await signingKeyById(this.deps.pool, kid);
      if (!key) throw new joseErrors.JWKSNoMatchingKey();
      this.byKid.set(kid, key);
    }
    return key.secret;
  }
}

/** The error codes of the token endpoint (RFC 6749 section 5.2). */
export const OAUTH_ERRORS = [
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
] as const;
type OAuthError = (typeof OAUTH_ERRORS)[number];

function sendOAuthError(res: Response, error: OAuthError, description: string): void {
  const status = error === 'invalid_client' ? 401 : 400;
  if (status === 401) res.setHeader('WWW-Authenticate', 'Basic realm="passerelle", charset="UTF-8"');
  res
    .status(status)
    .set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' })
    .json({ error, error_description: description });
}

/** Client credentials from `Authorization: Basic` (form-encoded id and secret, RFC 6749 2.3.1). */
function basicCredentials(
  header: string | undefined,
): { id: string; secret: string } | 'malformed' | undefined {
  if (!header) return undefined;
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!match) return 'malformed';
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return 'malformed';
  try {
    const decode = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
    return { id: decode(decoded.slice(0, colon)), secret: decode(decoded.slice(colon + 1)) };
  } catch {
    return 'malformed';
  }
}

/**
 * `POST /oauth/token`: client credentials grant. The client id is an API key's id (`key_…`), its
 * secret the key itself; the token carries the key's scopes or the subset asked for in `scope`.
 */
export function oauthRoutes(pool: Pool, tokens: AccessTokens): Router {
  const router = Router();
  router.post('/token', express.urlencoded({ extended: false, limit: '4kb' }), async (req, res) => {
    if (!req.is('application/x-www-form-urlencoded')) {
      return sendOAuthError(
        res,
        'invalid_request',
        'Send the parameters as application/x-www-form-urlencoded',
      );
    }
    const body = (req.body ?? {}) as Record<string, unknown>;
    const param = (name: string) => (typeof body[name] === 'string' ? body[name] : undefined);
    for (const name of ['grant_type', 'scope', 'client_id', 'client_secret']) {
      if (body[name] !== undefined && typeof body[name] !== 'string') {
        return sendOAuthError(res, 'invalid_request', `${name} is given more than once`);
      }
    }
    const grantType = param('grant_type');
    if (!grantType) return sendOAuthError(res, 'invalid_request', 'grant_type is required');
    if (grantType !== 'client_credentials') {
      return sendOAuthError(res, 'unsupported_grant_type', 'Only grant_type=client_credentials is supported');
    }

    const basic = basicCredentials(req.header('authorization'));
    if (basic === 'malformed') return sendOAuthError(res, 'invalid_client', 'Malformed Basic credentials');
    if (basic && (param('client_id') !== undefined || param('client_secret') !== undefined)) {
      return sendOAuthError(
        res,
        'invalid_request',
        'Authenticate the client one way: Basic or body, not both',
      );
    }
    const client = basic ?? { id: param('client_id'), secret: param('client_secret') };
    if (!client.id || !client.secret) {
      return sendOAuthError(
        res,
        'invalid_client',
        'Client authentication failed: send client_id and client_secret',
      );
    }
    const key = client.secret.startsWith('sk_') ? await findApiKeyBySecret(pool, client.secret) : undefined;
    // One answer for an unknown id, a wrong secret, a revoked or an expired key: no oracle.
    if (!key || key.id !== client.id || apiKeyStatus(key) !== 'active') {
      return sendOAuthError(res, 'invalid_client', 'Client authentication failed');
    }

    let scopes: ApiKeyScope[] = [...key.scopes];
    const asked = param('scope');
    if (asked !== undefined) {
      const names = asked.split(' ').filter(Boolean);
      const unknown = names.filter((s) => !(API_KEY_SCOPES as readonly string[]).includes(s));
      if (unknown.length || !names.length) {
        return sendOAuthError(res, 'invalid_scope', `Unknown scope: ${unknown.join(' ') || '(empty)'}`);
      }
      const beyond = names.filter((s) => !key.scopes.includes(s as ApiKeyScope));
      if (beyond.length) {
        return sendOAuthError(res, 'invalid_scope', `This client may not have: ${beyond.join(' ')}`);
      }
      scopes = [...new Set(names as ApiKeyScope[])];
    }
    // A token never outlives its key.
    const ttl = key.expiresAt
      ? Math.min(tokens.ttlSeconds, Math.floor((key.expiresAt.getTime() - Date.now()) / 1000))
      : tokens.ttlSeconds;
    if (ttl <= 0) return sendOAuthError(res, 'invalid_client', 'Client authentication failed');
    const accessToken = await tokens.issue(key.id, scopes, ttl);
    res
      .status(200)
      .set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' })
      .json({ access_token: accessToken, token_type: 'Bearer', expires_in: ttl, scope: scopes.join(' ') });
  });
  return router;
}
