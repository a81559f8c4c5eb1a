import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import momo from 'mtn-momo';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSandboxConfig } from '../../sandbox/config.js';
import { mtnSandbox, type MtnSandbox } from '../../sandbox/mtn/router.js';

/**
 * MTN's own published npm client, `mtn-momo`, unchanged against our MTN sandbox with only its base
 * URL changed: it provisions an API user and key as its `momo-sandbox` CLI does, takes tokens, asks
 * payers to pay, transfers, reads balances and account holders, and gets MTN's errors as its own
 * error classes. The callbacks (PUT) land on a local server. No Passerelle stack: the simulator
 * alone, mounted at /mtn.
 */
const COLLECTION_KEY = 'sandbox-mtn-collection-key';
const DISBURSEMENT_KEY = 'sandbox-mtn-disbursement-key';

interface Received {
  method: string;
  path: string;
  contentType: string | undefined;
  body: unknown;
}

let sandbox: MtnSandbox;
let server: http.Server;
let callbackServer: http.Server;
let baseUrl: string;
let callbackBase: string;
const received: Received[] = [];

function listen(s: http.Server): Promise<string> {
  return new Promise((resolve) =>
    s.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(s.address() as AddressInfo).port}`)),
  );
}

/** Polls until the probe answers something truthy (no fixed sleeps). */
async function until<T>(what: string, probe: () => T | undefined | null | false): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  callbackServer = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      received.push({
        method: req.method ?? '',
        path: req.url ?? '',
        contentType: req.headers['content-type'],
        body: raw ? (JSON.parse(raw) as unknown) : undefined,
      });
      res.writeHead(200).end();
    });
  });
  callbackBase = await listen(callbackServer);

  const simulator = mtnSandbox(
    loadSandboxConfig({
      ...process.env,
      SANDBOX_PORT: '0',
      SANDBOX_APPROVAL_DELAY_MS: '300',
      SANDBOX_PROCESSING_DELAY_MS: '100',
    }),
    pino({ level: 'silent' }),
  );
  sandbox = simulator.state;
  const app = express();
  app.use('/mtn', simulator.router);
  server = http.createServer(app);
  baseUrl = `${await listen(server)}/mtn`;
});

afterAll(async () => {
  server?.closeAllConnections();
  callbackServer?.closeAllConnections();
  await Promise.all(
    [server, callbackServer].map((s) => new Promise((r) => (s ? s.close(() => r(undefined)) : r(undefined)))),
  );
});

const client = () =>
  momo.create({ callbackHost: '127.0.0.1', baseUrl, environment: momo.Environment.SANDBOX });

/** The sandbox user and key, made as `momo-sandbox --host 127.0.0.1 --primary-key <key>` makes them. */
let credentials: { userId: string; userSecret: string };

describe('mtn-momo against the MTN sandbox', () => {
  it('provisions an API user and key through the client (Users.create, Users.login)', async () => {
    const users = client().Users({ primaryKey: COLLECTION_KEY });
    const userId = await users.create('127.0.0.1');
    const { apiKey } = await users.login(userId);
    expect(apiKey).toMatch(/^[0-9a-f]{32}$/);
    credentials = { userId, userSecret: apiKey };
    expect(sandbox.apiUsers.get(userId)).toMatchObject({ providerCallbackHost: '127.0.0.1' });

    const res = await fetch(`${baseUrl}/v1_0/apiuser/${userId}`, {
      headers: { 'Ocp-Apim-Subscription-Key': COLLECTION_KEY },
    });
    expect(await res.json()).toEqual({ providerCallbackHost: '127.0.0.1', targetEnvironment: 'sandbox' });
    // The same id again: MTN's conflict, as the client's own error class.
    const again = await fetch(`${baseUrl}/v1_0/apiuser`, {
      method: 'POST',
      headers: {
        'Ocp-Apim-Subscription-Key': COLLECTION_KEY,
        'X-Reference-Id': userId,
        'Content-Type': 'application/json',
      },
      body: JSON.stringify({ providerCallbackHost: '127.0.0.1' }),
    });
    expect(again.status).toBe(409);
    expect(await again.json()).toEqual({
      code: 'RESOURCE_ALREADY_EXIST',
      message: 'Duplicated reference id. Creation of resource failed.',
    });
  });

  it('collects: requestToPay, SUCCESSFUL once the payer approves, one PUT callback, the balance', async () => {
    const tokensBefore = sandbox.tokenCalls;
    const collections = client().Collections({ primaryKey: COLLECTION_KEY, ...credentials });
    const externalId = `order-${randomUUID()}`;
    const referenceId = await collections.requestToPay({
      amount: '100',
      currency: 'EUR',
      externalId,
      payer: { partyIdType: momo.PayerType.MSISDN, partyId: '46733123499' },
      payerMessage: 'Commande 42',
      payeeNote: 'Boutique',
      callbackUrl: `${callbackBase}/momo/collection`,
    });
    expect(referenceId).toMatch(/^[0-9a-f-]{36}$/);
    expect((await collections.getTransaction(referenceId)).status).toBe('PENDING');

    await until('the payer approves', () => sandbox.transactions.get(referenceId)?.status === 'SUCCESSFUL');
    const payment = await collections.getTransaction(referenceId);
    expect(payment).toEqual({
      financialTransactionId: expect.stringMatching(/^\d+$/) as unknown,
      externalId,
      amount: '100',
      currency: 'EUR',
      payer: { partyIdType: 'MSISDN', partyId: '46733123499' },
      payerMessage: 'Commande 42',
      payeeNote: 'Boutique',
      status: 'SUCCESSFUL',
    });

    const callback = await until('the callback', () =>
      received.find((r) => (r.body as { externalId?: string } | undefined)?.externalId === externalId),
    );
    expect(callback).toEqual({
      method: 'PUT',
      path: '/momo/collection',
      contentType: 'application/json',
      body: payment,
    });
    expect(sandbox.transactions.get(referenceId)?.callbacks).toHaveLength(1);

    // 1 000 000 EUR at start (SANDBOX_MTN_COLLECTION_BALANCE, in cents), plus 100.
    expect(await collections.getBalance()).toEqual({ availableBalance: '1000100', currency: 'EUR' });
    // One token for all five calls: the client caches it for expires_in (less a minute).
    expect(sandbox.tokenCalls).toBe(tokensBefore + 1);
  });

  it('a rejected request to pay is FAILED APPROVAL_REJECTED: the client throws ApprovalRejectedError', async () => {
    const collections = client().Collections({ primaryKey: COLLECTION_KEY, ...credentials });
    const referenceId = await collections.requestToPay({
      amount: '15.50',
      currency: 'EUR',
      externalId: 'rejected-1',
      payer: { partyIdType: momo.PayerType.MSISDN, partyId: '46733123451' },
    });
    await until('the rejection', () => sandbox.transactions.get(referenceId)?.status === 'FAILED');
    const error = await collections.getTransaction(referenceId).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(momo.ApprovalRejectedError);
    expect((error as InstanceType<typeof momo.MtnMoMoError>).transaction).toMatchObject({
      amount: '15.5',
      status: 'FAILED',
      reason: 'APPROVAL_REJECTED',
    });
    expect(sandbox.transactions.get(referenceId)?.executed).toBe(false);
  });

  it('isPayerActive: true for a number, false for the sandbox "not found" number', async () => {
    const collections = client().Collections({ primaryKey: COLLECTION_KEY, ...credentials });
    expect(await collections.isPayerActive('46733123450', momo.PayerType.MSISDN)).toEqual({ result: true });
    expect(await collections.isPayerActive('46733123464', momo.PayerType.MSISDN)).toEqual({ result: false });
  });

  it('disburses: transfer SUCCESSFUL, the balance debited once, the same reference again is a conflict', async () => {
    const disbursements = client().Disbursements({ primaryKey: DISBURSEMENT_KEY, ...credentials });
    const referenceId = randomUUID();
    const transfer = {
      referenceId,
      amount: '250.50',
      currency: 'EUR',
      externalId: `payout-${referenceId}`,
      payee: { partyIdType: momo.PayerType.MSISDN, partyId: '46733123498' },
      payerMessage: 'Remboursement',
      payeeNote: 'Merci',
      callbackUrl: `${callbackBase}/momo/disbursement`,
    };
    expect(await disbursements.transfer(transfer)).toBe(referenceId);
    await until('the transfer', () => sandbox.transactions.get(referenceId)?.status === 'SUCCESSFUL');
    const result = await disbursements.getTransaction(referenceId);
    expect(result).toMatchObject({
      amount: '250.5',
      currency: 'EUR',
      externalId: `payout-${referenceId}`,
      payee: { partyIdType: 'MSISDN', partyId: '46733123498' },
      status: 'SUCCESSFUL',
    });
    expect(result.financialTransactionId).toMatch(/^\d+$/);

    const conflict = await disbursements.transfer(transfer).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(conflict).toBeInstanceOf(momo.ResourceAlreadyExistError);
    expect((conflict as Error).message).toBe('Duplicated reference id. Creation of resource failed.');

    expect(await disbursements.getBalance()).toEqual({ availableBalance: '999749.5', currency: 'EUR' });
    expect(await disbursements.isPayerActive('46733123498', momo.PayerType.MSISDN)).toBe(true);
    const callback = await until('the transfer callback', () =>
      received.find((r) => r.path === '/momo/disbursement'),
    );
    expect(callback).toMatchObject({ method: 'PUT', body: result });
  });

  it('a request to pay sent twice with one X-Reference-Id is 409 and debits once (plain HTTP: the client picks its own ids)', async () => {
    const token = await fetch(`${baseUrl}/collection/token/`, {
      method: 'POST',
      headers: {
        'Ocp-Apim-Subscription-Key': COLLECTION_KEY,
        Authorization: `Basic ${Buffer.from(`${credentials.userId}:${credentials.userSecret}`).toString('base64')}`,
      },
    });
    const { access_token } = (await token.json()) as { access_token: string };
    const referenceId = randomUUID();
    const send = () =>
      fetch(`${baseUrl}/collection/v1_0/requesttopay`, {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${access_token}`,
          'Ocp-Apim-Subscription-Key': COLLECTION_KEY,
          'X-Target-Environment': 'sandbox',
          'X-Reference-Id': referenceId,
          'Content-Type': 'application/json',
        },
        body: JSON.stringify({
          amount: '20',
          currency: 'EUR',
          externalId: 'twice',
          payer: { partyIdType: 'MSISDN', partyId: '46733123497' },
        }),
      });
    expect((await send()).status).toBe(202);
    const second = await send();
    expect(second.status).toBe(409);
    expect(await second.json()).toMatchObject({ code: 'RESOURCE_ALREADY_EXIST' });
    await until('the payer approves', () => sandbox.transactions.get(referenceId)?.status === 'SUCCESSFUL');
    expect([...sandbox.transactions.values()].filter((t) => t.externalId === 'twice')).toHaveLength(1);
    expect(sandbox.balances.collection.EUR).toBe(100_000_000 + 10_000 + 2_000);
  });
});

describe("MTN's wire beyond the client", () => {
  const basic = () =>
    `Basic ${Buffer.from(`${credentials.userId}:${credentials.userSecret}`).toString('base64')}`;
  async function token(product: 'collection' | 'disbursement'): Promise<string> {
    const res = await fetch(`${baseUrl}/${product}/token/`, {
      method: 'POST',
      headers: {
        'Ocp-Apim-Subscription-Key': product === 'collection' ? COLLECTION_KEY : DISBURSEMENT_KEY,
        Authorization: basic(),
      },
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { access_token: string }).access_token;
  }
  async function answer(res: Response): Promise<[number, unknown]> {
    return [res.status, await res.json()];
  }

  it('answers MTN gateway and API errors in their shapes', async () => {
    const collection = await token('collection');
    const disbursement = await token('disbursement');
    const balance = (headers: Record<string, string>) =>
      fetch(`${baseUrl}/collection/v1_0/account/balance`, { headers }).then(answer);
    const ok = { 'Ocp-Apim-Subscription-Key': COLLECTION_KEY, 'X-Target-Environment': 'sandbox' };

    expect(await balance({ ...ok, 'Ocp-Apim-Subscription-Key': DISBURSEMENT_KEY })).toEqual([
      401,
      {
        statusCode: 401,
        message:
          'Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription.',
      },
    ]);
    // A disbursement token is no good for collection.
    expect((await balance({ ...ok, Authorization: `Bearer ${disbursement}` }))[0]).toBe(401);
    expect(
      await balance({ ...ok, Authorization: `Bearer ${collection}`, 'X-Target-Environment': 'mars' }),
    ).toEqual([
      500,
      { code: 'NOT_ALLOWED_TARGET_ENVIRONMENT', message: 'Access to target environment is forbidden.' },
    ]);
    expect(
      await balance({
        ...ok,
        Authorization: `Bearer ${collection}`,
        'X-Target-Environment': 'mtnivorycoast',
      }),
    ).toEqual([200, { availableBalance: '100000000', currency: 'XOF' }]);

    const login = await fetch(`${baseUrl}/collection/token/`, {
      method: 'POST',
      headers: { 'Ocp-Apim-Subscription-Key': COLLECTION_KEY, Authorization: 'Basic d3Jvbmc6d3Jvbmc=' },
    }).then(answer);
    expect(login).toEqual([401, { error: 'login_failed', error_description: 'Access denied' }]);

    const pay = (environment: string, amount: string, currency: string) =>
      fetch(`${baseUrl}/collection/v1_0/requesttopay`, {
        method: 'POST',
        headers: {
          ...ok,
          Authorization: `Bearer ${collection}`,
          'X-Target-Environment': environment,
          'X-Reference-Id': randomUUID(),
          'Content-Type': 'application/json',
        },
        body: JSON.stringify({
          amount,
          currency,
          externalId: 'x',
          payer: { partyIdType: 'MSISDN', partyId: '2250700' },
        }),
      });
    expect(await pay('sandbox', '100', 'XOF').then(answer)).toEqual([
      400,
      { code: 'INVALID_CURRENCY', message: 'Currency not supported.' },
    ]);
    expect((await pay('mtnivorycoast', '100.5', 'XOF')).status).toBe(400);
    expect((await pay('mtnivorycoast', '1000', 'XOF')).status).toBe(202);

    // An API user provisioned through the API is bound to its providerCallbackHost, as at MTN.
    const elsewhere = await fetch(`${baseUrl}/collection/v1_0/requesttopay`, {
      method: 'POST',
      headers: {
        ...ok,
        Authorization: `Bearer ${collection}`,
        'X-Reference-Id': randomUUID(),
        'X-Callback-Url': 'https://elsewhere.example/cb',
        'Content-Type': 'application/json',
      },
      body: JSON.stringify({
        amount: '1',
        currency: 'EUR',
        payer: { partyIdType: 'MSISDN', partyId: '2250700' },
      }),
    }).then(answer);
    expect(elsewhere).toEqual([
      500,
      { code: 'INVALID_CALLBACK_URL_HOST', message: 'Callback URL does not match the configured value.' },
    ]);
  });

  it('serves the settlement report as CSV, with the discrepancies a test injects', async () => {
    const collection = await token('collection');
    const paid = [...sandbox.transactions.values()].find((t) => t.externalId === 'twice')!;
    const added = await fetch(`${baseUrl}/_sandbox/report-adjustments`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify([
        { type: 'amount', reference: 'twice', amount: 1_900 }, // minor units: EUR 19.00
        { type: 'extra', reference: 'ghost-1', amount: 7 },
      ]),
    });
    expect(added.status).toBe(200);
    const res = await fetch(`${baseUrl}/reports/v1_0/transactions?date=${paid.createdAt.slice(0, 10)}`, {
      headers: { 'Ocp-Apim-Subscription-Key': COLLECTION_KEY, Authorization: `Bearer ${collection}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
    const lines = (await res.text()).trim().split('\n');
    expect(lines[0]).toBe(
      'date,external_id,reference_id,financial_transaction_id,type,amount,currency,status',
    );
    expect(lines).toContain(
      `${paid.createdAt.replace('T', ' ').slice(0, 19)},twice,${paid.referenceId},${paid.financialTransactionId},collection,19,EUR,SUCCESSFUL`,
    );
    expect(lines.some((l) => l.includes(',disbursement,250.5,EUR,SUCCESSFUL'))).toBe(true);
    expect(lines.some((l) => l.startsWith(`${paid.createdAt.slice(0, 10)} 12:00:00,ghost-1,`))).toBe(true);
    await fetch(`${baseUrl}/_sandbox/report-adjustments`, { method: 'DELETE' });
  });
});
