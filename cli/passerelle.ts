import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { brandColorProblem, logoType } from '../lib/branding.js';
import { Client, Connection } from '@temporalio/client';
import { startReconciliationRun } from '../api/reconciliation.js';
import { OPERATORS, isOperatorName } from '../lib/operators.js';
import { reconciliationRunId } from '../lib/reconciliation.js';
import {
  getApiKeyById,
  insertApiKey,
  listApiKeys,
  revokeApiKey,
  rotateApiKey,
  type ApiKey,
} from '../db/api-keys.js';
import {
  createMerchant,
  getMerchant,
  setLateSuccessPolicy,
  setMerchantRateLimit,
  setCheckoutBranding,
  setRefundRecipients,
} from '../db/merchants.js';
import { apiKeyView } from '../db/resource-views.js';
import {
  API_KEY_SCOPES,
  DEFAULT_ROTATION_GRACE_SECONDS,
  MAX_ROTATION_GRACE_SECONDS,
  type ApiKeyScope,
} from '../lib/api-keys.js';
import { setFeeSchedule } from '../db/fees.js';
import { checkLedger } from '../db/ledger.js';
import { migrateUp } from '../db/migrate.js';
import { clearMerchantRoutes, setMerchantRoutes } from '../db/routes.js';
import { DEFAULT_ROUTES } from '../lib/routing.js';
import { isCurrencyCode } from '../lib/money.js';
import { createPool } from '../db/pool.js';
import { cardVaultRing, loadConfigOrExit } from '../lib/config.js';
import { temporalDataConverter } from '../lib/payload-codec.js';
import { rotateVaultKeys, vaultKeyUsage } from '../db/card-vault.js';
import { sealLegacyPersonalData } from '../db/personal-vault.js';

/** `npx passerelle`: operator's command line. */
const USAGE = `usage: passerelle <command>

commands:
  merchant create <name> [--json]   create a merchant and print its id, a test key and a live key (shown once)
  merchant rate-limit --merchant mer_… --requests 50|default
                                    requests each of the merchant's keys may make per RATE_LIMIT_WINDOW_SECONDS
  keys create --merchant mer_… --name "Back office" [--mode test|live] [--scopes read,payins,payouts,admin]
              [--expires 2027-06-30T00:00:00Z] [--json]
                                    a new API key for a merchant (its secret shown once)
  keys list --merchant mer_… [--json]
                                    the merchant's keys: prefix, mode, scopes, last use, expiry
  keys revoke --key key_…           revoke a key at once
  keys rotate --key key_… [--grace 86400] [--json]
                                    a new secret now; the old one works for --grace seconds
  db migrate                        apply pending database migrations
  fees set --kind payin|payout|refund|transfer [--merchant mer_…] [--operator ${OPERATORS.join('|')}]
           [--currency XOF] [--percent 1.5] [--fixed 100]
                                    set a fee schedule (no --merchant/--operator: for all)
  ledger check [--json]             prove the books: entries balanced, cached balances equal to lines
  vault status [--json]             how many vaulted items (cards, phone numbers, OTPs, callback bodies) each key-encryption key wraps
  vault seal-legacy [--json]        move the numbers, OTPs and callback bodies rows kept in clear before the vault into it
  vault rotate [--from key-id] [--json]
                                    re-wrap the vault's data keys (all, or those under --from) under CARD_VAULT_ACTIVE_KEY
  routes set --merchant mer_… --network togocel_tg --kind payin|payout --operators paygate,tmoney
                                    the merchant's allowed routes for a network, in order
  routes clear --merchant mer_… --network togocel_tg --kind payin|payout
                                    back to the default routing table
  reconcile --operator ${OPERATORS.join('|')} [--date 2026-11-22 | --from ISO --to ISO]
            [--sweep] [--no-wait] [--json]
                                    run a settlement reconciliation (default: yesterday, UTC)
                                    or, with --sweep, a sweep; waits and prints the summary
  merchant policy --merchant mer_… [--late-success credit|refund] [--refund-recipient payer|any]
                                    what reconciliation does with a success found after expiry
  merchant checkout --merchant mer_… [--color '#0b6b2f'|none] [--logo logo.png|none]
                                    the merchant's colour and logo (PNG, JPEG or WebP, at most 64 kB)
                                    on the hosted checkout and payment link pages
  webhooks listen [--api-key sk_…] [--api http://127.0.0.1:3000] [--port 0] [--events payin.succeeded,…]
                                    receive this merchant's webhooks here: registers an endpoint on
                                    127.0.0.1, verifies and prints each delivery, deletes it on Ctrl-C
  codec-proxy [--api http://127.0.0.1:3000] [--port 8888]
                                    the Temporal UI's codec server on your machine: forwards to the API's
                                    /ops/codec with your OPERATIONS_CODEC_KEY (payloads decoded for you only)

environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/passerelle),
             TEMPORAL_ADDRESS (default 127.0.0.1:7233) for reconcile,
             PASSERELLE_API_KEY and PASSERELLE_API_URL for webhooks listen`;

function parseCommandLine() {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
        kind: { type: 'string' },
        merchant: { type: 'string' },
        operator: { type: 'string' },
        currency: { type: 'string', default: 'XOF' },
        percent: { type: 'string', default: '0' },
        fixed: { type: 'string', default: '0' },
        network: { type: 'string' },
        operators: { type: 'string' },
        date: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        sweep: { type: 'boolean', default: false },
        'no-wait': { type: 'boolean', default: false },
        'late-success': { type: 'string' },
        'refund-recipient': { type: 'string' },
        color: { type: 'string' },
        logo: { type: 'string' },
        'api-key': { type: 'string' },
        api: { type: 'string' },
        port: { type: 'string', default: '0' },
        events: { type: 'string', default: '*' },
        name: { type: 'string' },
        mode: { type: 'string' },
        scopes: { type: 'string' },
        expires: { type: 'string' },
        key: { type: 'string' },
        grace: { type: 'string' },
        requests: { type: 'string' },
      },
    });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}\n`);
    process.exit(64);
  }
}
const { positionals, values } = parseCommandLine();

function fail(message: string, code = 64): never {
  process.stderr.write(`${message}\n\n${USAGE}\n`);
  process.exit(code);
}

const [group, command, ...rest] = positionals;
if (values.help || !group) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(values.help ? 0 : 64);
}

if (group === 'merchant' && command === 'create') {
  const name = rest.join(' ').trim();
  if (!name) fail('merchant create needs a name');
  if (name.length > 200) fail('a merchant name has at most 200 characters');
  const config = loadConfigOrExit();
  const pool = createPool(config.DATABASE_URL, 1);
  try {
    const created = await createMerchant(pool, name, { live: true });
    if (values.json) {
      process.stdout.write(
        `${JSON.stringify({
          merchant_id: created.merchant.id,
          name,
          api_key: created.apiKey,
          api_key_id: created.apiKeyId,
          live_api_key: created.liveApiKey,
          live_api_key_id: created.liveApiKeyId,
        })}\n`,
      );
    } else {
      process.stdout.write(
        `Merchant ${created.merchant.id} (${name}) created.\n` +
          `API key (test mode; shown once, keep it secret): ${created.apiKey}\n` +
          `API key (live mode; shown once, keep it secret): ${created.liveApiKey}\n`,
      );
    }
  } catch (err) {
    const e = err as { code?: string; message: string };
    const hint =
      e.code === '42P01' ? ' (the database has no tables: run `npm start` once, or the migrations)' : '';
    process.stderr.write(`could not create the merchant: ${e.message}${hint}\n`);
    process.exitCode = 1;
  } finally {
    await pool.end();
  }
} else if (group === 'db' && command === 'migrate') {
  const config = loadConfigOrExit();
  const applied = await migrateUp(config.DATABASE_URL, undefined, {
    production: config.NODE_ENV === 'production',
  });
  process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'database schema up to date\n');
} else if (group === 'fees' && command === 'set') {
  const kind = values.kind;
  if (kind !== 'payin' && kind !== 'payout' && kind !== 'refund' && kind !== 'transfer')
    fail('fees set needs --kind payin, payout, refund or transfer');
  const currency = values.currency ?? 'XOF';
  if (!isCurrencyCode(currency)) fail(`unknown currency ${currency}`);
  if (values.operator !== undefined && !isOperatorName(values.operator))
    fail(`unknown operator ${values.operator}; known: ${OPERATORS.join(', ')}`);
  // Percent with at most two decimals, kept exact as basis points.
  const percent = /^(\d{1,3})(?:\.(\d{1,2}))?$/.exec(values.percent ?? '0');
  const bps = percent ? Number(percent[1]) * 100 + Number((percent[2] ?? '').padEnd(2, '0')) : NaN;
  if (!Number.isInteger(bps) || bps > 10_000)
    fail('--percent is a percentage between 0 and 100 with at most two decimals');
  const fixed = Number(values.fixed);
  if (!Number.isSafeInteger(fixed) || fixed < 0) fail('--fixed is a whole number of minor units');
  const config = loadConfigOrExit();
  const pool = createPool(config.DATABASE_URL, 1);
  try {
    await setFeeSchedule(pool, {
      merchantId: values.merchant,
      operator: values.operator,
      kind,
      currency,
      percentBps: bps,
      fixedAmount: fixed,
    });
    process.stdout.write(
      `fee for ${kind} in ${currency} (${values.merchant ?? 'every merchant'}, ${values.operator ?? 'every operator'}): ` +
        `${bps / 100} % + ${fixed}\n`,
    );
  } finally {
    await pool.end();
  }
} else if (group === 'ledger' && command === 'check') {
  const config = loadConfigOrExit();
  const pool = createPool(config.DATABASE_URL, 1);
  try {
    const check = await checkLedger(pool);
    const ok = Object.values(check).every((n) => n === 0);
    process.stdout.write(
      values.json
        ? `${JSON.stringify({ ok, ...check })}\n`
        : `${ok ? 'ledger balanced' : 'LEDGER PROBLEM'}: ${JSON.stringify(check)}\n`,
    );
    process.exitCode = ok ? 0 : 1;
  } finally {
    await pool.end();
  }
} else if (group === 'vault' && (command === 'status' || command === 'rotate')) {
  const config = loadConfigOrExit();
  const ring = cardVaultRing(config);
  const pool = createPool(config.DATABASE_URL, 1);
  try {
    let rotated: { rewrapped: number; remaining: number } | undefined;
    try {
      rotated =
        command === 'rotate' ? await rotateVaultKeys(pool, ring, { fromKey: values.from }) : undefined;
    } catch (err) {
      // A card under a key that is not in the ring: nothing more can be done without that key.
      fail(
        `vault rotate: ${(err as Error).message}; add that key to CARD_VAULT_KEYS, or rotate --from one key`,
      );
    }
    const usage = await vaultKeyUsage(pool);
    const answer = { active_key: ring.activeId, items_by_key: usage, ...(rotated ?? {}) };
    process.stdout.write(
      values.json
        ? `${JSON.stringify(answer)}\n`
        : `${rotated ? `re-wrapped ${rotated.rewrapped} data keys under ${ring.activeId}; ${rotated.remaining} left under other keys\n` : ''}` +
            `vaulted items by key: ${JSON.stringify(usage)} (active: ${ring.activeId})\n`,
    );
    process.exitCode = rotated && rotated.remaining > 0 ? 1 : 0;
  } finally {
    await pool.end();
  }
} else if (group === 'vault' && command === 'seal-legacy') {
  const config = loadConfigOrExit();
  const pool = createPool(config.DATABASE_URL, 1);
  try {
    const sealed = await sealLegacyPersonalData(pool, cardVaultRing(config));
    process.stdout.write(
      values.json
        ? `${JSON.stringify({ sealed })}\n`
        : `moved into the vault (rows per table): ${JSON.stringify(sealed)}\n`,
    );
  } finally {
    await pool.end();
  }
} else if (group === 'routes' && (command === 'set' || command === 'clear')) {
  const { merchant, network, kind } = values;
  if (!merchant || !network || (kind !== 'payin' && kind !== 'payout')) {
    fail(`routes ${command} needs --merchant, --network and --kind payin|payout`);
  }
  if (!(network in DEFAULT_ROUTES))
    fail(`no operator serves ${network}; known: ${Object.keys(DEFAULT_ROUTES).join(', ')}`);
  const served = DEFAULT_ROUTES[network as keyof typeof DEFAULT_ROUTES]![kind];
  const config = loadConfigOrExit();
  const pool = createPool(config.DATABASE_URL, 1);
  try {
    if (command === 'clear') {
      await clearMerchantRoutes(pool, merchant, network, kind);
      process.stdout.write(`${kind} routes for ${network}: default (${served.join(', ')})\n`);
    } else {
      const operators = (values.operators ?? '')
        .split(',')
        .map((o) => o.trim())
        .filter(Boolean);
      const unknown = operators.filter((o) => !(served as readonly string[]).includes(o));
      if (operators.length === 0 || unknown.length)
        fail(`--operators must be among ${served.join(', ')} for ${network}`);
      await setMerchantRoutes(pool, { merchantId: merchant, network, kind, operators });
      process.stdout.write(`${kind} routes for ${network}: ${operators.join(', ')}\n`);
    }
  } finally {
    await pool.end();
  }
} else if (group === 'merchant' && command === 'policy') {
  const policy = values['late-success'];
  const recipients = values['refund-recipient'];
  const badPolicy = policy !== undefined && policy !== 'credit' && policy !== 'refund';
  const badRecipients = recipients !== undefined && recipients !== 'payer' && recipients !== 'any';
  if (!values.merchant || (policy === undefined && recipients === undefined) || badPolicy || badRecipients)
    fail(
      'merchant policy needs --merchant and --late-success credit|refund and/or --refund-recipient payer|any',
    );
  const config = loadConfigOrExit();
  const pool = createPool(config.DATABASE_URL, 1);
  try {
    const known =
      (policy === undefined || (await setLateSuccessPolicy(pool, values.merchant, policy))) &&
      (recipients === undefined || (await setRefundRecipients(pool, values.merchant, recipients)));
    if (!known) {
      process.stderr.write(`no merchant ${values.merchant}\n`);
      process.exitCode = 1;
    } else {
      if (policy) process.stdout.write(`late successes for ${values.merchant}: ${policy}\n`);
      if (recipients)
        process.stdout.write(
          `refunds for ${values.merchant} go to: ${recipients === 'any' ? 'any number the merchant gives (logged)' : "the payer's own number"}\n`,
        );
    }
  } finally {
    await pool.end();
  }
} else if (group === 'merchant' && command === 'checkout') {
  const { color, logo } = values;
  if (!values.merchant || (color === undefined && logo === undefined))
    fail('merchant checkout needs --merchant and --color #rrggbb|none and/or --logo file|none');
  const colorValue = color === undefined || color === 'none' ? color : color.toLowerCase();
  const colorProblem = colorValue && colorValue !== 'none' ? brandColorProblem(colorValue) : undefined;
  if (colorProblem) fail(`--color: ${colorProblem}`);
  let logoValue: { type: string; bytes: Buffer } | null | undefined;
  if (logo === 'none') logoValue = null;
  else if (logo !== undefined) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(logo);
    } catch (err) {
      fail(`--logo: ${(err as Error).message}`);
    }
    const type = logoType(bytes);
    if (!type) fail('--logo: a PNG, JPEG or WebP image');
    if (bytes.length > 65_536) fail(`--logo: ${bytes.length} bytes; at most 65536`);
    logoValue = { type, bytes };
  }
  const config = loadConfigOrExit();
  const pool = createPool(config.DATABASE_URL, 1);
  try {
    const known = await setCheckoutBranding(pool, values.merchant, {
      ...(colorValue !== undefined ? { color: colorValue === 'none' ? null : colorValue } : {}),
      ...(logoValue !== undefined ? { logo: logoValue } : {}),
    });
    if (!known) {
      process.stderr.write(`no merchant ${values.merchant}\n`);
      process.exitCode = 1;
    } else {
      process.stdout.write(
        `checkout of ${values.merchant}: colour ${colorValue ?? 'unchanged'}, logo ${logoValue === undefined ? 'unchanged' : logoValue === null ? 'none' : `${logoValue.type}, ${logoValue.bytes.length} bytes`}\n`,
      );
    }
  } finally {
    await pool.end();
  }
} else if (group === 'merchant' && command === 'rate-limit') {
  const requests = values.requests;
  if (!values.merchant || !requests) fail('merchant rate-limit needs --merchant and --requests N|default');
  const limit = requests === 'default' ? null : Number(requests);
  if (limit !== null && (!Number.isInteger(limit) || limit < 1 || limit > 1_000_000))
    fail('--requests is a whole number from 1 to 1000000, or default');
  const config = loadConfigOrExit();
  const pool = createPool(config.DATABASE_URL, 1);
  try {
    if (!(await setMerchantRateLimit(pool, values.merchant, limit))) {
      process.stderr.write(`no merchant ${values.merchant}\n`);
      process.exitCode = 1;
    } else {
      process.stdout.write(
        `${values.merchant}: ${limit ?? `the default (${config.RATE_LIMIT_REQUESTS})`} requests per ${config.RATE_LIMIT_WINDOW_SECONDS} s per key\n`,
      );
    }
  } finally {
    await pool.end();
  }
} else if (group === 'keys') {
  await keysCommand(command);
} else if (group === 'reconcile') {
  const { operator, date, from, to, sweep } = values;
  if (!operator || !isOperatorName(operator)) fail(`reconcile needs --operator ${OPERATORS.join('|')}`);
  if (date !== undefined && (!/^\d{4}-\d{2}-\d{2}$/.test(date) || Number.isNaN(Date.parse(date))))
    fail('--date is a day, YYYY-MM-DD');
  if ((from === undefined) !== (to === undefined)) fail('give both --from and --to');
  if (from !== undefined && to !== undefined) {
    if (Number.isNaN(Date.parse(from)) || Number.isNaN(Date.parse(to)))
      fail('--from and --to are ISO 8601 instants');
    if (Date.parse(to) <= Date.parse(from)) fail('--to must be after --from');
    if (date) fail('give --date or --from/--to, not both');
  }
  if (sweep && (date || from)) fail('a sweep takes no period');
  const config = loadConfigOrExit();
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS }).catch((err: Error) => {
    process.stderr.write(`cannot reach Temporal at ${config.TEMPORAL_ADDRESS}: ${err.message}\n`);
    process.exit(69);
  });
  try {
    const temporal = new Client({
      connection,
      namespace: config.TEMPORAL_NAMESPACE,
      dataConverter: temporalDataConverter(config),
    });
    const handle = await startReconciliationRun(temporal, config, {
      kind: sweep ? 'sweep' : 'settlement',
      operator,
      date,
      from,
      to,
      triggeredBy: 'cli',
    });
    const { workflowId } = handle;
    const runId = reconciliationRunId(workflowId);
    if (values['no-wait']) {
      process.stdout.write(
        values.json
          ? `${JSON.stringify({ id: runId, workflow_id: workflowId, status: 'running' })}\n`
          : `started ${runId} (workflow ${workflowId})\n`,
      );
    } else {
      const result = await handle.result();
      if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
      else {
        const found = Object.entries(result.summary)
          .filter(([k, n]) => n > 0 && k !== 'lines')
          .map(([k, n]) => `${k}: ${n}`);
        process.stdout.write(
          `${runId} ${result.status}: ${sweep ? '' : `${result.linesIngested} lines; `}${found.length ? found.join(', ') : 'nothing to report'}` +
            `${result.error ? ` (${result.error})` : ''}\n`,
        );
      }
      process.exitCode = result.status === 'completed' ? 0 : 1;
    }
  } finally {
    await connection.close();
  }
} else if (group === 'webhooks' && command === 'listen') {
  const apiKey = values['api-key'] ?? process.env.PASSERELLE_API_KEY;
  if (!apiKey) fail('webhooks listen needs --api-key sk_… (or PASSERELLE_API_KEY)');
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    fail('--port must be a port number (0: any free port)');
  const apiUrl = (
    values.api ??
    process.env.PASSERELLE_API_URL ??
    `http://127.0.0.1:${process.env.PORT ?? 3000}`
  ).replace(/\/$/, '');
  const { listenForWebhooks } = await import('./webhooks-listen.js');
  const listener = await listenForWebhooks({
    apiUrl,
    apiKey,
    port,
    eventTypes: values.events.split(',').map((t) => t.trim()),
    json: values.json,
    out: (line) => process.stdout.write(`${line}\n`),
  }).catch((err: Error) => fail(`could not register a webhook endpoint at ${apiUrl}: ${err.message}`, 1));
  process.stderr.write(
    `listening at ${listener.url} (webhook endpoint ${listener.endpointId}); Ctrl-C stops and deletes it\n`,
  );
  const stop = () => void listener.stop().then(() => process.exit(0));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, stop);
  // Started through `npx`/bin, whose death may not reach us: stop when our parent is gone.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) stop();
  }, 2_000).unref();
} else if (group === 'codec-proxy') {
  const operationsKey = process.env.OPERATIONS_CODEC_KEY;
  if (!operationsKey) fail('codec-proxy needs your operations codec key in OPERATIONS_CODEC_KEY');
  const port = Number(values.port === '0' ? 8888 : values.port);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) fail('--port must be a port number');
  const apiUrl = (
    values.api ??
    process.env.PASSERELLE_API_URL ??
    `http://127.0.0.1:${process.env.PORT ?? 3000}`
  ).replace(/\/$/, '');
  const uiUrl = new URL(process.env.TEMPORAL_UI_URL ?? 'http://127.0.0.1:8233');
  const { startCodecProxy } = await import('./codec-proxy.js');
  const proxy = await startCodecProxy({
    apiUrl,
    operationsKey,
    port,
    uiOrigins: [uiUrl.origin, uiUrl.origin.replace('127.0.0.1', 'localhost')],
  }).catch((err: Error) => fail(`cannot listen on 127.0.0.1:${port}: ${err.message}`, 1));
  process.stderr.write(
    `codec server at ${proxy.url} (forwarding to ${apiUrl}/ops/codec): set it as the Temporal UI's codec endpoint\n`,
  );
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => void proxy.stop().then(() => process.exit(0)));
} else {
  fail(`unknown command: ${positionals.join(' ')}`);
}

/** `passerelle keys …`: operations staff manage a merchant's keys (the API does the same for merchants). */
async function keysCommand(command: string | undefined): Promise<void> {
  const config = loadConfigOrExit();
  const production = config.NODE_ENV === 'production';
  const print = (key: ApiKey, extra: { secret?: string; previous_expires_at?: string } = {}) => {
    const view = { ...apiKeyView(key, production), ...extra };
    if (values.json) return process.stdout.write(`${JSON.stringify(view)}\n`);
    process.stdout.write(
      `${key.id}  ${view.prefix}…  ${view.mode}  ${view.status}  scopes=${key.scopes.join(',')}  ` +
        `expires=${view.expires_at ?? 'never'}  last used=${view.last_used_at ?? 'never'}  "${key.name}"\n` +
        (extra.secret ? `secret (shown once, keep it secret): ${extra.secret}\n` : ''),
    );
  };
  const pool = createPool(config.DATABASE_URL, 1);
  try {
    if (command === 'create') {
      if (!values.merchant || !values.name) fail('keys create needs --merchant and --name');
      const mode = values.mode ?? 'test';
      if (mode !== 'test' && mode !== 'live') fail('--mode is test or live');
      const scopes = (values.scopes ?? API_KEY_SCOPES.join(',')).split(',').map((s) => s.trim());
      const unknown = scopes.filter((s) => !(API_KEY_SCOPES as readonly string[]).includes(s));
      if (unknown.length || !scopes.length)
        fail(`unknown scopes ${unknown.join(',')}; known: ${API_KEY_SCOPES.join(',')}`);
      const expiresAt = values.expires ? new Date(values.expires) : null;
      if (expiresAt && (Number.isNaN(expiresAt.getTime()) || expiresAt.getTime() <= Date.now()))
        fail('--expires is a date and time in the future (ISO 8601)');
      if (!(await getMerchant(pool, values.merchant))) {
        process.stderr.write(`no merchant ${values.merchant}\n`);
        process.exitCode = 1;
        return;
      }
      const made = await insertApiKey(pool, {
        merchantId: values.merchant,
        mode,
        name: values.name,
        scopes: [...new Set(scopes)] as ApiKeyScope[],
        expiresAt,
      });
      print(made.key, { secret: made.apiKey });
    } else if (command === 'list') {
      if (!values.merchant) fail('keys list needs --merchant');
      for (const key of await listApiKeys(pool, values.merchant, ['test', 'live', null])) print(key);
    } else if (command === 'revoke' || command === 'rotate') {
      if (!values.key) fail(`keys ${command} needs --key key_…`);
      const existing = await getApiKeyById(pool, values.key);
      if (!existing) {
        process.stderr.write(`no key ${values.key}\n`);
        process.exitCode = 1;
        return;
      }
      if (command === 'revoke') {
        print((await revokeApiKey(pool, existing.merchantId, existing.id))!);
        return;
      }
      const grace = values.grace === undefined ? DEFAULT_ROTATION_GRACE_SECONDS : Number(values.grace);
      if (!Number.isInteger(grace) || grace < 0 || grace > MAX_ROTATION_GRACE_SECONDS)
        fail(`--grace is a whole number of seconds from 0 to ${MAX_ROTATION_GRACE_SECONDS}`);
      const rotated = await rotateApiKey(
        pool,
        existing.merchantId,
        existing.id,
        grace,
        production ? 'live' : 'test',
      );
      if (typeof rotated === 'string') {
        process.stderr.write(
          `key ${existing.id} cannot be rotated: it is not active or was already rotated\n`,
        );
        process.exitCode = 1;
        return;
      }
      print(rotated.key, {
        secret: rotated.apiKey,
        previous_expires_at: rotated.previous.expiresAt?.toISOString(),
      });
    } else {
      fail('keys commands: create, list, revoke, rotate');
    }
  } finally {
    await pool.end();
  }
}
