import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { warnExpiringApiKeys } from '../../db/api-keys.js';
import { publishEvents } from '../../db/events.js';
import { createMerchant, setMerchantRateLimit } from '../../db/merchants.js';
import { apiKeyView } from '../../db/resource-views.js';
import { ROOT, api, eventually, freePort, startStack, type TestStack } from '../support/stack.js';

/** Keys a merchant manages: scopes, revocation, rotation, expiry, OAuth tokens, shared rate limits. */
let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({ worker: false });
});
afterAll(async () => {
  await stack?.stop();
});

type Problem = { type: string; status: number; detail?: string; code?: string };
type KeyBody = {
  id: string;
  object: string;
  name: string;
  mode: string;
  livemode: boolean;
  scopes: string[];
  prefix: string;
  status: string;
  secret?: string;
  expires_at: string | null;
  last_used_at: string | null;
  replaced_by: string | null;
  previous?: KeyBody;
};

async function newKey(key: string, body: Record<string, unknown>): Promise<KeyBody & { secret: string }> {
  const res = await api<KeyBody>(stack, 'POST', '/v1/api-keys', { key, body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as KeyBody & { secret: string };
}

describe('API keys', () => {
  it('makes a key shown once, lists it without its secret, and knows when it was used', async () => {
    const made = await newKey(stack.merchant.apiKey, { name: 'Back office', scopes: ['read', 'payins'] });
    expect(made.secret).toMatch(/^sk_test_[a-z2-7]{40}$/);
    expect(made).toMatchObject({ object: 'api_key', mode: 'test', livemode: false, status: 'active' });
    expect(made.prefix).toBe(made.secret.slice(0, 12));
    expect(made.last_used_at).toBeNull();

    expect((await api(stack, 'GET', '/v1/payins', { key: made.secret })).status).toBe(200);
    const listed = await api<{ data: KeyBody[] }>(stack, 'GET', '/v1/api-keys', {
      key: stack.merchant.apiKey,
    });
    expect(listed.status).toBe(200);
    const mine = listed.body.data.find((k) => k.id === made.id)!;
    expect(mine.scopes).toEqual(['read', 'payins']);
    expect(mine.last_used_at).not.toBeNull();
    expect(JSON.stringify(listed.body)).not.toContain(made.secret);
    expect(JSON.stringify(listed.body)).not.toContain('"secret"');
  });

  it('refuses a revoked key at once, and an expired one', async () => {
    const made = await newKey(stack.merchant.apiKey, { name: 'Soon revoked' });
    expect((await api(stack, 'GET', '/v1/payins', { key: made.secret })).status).toBe(200);
    const revoked = await api<KeyBody>(stack, 'POST', `/v1/api-keys/${made.id}/revoke`, {
      key: stack.merchant.apiKey,
    });
    expect(revoked.body.status).toBe('revoked');
    const after = await api<Problem>(stack, 'GET', '/v1/payins', { key: made.secret });
    expect(after.status).toBe(401);
    expect(after.body.detail).toMatch(/revoked/);

    const expiring = await newKey(stack.merchant.apiKey, {
      name: 'Expiring',
      expires_at: new Date(Date.now() + 86_400_000).toISOString(),
    });
    expect((await api(stack, 'GET', '/v1/payins', { key: expiring.secret })).status).toBe(200);
    // The clock reaching the expiry, without waiting for it.
    await stack.pool.query("UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1", [
      expiring.id,
    ]);
    const expired = await api<Problem>(stack, 'GET', '/v1/payins', { key: expiring.secret });
    expect(expired.status).toBe(401);
    expect(expired.body.detail).toMatch(/expired/);
    const past = await api<Problem>(stack, 'POST', '/v1/api-keys', {
      key: stack.merchant.apiKey,
      body: { name: 'Past', expires_at: '2020-01-01T00:00:00Z' },
    });
    expect(past.status).toBe(400);
  });

  it('rotates: the new key works now, the old one during the grace period and not after', async () => {
    const old = await newKey(stack.merchant.apiKey, { name: 'Rotated', scopes: ['read', 'payouts'] });
    const rotated = await api<KeyBody>(stack, 'POST', `/v1/api-keys/${old.id}/rotate`, {
      key: stack.merchant.apiKey,
      body: { grace_period_seconds: 3600 },
    });
    expect(rotated.status).toBe(201);
    expect(rotated.body.secret).not.toBe(old.secret);
    expect(rotated.body.scopes).toEqual(['read', 'payouts']);
    expect(rotated.body.previous?.replaced_by).toBe(rotated.body.id);
    const graceEnds = Date.parse(rotated.body.previous!.expires_at!);
    expect(graceEnds - Date.now()).toBeGreaterThan(3_500_000);
    expect(graceEnds - Date.now()).toBeLessThanOrEqual(3_600_000);
    for (const key of [old.secret, rotated.body.secret!]) {
      expect((await api(stack, 'GET', '/v1/payins', { key })).status).toBe(200);
    }
    // Rotating the replaced key again would make a second successor: refused.
    const again = await api<Problem>(stack, 'POST', `/v1/api-keys/${old.id}/rotate`, {
      key: stack.merchant.apiKey,
    });
    expect(again.status).toBe(409);
    // The grace period over.
    await stack.pool.query("UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1", [
      old.id,
    ]);
    expect((await api(stack, 'GET', '/v1/payins', { key: old.secret })).status).toBe(401);
    expect((await api(stack, 'GET', '/v1/payins', { key: rotated.body.secret! })).status).toBe(200);

    // No grace: the old key stops at once.
    const next = await api<KeyBody>(stack, 'POST', `/v1/api-keys/${rotated.body.id}/rotate`, {
      key: stack.merchant.apiKey,
      body: { grace_period_seconds: 0 },
    });
    expect(next.status).toBe(201);
    expect((await api(stack, 'GET', '/v1/payins', { key: rotated.body.secret! })).status).toBe(401);
    expect((await api(stack, 'GET', '/v1/payins', { key: next.body.secret! })).status).toBe(200);
  });

  it('refuses what a scope does not grant with 403 problem+json', async () => {
    const readOnly = await newKey(stack.merchant.apiKey, { name: 'Reader', scopes: ['read'] });
    const payins = await newKey(stack.merchant.apiKey, { name: 'Shop', scopes: ['payins'] });
    const admin = await newKey(stack.merchant.apiKey, { name: 'Admin', scopes: ['admin'] });

    const refused = await api<Problem>(stack, 'POST', '/v1/payins', { key: readOnly.secret, body: {} });
    expect(refused.status).toBe(403);
    expect(refused.headers.get('content-type')).toContain('application/problem+json');
    expect(refused.body).toMatchObject({ type: '/problems/forbidden', code: 'insufficient_scope' });
    expect(refused.body.detail).toContain('"payins"');
    expect((await api(stack, 'GET', '/v1/payins', { key: readOnly.secret })).status).toBe(200);
    expect((await api(stack, 'GET', '/v1/balance', { key: payins.secret })).status).toBe(200);
    // Scope granted: the request goes on to validation (400), not 403.
    expect((await api(stack, 'POST', '/v1/payins', { key: payins.secret, body: {} })).status).toBe(400);
    for (const [method, path] of [
      ['POST', '/v1/payouts'],
      ['POST', '/v1/refunds'],
      ['POST', '/v1/transfers'],
      ['POST', '/v1/payins/pay_x/refunds'],
    ] as const) {
      expect((await api(stack, method, path, { key: payins.secret, body: {} })).status, path).toBe(403);
    }
    for (const [method, path] of [
      ['GET', '/v1/api-keys'],
      ['POST', '/v1/api-keys'],
      ['GET', '/v1/webhook-endpoints'],
      ['POST', '/v1/webhook-endpoints'],
    ] as const) {
      const body = method === 'POST' ? {} : undefined;
      expect((await api(stack, method, path, { key: payins.secret, body })).status, path).toBe(403);
    }
    expect((await api(stack, 'GET', '/v1/api-keys', { key: admin.secret })).status).toBe(200);
    // A key cannot give more than it has.
    const escalation = await api<Problem>(stack, 'POST', '/v1/api-keys', {
      key: admin.secret,
      body: { name: 'Escalated', scopes: ['payouts'] },
    });
    expect(escalation.status).toBe(403);
  });

  it('keeps modes apart: a test key makes and sees only test keys', async () => {
    const created = await createMerchant(stack.pool, 'Two modes', { live: true });
    const live = created.liveApiKey!;
    const test = created.apiKey;
    const refused = await api<Problem>(stack, 'POST', '/v1/api-keys', {
      key: test,
      body: { name: 'x', mode: 'live' },
    });
    expect(refused.status).toBe(403);
    const madeByLive = await newKey(live, { name: 'Live child' });
    expect(madeByLive.secret).toMatch(/^sk_live_/);
    expect(madeByLive.livemode).toBe(true);
    const testList = await api<{ data: KeyBody[] }>(stack, 'GET', '/v1/api-keys', { key: test });
    expect(testList.body.data.every((k) => k.mode === 'test')).toBe(true);
    expect((await api(stack, 'GET', `/v1/api-keys/${madeByLive.id}`, { key: test })).status).toBe(404);
    expect((await api(stack, 'POST', `/v1/api-keys/${madeByLive.id}/revoke`, { key: test })).status).toBe(
      404,
    );
    const liveList = await api<{ data: KeyBody[] }>(stack, 'GET', '/v1/api-keys', { key: live });
    expect(new Set(liveList.body.data.map((k) => k.mode))).toEqual(new Set(['test', 'live']));
  });

  it('warns 7 days before a key expires, once, with an event', async () => {
    const created = await createMerchant(stack.pool, 'Expiry warning');
    const soon = await newKey(created.apiKey, {
      name: 'Three days left',
      expires_at: new Date(Date.now() + 3 * 86_400_000).toISOString(),
    });
    const later = await newKey(created.apiKey, {
      name: 'Thirty days left',
      expires_at: new Date(Date.now() + 30 * 86_400_000).toISOString(),
    });
    // Every test stack's event publisher looks for expiring keys once a minute, across all
    // merchants: this call, or one of theirs just before it, is the one that warns.
    const warned = await warnExpiringApiKeys(stack.pool, (k) => apiKeyView(k, false));
    expect(warned.map((k) => k.id)).not.toContain(later.id);
    const twice = await warnExpiringApiKeys(stack.pool, (k) => apiKeyView(k, false));
    expect(twice.map((k) => k.id)).not.toContain(soon.id);
    await publishEvents(stack.pool);
    const events = await api<{ data: { type: string; resource: { id: string }; data: KeyBody }[] }>(
      stack,
      'GET',
      '/v1/events?type=api_key.expiring',
      { key: created.apiKey },
    );
    expect(events.body.data.map((e) => e.resource.id)).toEqual([soon.id]);
    expect(events.body.data[0]!.data.secret).toBeUndefined();
  });
});

describe('OAuth 2.0 client credentials', () => {
  async function token(form: Record<string, string>, basic?: [string, string]) {
    const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded' };
    if (basic) {
      const enc = (s: string) => encodeURIComponent(s);
      headers.Authorization = `Basic ${Buffer.from(`${enc(basic[0])}:${enc(basic[1])}`).toString('base64')}`;
    }
    const res = await fetch(`${stack.apiUrl}/oauth/token`, {
      method: 'POST',
      headers,
      body: new URLSearchParams(form).toString(),
    });
    return {
      status: res.status,
      headers: res.headers,
      body: (await res.json()) as Record<string, string | number>,
    };
  }

  it('issues a short-lived token accepted where the key is, with the scopes asked for', async () => {
    const key = await newKey(stack.merchant.apiKey, { name: 'OAuth client', scopes: ['read', 'payins'] });
    const issued = await token({ grant_type: 'client_credentials', scope: 'read' }, [key.id, key.secret]);
    expect(issued.status).toBe(200);
    expect(issued.headers.get('cache-control')).toBe('no-store');
    expect(issued.body).toMatchObject({ token_type: 'Bearer', expires_in: 900, scope: 'read' });
    const accessToken = String(issued.body.access_token);
    expect(accessToken.split('.')).toHaveLength(3);
    expect((await api(stack, 'GET', '/v1/payins', { key: accessToken })).status).toBe(200);
    // The token has only `read`, though its key also has `payins`.
    const narrowed = await api<Problem>(stack, 'POST', '/v1/payins', { key: accessToken, body: {} });
    expect(narrowed.status).toBe(403);

    // Client authentication in the body works too; the default scopes are the key's.
    const inBody = await token({
      grant_type: 'client_credentials',
      client_id: key.id,
      client_secret: key.secret,
    });
    expect(inBody.status).toBe(200);
    expect(inBody.body.scope).toBe('read payins');

    // Altered: refused.
    const [h, p, s] = accessToken.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ sub: key.id, scope: 'read payins payouts admin' })).toString('base64url')}.${s}`;
    expect(p).not.toBe(forged.split('.')[1]);
    expect((await api(stack, 'GET', '/v1/payins', { key: forged })).status).toBe(401);

    // The key revoked: its token stops at once.
    await api(stack, 'POST', `/v1/api-keys/${key.id}/revoke`, { key: stack.merchant.apiKey });
    expect((await api(stack, 'GET', '/v1/payins', { key: accessToken })).status).toBe(401);
    const afterRevoke = await token({ grant_type: 'client_credentials' }, [key.id, key.secret]);
    expect(afterRevoke.status).toBe(401);
    expect(afterRevoke.body.error).toBe('invalid_client');
  });

  it('answers RFC 6749 errors', async () => {
    const key = await newKey(stack.merchant.apiKey, { name: 'Errors', scopes: ['read'] });
    // The last character changed to another one (a fixed replacement would be the same secret
    // whenever the secret already ends with it).
    const altered = `${key.secret.slice(0, -1)}${key.secret.endsWith('a') ? 'b' : 'a'}`;
    expect(altered).not.toBe(key.secret);
    const wrong = await token({ grant_type: 'client_credentials' }, [key.id, altered]);
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toBe('invalid_client');
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Basic/);
    // Someone else's id with this secret: refused the same way.
    const otherId = await token({ grant_type: 'client_credentials' }, [
      'key_aaaaaaaaaaaaaaaaaaaaaaaa',
      key.secret,
    ]);
    expect(otherId.body.error).toBe('invalid_client');
    expect((await token({ grant_type: 'password' }, [key.id, key.secret])).body.error).toBe(
      'unsupported_grant_type',
    );
    expect((await token({}, [key.id, key.secret])).body.error).toBe('invalid_request');
    const beyond = await token({ grant_type: 'client_credentials', scope: 'read payouts' }, [
      key.id,
      key.secret,
    ]);
    expect(beyond.status).toBe(400);
    expect(beyond.body.error).toBe('invalid_scope');
    const json = await fetch(`${stack.apiUrl}/oauth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        grant_type: 'client_credentials',
        client_id: key.id,
        client_secret: key.secret,
      }),
    });
    expect(json.status).toBe(400);
    expect(((await json.json()) as { error: string }).error).toBe('invalid_request');
  });
});

describe('rate limits', () => {
  const apis: ChildProcess[] = [];
  afterAll(() => {
    for (const child of apis) child.kill('SIGTERM');
  });

  /** A second and a third API process (the real entry point), sharing only the database. */
  async function spawnApi(): Promise<string> {
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'api', 'server.ts')], {
      cwd: ROOT,
      env: {
        ...process.env,
        ...stack.env,
        PORT: String(port),
        HOST: '127.0.0.1',
        // A long window: the test counts answers, not time.
        RATE_LIMIT_WINDOW_SECONDS: '600',
        RATE_LIMIT_REQUESTS: '1000',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    apis.push(child);
    const url = `http://127.0.0.1:${port}`;
    await eventually(`API on ${url}`, async () =>
      (await fetch(`${url}/healthz`)).status ? true : undefined,
    );
    return url;
  }

  it('holds one limit per key across two API processes: 429 with Retry-After and RateLimit headers', async () => {
    const [a, b] = await Promise.all([spawnApi(), spawnApi()]);
    const created = await createMerchant(stack.pool, 'Rate limited');
    await setMerchantRateLimit(stack.pool, created.merchant.id, 5);
    const other = await newKey(created.apiKey, { name: 'Second key' });

    const answers = await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        api<Problem>({ apiUrl: i % 2 ? a : b }, 'GET', '/v1/payins', { key: created.apiKey }),
      ),
    );
    const ok = answers.filter((r) => r.status === 200);
    const limited = answers.filter((r) => r.status === 429);
    // Five in all, not five per process.
    expect(ok).toHaveLength(5);
    expect(limited).toHaveLength(19);
    for (const r of answers) expect(r.headers.get('ratelimit-policy')).toBe('"per-key";q=5;w=600');
    // One counter: the five accepted answers saw 4, 3, 2, 1, 0 remaining between them.
    const remaining = ok.map((r) => /^"per-key";r=(\d+);t=\d+$/.exec(r.headers.get('ratelimit') ?? '')?.[1]);
    expect(remaining.sort()).toEqual(['0', '1', '2', '3', '4']);
    const refused = limited[0]!;
    expect(refused.headers.get('content-type')).toContain('application/problem+json');
    expect(refused.body.type).toBe('/problems/rate-limited');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(600);
    // Per key: the merchant's other key has its own count.
    expect((await api({ apiUrl: a }, 'GET', '/v1/payins', { key: other.secret })).status).toBe(200);
  });
});
