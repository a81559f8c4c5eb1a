import { spawn, spawnSync } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { insertApiKey } from '../../db/api-keys.js';
import { createMerchant } from '../../db/merchants.js';
import { applyTransition } from '../../db/payments.js';
import { nominalRetryDelayMs } from '../../lib/events.js';
import { insertBarePayin } from '../support/money.js';
import {
  ROOT,
  TEST_ADMIN_KEY,
  api,
  eventually,
  recordHistory,
  startStack,
  type TestStack,
} from '../support/stack.js';

/**
 * Events and webhooks on the real stack: the outbox written with each transition, the events
 * API, endpoints signed with Standard Webhooks (verified with the `standardwebhooks` library),
 * rotation, failures, 410, resend, replay, SSRF refusal, and the live stream's resume.
 */

interface Received {
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** A merchant's server: answers by path (`/ok`, `/fail`, `/gone`, `/redirect`), keeps what it got. */
class Receiver {
  readonly received: Received[] = [];
  private server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      this.received.push({
        path,
        headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])),
        body: Buffer.concat(chunks).toString('utf8'),
      });
      if (path.startsWith('/fail')) res.writeHead(500).end('x'.repeat(5000));
      else if (path.startsWith('/gone')) res.writeHead(410).end('gone');
      else if (path.startsWith('/redirect')) res.writeHead(302, { location: 'http://127.0.0.1:1/' }).end();
      else res.writeHead(204).end();
    });
  });
  url = '';
  async start() {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  at(path: string) {
    return this.received.filter((r) => r.path === path);
  }
  async stop() {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

let stack: TestStack;
const receiver = new Receiver();

beforeAll(async () => {
  await receiver.start();
  stack = await startStack({ env: { EVENT_PUBLISHER_ENABLED: 'true', EVENT_PUBLISH_INTERVAL_MS: '500' } });
});
afterAll(async () => {
  await stack?.stop();
  await receiver.stop();
});

interface EventBody {
  id: string;
  type: string;
  created_at: string;
  api_version: string;
  resource: { type: string; id: string };
  data: { id: string; status: string; amount: number };
}

interface EndpointBody {
  id: string;
  secret?: string;
  enabled: boolean;
  disabled_reason: string | null;
  event_types: string[];
}

interface DeliveryBody {
  id: string;
  status: string;
  event_id: string;
  attempt_count: number;
  next_attempt_at: string | null;
  attempts: Array<{
    attempt: number;
    attempted_at: string;
    http_status: number | null;
    response_body: string | null;
    error: string | null;
  }>;
}

let phones = 0;
/** A Moov Burkina payin approved on the phone (the sandbox approves it after a moment). */
async function approvedPayin(key = stack.merchant.apiKey) {
  const phone = `+2267012${String(3000 + phones++).padStart(4, '0')}`;
  const created = await api<{ id: string; status: string }>(stack, 'POST', '/v1/payins', {
    key,
    body: { amount: 2000, currency: 'XOF', mode: 'direct', customer: { phone } },
  });
  expect(created.status).toBe(201);
  return eventually(`payin ${created.body.id} to end`, async () => {
    const res = await api<{ id: string; status: string }>(stack, 'GET', `/v1/payins/${created.body.id}`, {
      key,
    });
    return ['succeeded', 'failed', 'expired'].includes(res.body.status) ? res.body : undefined;
  });
}

async function createEndpoint(body: Record<string, unknown>, key = stack.merchant.apiKey) {
  return api<EndpointBody>(stack, 'POST', '/v1/webhook-endpoints', { key, body });
}

async function eventsOf(resourceId: string, key = stack.merchant.apiKey) {
  const res = await api<{ data: EventBody[] }>(
    stack,
    'GET',
    `/v1/events?resource_id=${resourceId}&limit=100`,
    {
      key,
    },
  );
  expect(res.status).toBe(200);
  return res.body.data;
}

function verify(secret: string, r: Received): EventBody {
  return new Webhook(secret).verify(r.body, r.headers) as EventBody;
}

describe('events', () => {
  it('every transition of a payin is an event with the payin as the API showed it, newest first', async () => {
    const done = await approvedPayin();
    expect(done.status).toBe('succeeded');
    const events = await eventsOf(done.id);
    expect(events.map((e) => e.type)).toEqual(['payin.succeeded', 'payin.action_required', 'payin.created']);
    for (const e of events) {
      expect(e.id).toMatch(/^evt_[a-z2-7]{24}$/);
      expect(e.api_version).toBe('2026-12-01');
      expect(e.resource).toEqual({ type: 'payin', id: done.id });
      expect(`payin.${e.data.status}`).toBe(e.type);
      expect(e.data.amount).toBe(2000);
    }
    // The latest event's resource is the payin as GET shows it now.
    const now = await api<Record<string, unknown>>(stack, 'GET', `/v1/payins/${done.id}`, {
      key: stack.merchant.apiKey,
    });
    expect(events[0]!.data).toEqual(now.body);

    const one = await api<EventBody>(stack, 'GET', `/v1/events/${events[1]!.id}`, {
      key: stack.merchant.apiKey,
    });
    expect(one.status).toBe(200);
    expect(one.body).toEqual(events[1]);

    // Filter by type, page by cursor.
    const byType = await api<{ data: EventBody[] }>(
      stack,
      'GET',
      `/v1/events?type=payin.succeeded&limit=100`,
      {
        key: stack.merchant.apiKey,
      },
    );
    expect(byType.body.data.length).toBeGreaterThan(0);
    expect(byType.body.data.every((e) => e.type === 'payin.succeeded')).toBe(true);
    const first = await api<{ data: EventBody[]; next_cursor: string; has_more: boolean }>(
      stack,
      'GET',
      `/v1/events?resource_id=${done.id}&limit=2`,
      { key: stack.merchant.apiKey },
    );
    expect(first.body.has_more).toBe(true);
    const second = await api<{ data: EventBody[]; has_more: boolean }>(
      stack,
      'GET',
      `/v1/events?resource_id=${done.id}&limit=2&cursor=${first.body.next_cursor}`,
      { key: stack.merchant.apiKey },
    );
    expect([...first.body.data, ...second.body.data].map((e) => e.id)).toEqual(events.map((e) => e.id));
    expect(second.body.has_more).toBe(false);

    // Scoped to the merchant, and bad input is a clear 400.
    const other = await createMerchant(stack.pool, 'Other merchant');
    expect((await api(stack, 'GET', `/v1/events/${events[0]!.id}`, { key: other.apiKey })).status).toBe(404);
    expect(await eventsOf(done.id, other.apiKey)).toEqual([]);
    const bad = await api<{ type: string }>(stack, 'GET', '/v1/events?type=payin.paid', {
      key: stack.merchant.apiKey,
    });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toContain('application/problem+json');
  });

  it('a status change cannot commit without its event (checked by the database)', async () => {
    const merchant = (await createMerchant(stack.pool, 'Outbox')).merchant.id;
    const id = await insertBarePayin(stack.pool, merchant);
    const client = await stack.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO payment_events (payment_id, step, from_status, to_status, actor, reason)
         VALUES ($1, 'forged', 'created', 'failed', 'workflow', 'no event')`,
        [id],
      );
      await client.query(`UPDATE payments SET status = 'failed' WHERE id = $1`, [id]);
      await expect(client.query('COMMIT')).rejects.toThrow(/without its event/);
    } finally {
      client.release();
    }
    const { rows } = await stack.pool.query('SELECT status FROM payments WHERE id = $1', [id]);
    expect((rows[0] as { status: string }).status).toBe('created');
    // Through the repository the event comes with the change, once, however often it is applied.
    const t = {
      paymentId: id,
      step: 'fail',
      to: 'failed' as const,
      actor: 'workflow' as const,
      reason: 'test',
    };
    await applyTransition(stack.pool, t);
    await applyTransition(stack.pool, t);
    const own = await stack.pool.query(`SELECT type FROM events WHERE resource_id = $1 ORDER BY created_at`, [
      id,
    ]);
    expect(own.rows.map((r: { type: string }) => r.type)).toEqual(['payin.created', 'payin.failed']);
    // Events are facts: not rewritten, not deleted.
    await expect(
      stack.pool.query(`UPDATE events SET type = 'payin.succeeded' WHERE resource_id = $1`, [id]),
    ).rejects.toThrow(/immutable/);
    await expect(stack.pool.query(`DELETE FROM events WHERE resource_id = $1`, [id])).rejects.toThrow(
      /immutable/,
    );
  });
});

describe('the outbox under a killed process', () => {
  const killedDuring = (id: string, when: 'during' | 'after') =>
    spawnSync(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'test/support/kill-mid-transition.ts'), id, when],
      {
        cwd: ROOT,
        env: process.env,
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );

  it('a process killed inside the transition leaves neither the transition nor its event; after it, both', async () => {
    const merchantId = (await createMerchant(stack.pool, 'Killed')).merchant.id;
    const state = async (id: string) => {
      const p = await stack.pool.query<{ status: string }>('SELECT status FROM payments WHERE id = $1', [id]);
      const e = await stack.pool.query<{ type: string }>(
        'SELECT type FROM events WHERE resource_id = $1 ORDER BY created_at',
        [id],
      );
      return { status: p.rows[0]!.status, events: e.rows.map((r) => r.type) };
    };
    const during = await insertBarePayin(stack.pool, merchantId);
    expect(killedDuring(during, 'during').signal).toBe('SIGKILL');
    // PostgreSQL rolls back the transaction of the dead connection.
    expect(
      await eventually('the dead transaction rolled back', async () => {
        const s = await state(during);
        return s.status === 'created' ? s : undefined;
      }),
    ).toEqual({ status: 'created', events: ['payin.created'] });

    const after = await insertBarePayin(stack.pool, merchantId);
    expect(killedDuring(after, 'after').signal).toBe('SIGKILL');
    expect(await state(after)).toEqual({ status: 'failed', events: ['payin.created', 'payin.failed'] });
  });
});

describe('webhook endpoints', () => {
  it('deliver every event signed with Standard Webhooks; the secret is shown once', async () => {
    const created = await createEndpoint({ url: `${receiver.url}/ok`, description: 'shop' });
    expect(created.status).toBe(201);
    const secret = created.body.secret!;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const read = await api<EndpointBody>(stack, 'GET', `/v1/webhook-endpoints/${created.body.id}`, {
      key: stack.merchant.apiKey,
    });
    expect(read.body.secret).toBeUndefined();
    expect(read.body.event_types).toEqual(['*']);

    const done = await approvedPayin();
    const events = await eventsOf(done.id);
    const got = await eventually('three deliveries', () => {
      const mine = receiver.at('/ok').filter((r) => events.some((e) => e.id === r.headers['webhook-id']));
      return mine.length >= 3 ? mine : undefined;
    });
    for (const r of got) {
      const payload = verify(secret, r);
      const event = events.find((e) => e.id === r.headers['webhook-id'])!;
      expect(payload).toEqual(event);
      expect(r.headers['content-type']).toBe('application/json');
    }
    expect(new Set(got.map((r) => r.headers['webhook-id'])).size).toBe(3);
    // A body changed on the way does not verify.
    expect(() => verify(secret, { ...got[0]!, body: got[0]!.body.replace('2000', '2001') })).toThrow();

    const deliveries = await eventually('delivery records', async () => {
      const res = await api<{ data: DeliveryBody[] }>(
        stack,
        'GET',
        `/v1/webhook-endpoints/${created.body.id}/deliveries?limit=100`,
        { key: stack.merchant.apiKey },
      );
      const mine = res.body.data.filter((d) => events.some((e) => e.id === d.event_id));
      return mine.length === 3 && mine.every((d) => d.status === 'succeeded') ? mine : undefined;
    });
    expect(deliveries.every((d) => d.attempts[0]!.http_status === 204)).toBe(true);
    const batch = await stack.pool.query<{ workflow_id: string }>(
      'SELECT workflow_id FROM webhook_deliveries WHERE id = $1',
      [deliveries[0]!.id],
    );
    await recordHistory(stack, batch.rows[0]!.workflow_id, 'webhooks-delivered', 'workflow');
    const perEvent = await api<{ data: DeliveryBody[] }>(
      stack,
      'GET',
      `/v1/events/${events[0]!.id}/deliveries`,
      {
        key: stack.merchant.apiKey,
      },
    );
    expect(perEvent.body.data.map((d) => d.event_id)).toEqual([events[0]!.id]);
    await api(stack, 'DELETE', `/v1/webhook-endpoints/${created.body.id}`, { key: stack.merchant.apiKey });
  });

  it('a rotated secret signs beside the new one during the grace period, then not', async () => {
    const merchant = await createMerchant(stack.pool, 'Rotation');
    const key = merchant.apiKey;
    const created = await createEndpoint(
      { url: `${receiver.url}/ok-rotation`, event_types: ['payin.created'] },
      key,
    );
    const old = created.body.secret!;
    const rotated = await api<EndpointBody>(
      stack,
      'POST',
      `/v1/webhook-endpoints/${created.body.id}/rotate-secret`,
      {
        key,
        body: { grace_period_seconds: 3600 },
      },
    );
    expect(rotated.status).toBe(200);
    const fresh = rotated.body.secret!;
    expect(fresh).not.toBe(old);
    const p1 = await api<{ id: string }>(stack, 'POST', '/v1/payins', {
      key,
      body: { amount: 2000, currency: 'XOF', mode: 'direct', customer: { phone: '+22670123456' } },
    });
    const r1 = await eventually('delivery during the grace period', () =>
      receiver.at('/ok-rotation').find((r) => (JSON.parse(r.body) as EventBody).data.id === p1.body.id),
    );
    expect(r1.headers['webhook-signature']!.split(' ')).toHaveLength(2);
    expect(verify(old, r1).type).toBe('payin.created');
    expect(verify(fresh, r1).type).toBe('payin.created');

    // No grace: only the newest secret signs.
    const again = await api<EndpointBody>(
      stack,
      'POST',
      `/v1/webhook-endpoints/${created.body.id}/rotate-secret`,
      {
        key,
        body: { grace_period_seconds: 0 },
      },
    );
    const newest = again.body.secret!;
    const p2 = await api<{ id: string }>(stack, 'POST', '/v1/payins', {
      key,
      body: { amount: 2000, currency: 'XOF', mode: 'direct', customer: { phone: '+22670123456' } },
    });
    const r2 = await eventually('delivery after the grace period', () =>
      receiver.at('/ok-rotation').find((r) => (JSON.parse(r.body) as EventBody).data.id === p2.body.id),
    );
    expect(r2.headers['webhook-signature']!.split(' ')).toHaveLength(1);
    expect(verify(newest, r2).type).toBe('payin.created');
    expect(() => verify(fresh, r2)).toThrow();
    expect(() => verify(old, r2)).toThrow();
  });

  it('a failing endpoint is retried on schedule with every attempt recorded; resend sends now', async () => {
    const merchant = await createMerchant(stack.pool, 'Failing receiver');
    const key = merchant.apiKey;
    const failing = await createEndpoint(
      { url: `${receiver.url}/fail`, event_types: ['payin.created'] },
      key,
    );
    const p = await api<{ id: string }>(stack, 'POST', '/v1/payins', {
      key,
      body: { amount: 2000, currency: 'XOF', mode: 'direct', customer: { phone: '+22670123456' } },
    });
    const [event] = await eventsOf(p.body.id, key).then((es) => es.filter((e) => e.type === 'payin.created'));
    const failed = await eventually('a failed first attempt', async () => {
      const res = await api<{ data: DeliveryBody[] }>(stack, 'GET', `/v1/events/${event!.id}/deliveries`, {
        key,
      });
      const d = res.body.data[0];
      return d && d.attempt_count >= 1 ? d : undefined;
    });
    expect(failed.status).toBe('pending');
    expect(failed.attempts[0]!.http_status).toBe(500);
    expect(failed.attempts[0]!.response_body).toHaveLength(1024);
    // The next attempt is due on schedule after the last one (5 s after the first, + up to 10 %),
    // read from the records, not from the clock: a slow machine may read them late.
    const last = failed.attempts[failed.attempts.length - 1]!;
    const nominal = nominalRetryDelayMs(last.attempt)!;
    const due = Date.parse(failed.next_attempt_at!) - Date.parse(last.attempted_at);
    expect(due).toBeGreaterThanOrEqual(nominal - 1_000);
    expect(due).toBeLessThanOrEqual(nominal * 1.1 + 1_000);

    // Fixed: the merchant points the endpoint at a working URL and resends the event now.
    await api(stack, 'PATCH', `/v1/webhook-endpoints/${failing.body.id}`, {
      key,
      body: { url: `${receiver.url}/ok-resend` },
    });
    const resent = await api<{ queued: number }>(stack, 'POST', `/v1/events/${event!.id}/resend`, {
      key,
      body: { endpoint_id: failing.body.id },
    });
    expect(resent.status).toBe(202);
    expect(resent.body.queued).toBe(1);
    const r = await eventually('the resent event', () =>
      receiver.at('/ok-resend').find((x) => x.headers['webhook-id'] === event!.id),
    );
    expect(verify(failing.body.secret!, r).id).toBe(event!.id);
    // The earlier delivery's next attempt goes to the new URL too, with the same webhook-id.
    const both = await eventually(
      'both deliveries succeeded',
      async () => {
        const res = await api<{ data: DeliveryBody[] }>(stack, 'GET', `/v1/events/${event!.id}/deliveries`, {
          key,
        });
        return res.body.data.length === 2 && res.body.data.every((d) => d.status === 'succeeded')
          ? res.body.data
          : undefined;
      },
      20_000,
    );
    expect(both.map((d) => d.event_id)).toEqual([event!.id, event!.id]);
    expect(receiver.at('/ok-resend').filter((x) => x.headers['webhook-id'] === event!.id).length).toBe(2);
  });

  it('410 Gone disables the endpoint and an event says so; redirects are not followed', async () => {
    const merchant = await createMerchant(stack.pool, 'Gone receiver');
    const key = merchant.apiKey;
    const gone = await createEndpoint({ url: `${receiver.url}/gone`, event_types: ['payin.created'] }, key);
    const redirect = await createEndpoint(
      { url: `${receiver.url}/redirect`, event_types: ['payin.created'] },
      key,
    );
    await api(stack, 'POST', '/v1/payins', {
      key,
      body: { amount: 2000, currency: 'XOF', mode: 'direct', customer: { phone: '+22670123456' } },
    });
    const disabled = await eventually('the endpoint disabled', async () => {
      const res = await api<EndpointBody>(stack, 'GET', `/v1/webhook-endpoints/${gone.body.id}`, { key });
      return res.body.enabled ? undefined : res.body;
    });
    expect(disabled.disabled_reason).toContain('410');
    // On-call sees it in /metrics (the snapshot is at most a few seconds old).
    const disabledGauge = await eventually('the metrics to count it', async () => {
      const text = await (
        await fetch(`${stack.apiUrl}/metrics`, { headers: { Authorization: `Bearer ${TEST_ADMIN_KEY}` } })
      ).text();
      const n = Number(/passerelle_webhooks\{state="endpoints_disabled"\} (\d+)/.exec(text)?.[1] ?? 0);
      return n >= 1 ? n : undefined;
    });
    expect(disabledGauge).toBeGreaterThanOrEqual(1);
    const events = await api<{ data: EventBody[] }>(
      stack,
      'GET',
      '/v1/events?type=webhook_endpoint.disabled',
      { key },
    );
    expect(events.body.data.map((e) => e.resource.id)).toEqual([gone.body.id]);
    const redirected = await eventually('the redirect attempt', async () => {
      const res = await api<{ data: DeliveryBody[] }>(
        stack,
        'GET',
        `/v1/webhook-endpoints/${redirect.body.id}/deliveries`,
        {
          key,
        },
      );
      return res.body.data[0]?.attempts[0];
    });
    expect(redirected.http_status).toBe(302);
    expect(redirected.error).toContain('not followed');
    // Resending to a disabled endpoint is refused until the merchant enables it again.
    const resend = await api(stack, 'POST', `/v1/events/${events.body.data[0]!.id}/resend`, {
      key,
      body: { endpoint_id: gone.body.id },
    });
    expect(resend.status).toBe(409);
    const enabled = await api<EndpointBody>(stack, 'PATCH', `/v1/webhook-endpoints/${gone.body.id}`, {
      key,
      body: { enabled: true },
    });
    expect(enabled.body.enabled).toBe(true);
    expect(enabled.body.disabled_reason).toBeNull();
  });

  it('live keys may not point webhooks at private, loopback or link-local addresses; test keys may', async () => {
    const merchant = await createMerchant(stack.pool, 'Live');
    const live = (await insertApiKey(stack.pool, { merchantId: merchant.merchant.id, mode: 'live' })).apiKey;
    expect(live).toMatch(/^sk_live_/);
    for (const url of [
      'https://127.0.0.1/hook',
      'https://10.1.2.3/hook',
      'https://169.254.169.254/latest/meta-data',
      'https://[::1]/hook',
      'https://[::ffff:192.168.1.1]/hook',
      'https://localhost/hook',
      'http://shop.example/hook',
    ]) {
      const refused = await createEndpoint({ url }, live);
      expect(refused.status, url).toBe(400);
      expect((refused.body as unknown as { errors: Array<{ field: string }> }).errors[0]!.field).toBe('url');
    }
    const test = (await insertApiKey(stack.pool, { merchantId: merchant.merchant.id, mode: 'test' })).apiKey;
    expect((await createEndpoint({ url: `${receiver.url}/ok-test` }, test)).status).toBe(201);
    // Malformed input is a 400 problem, never stored.
    expect((await createEndpoint({ url: 'not a url' }, test)).status).toBe(400);
    expect(
      (await createEndpoint({ url: `${receiver.url}/x`, event_types: ['payin.paid'] }, test)).status,
    ).toBe(400);
    expect((await createEndpoint({ url: `${receiver.url}/x`, extra: 1 }, test)).status).toBe(400);
  });

  it('replay re-sends every event since a time to an endpoint created after them', async () => {
    const merchant = await createMerchant(stack.pool, 'Replay');
    const key = merchant.apiKey;
    const since = new Date(Date.now() - 1000).toISOString();
    const done = await approvedPayin(key);
    const events = await eventsOf(done.id, key);
    const endpoint = await createEndpoint({ url: `${receiver.url}/ok-replay` }, key);
    const replay = await api<{ queued: number }>(
      stack,
      'POST',
      `/v1/webhook-endpoints/${endpoint.body.id}/replay`,
      {
        key,
        body: { since },
      },
    );
    expect(replay.status).toBe(202);
    expect(replay.body.queued).toBe(events.length);
    const got = await eventually('the replayed events', () => {
      const r = receiver.at('/ok-replay');
      return r.length >= events.length ? r : undefined;
    });
    expect(new Set(got.map((r) => verify(endpoint.body.secret!, r).id))).toEqual(
      new Set(events.map((e) => e.id)),
    );
  });
});

describe('passerelle webhooks listen', () => {
  it('registers a local endpoint, verifies and prints each delivery, and deletes the endpoint on Ctrl-C', async () => {
    const merchant = await createMerchant(stack.pool, 'Listener');
    const cli = spawn(
      process.execPath,
      [
        path.join(ROOT, 'bin', 'passerelle.js'),
        'webhooks',
        'listen',
        '--api',
        stack.apiUrl,
        '--events',
        'payin.created',
      ],
      {
        cwd: ROOT,
        env: { ...process.env, PASSERELLE_API_KEY: merchant.apiKey },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    cli.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    cli.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => cli.on('exit', (code) => resolve(code)));
    try {
      const endpointId = await eventually(
        'the listener registered',
        () => /webhook endpoint (we_\w+)/.exec(err)?.[1],
      );
      const payin = await api<{ id: string }>(stack, 'POST', '/v1/payins', {
        key: merchant.apiKey,
        body: { amount: 2000, currency: 'XOF', mode: 'direct', customer: { phone: '+22670129999' } },
      });
      const line = await eventually('the delivery printed', () =>
        out.split('\n').find((l) => l.includes(payin.body.id)),
      );
      expect(line).toMatch(/^✓ evt_[a-z2-7]{24} payin\.created pay_\w+ created \(signature verified\)$/);
      cli.kill('SIGINT');
      expect(await exited).toBe(0);
      const gone = await api(stack, 'GET', `/v1/webhook-endpoints/${endpointId}`, { key: merchant.apiKey });
      expect(gone.status).toBe(404);
    } finally {
      cli.kill('SIGKILL');
    }
  });
});

describe('live stream', () => {
  function connect(key: string, after?: string) {
    const ws = new WebSocket(
      `${stack.apiUrl.replace('http', 'ws')}/v1/events/stream${after ? `?after=${after}` : ''}`,
      {
        headers: { Authorization: `Bearer ${key}` },
      },
    );
    const got: EventBody[] = [];
    ws.on('message', (m: Buffer) => got.push(JSON.parse(m.toString('utf8')) as EventBody));
    const open = new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.once('error', reject);
    });
    return { ws, got, open };
  }

  it('delivers events as they happen and resumes after the last one seen, without gap or duplicate', async () => {
    const merchant = await createMerchant(stack.pool, 'Stream');
    const key = merchant.apiKey;
    const first = connect(key);
    await first.open;
    const done = await approvedPayin(key);
    const seen = await eventually('three events on the stream', () =>
      first.got.length >= 3 ? first.got.slice() : undefined,
    );
    expect(seen.map((e) => e.type)).toEqual(['payin.created', 'payin.action_required', 'payin.succeeded']);
    expect(seen.every((e) => e.data.id === done.id)).toBe(true);
    // Disconnected after the first event; the rest happens while away.
    first.ws.close();
    const resumed = connect(key, seen[0]!.id);
    await resumed.open;
    const p2 = await approvedPayin(key);
    const all = await eventually('the missed and the new events', () =>
      resumed.got.length >= 5 ? resumed.got.slice() : undefined,
    );
    resumed.ws.close();
    const listed = (await api<{ data: EventBody[] }>(stack, 'GET', '/v1/events?limit=100', { key })).body.data
      .slice()
      .reverse();
    // Exactly every event after the first, in order, once.
    expect(all.map((e) => e.id)).toEqual(listed.slice(1).map((e) => e.id));
    expect(all.slice(2).every((e) => e.data.id === p2.id)).toBe(true);

    // Server-Sent Events at the same path, resuming with Last-Event-ID.
    const sse = await fetch(`${stack.apiUrl}/v1/events/stream`, {
      headers: {
        Authorization: `Bearer ${key}`,
        Accept: 'text/event-stream',
        'Last-Event-ID': listed[2]!.id,
      },
    });
    expect(sse.headers.get('content-type')).toContain('text/event-stream');
    const reader = (sse.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    const expected = listed.length - 3;
    while ([...text.matchAll(/^id: /gm)].length < expected) {
      const chunk = await reader.read();
      if (chunk.done) break;
      text += new TextDecoder().decode(chunk.value);
    }
    await reader.cancel();
    const ids = [...text.matchAll(/^id: (evt_\w+)$/gm)].map((m) => m[1]);
    expect(ids).toEqual(listed.slice(3).map((e) => e.id));
  });

  it('refuses a missing key, an unknown key, and a cursor that is not the merchant’s', async () => {
    await expect(connect('').open).rejects.toThrow('HTTP 401');
    await expect(connect('sk_nope').open).rejects.toThrow('HTTP 401');
    const other = await createMerchant(stack.pool, 'Other stream');
    const done = await approvedPayin();
    const [event] = await eventsOf(done.id);
    await expect(connect(other.apiKey, event!.id).open).rejects.toThrow('HTTP 400');
  });
});
