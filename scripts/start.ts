import { existsSync, readFileSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { insertApiKey } from '../db/api-keys.js';
import { createMerchant, getMerchant } from '../db/merchants.js';
import { ensureDatabase, migrateUp } from '../db/migrate.js';
import { createPool } from '../db/pool.js';
import { loadConfigOrExit } from '../lib/config.js';
import { bundleWorkflows } from '../workers/bundle.js';
import { WORKER_V8_FLAGS } from '../workers/heap.js';
import {
  DATA_DIR,
  ROOT,
  ensurePostgres,
  say,
  startService,
  startTemporal,
  stopChild,
  waitFor,
  type ServiceProcess,
} from './infra.js';

/**
 * `npm start`: the whole system on embedded defaults. PostgreSQL (local server, or a project
 * cluster), Temporal dev server on a SQLite file with its UI, migrations, the sandbox, the worker
 * and the API. Ctrl-C stops everything.
 */
const config = loadConfigOrExit();
const uiPort = Number(new URL(config.TEMPORAL_UI_URL).port || 8233);
const services: ServiceProcess[] = [];
const stops: (() => Promise<void>)[] = [];
let stopping = false;

async function shutdown(code: number) {
  if (stopping) return;
  stopping = true;
  say('\n• stopping…');
  await Promise.all(services.reverse().map((s) => stopChild(s.child, 'SIGTERM', 15_000)));
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
  say('• stopped');
  process.exit(code);
}
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(p) : statSync(p).mtimeMs);
  }
  return newest;
}

try {
  say('• PostgreSQL');
  const postgres = await ensurePostgres(config.DATABASE_URL);
  stops.push(() => postgres.stop());
  if (postgres.startedLocally) say('  started a project-local cluster under .data/postgres');
  if ((await ensureDatabase(config.DATABASE_URL)) === 'created') say('  created the database');
  const applied = await migrateUp(config.DATABASE_URL, undefined, {
    production: config.NODE_ENV === 'production',
  });
  say(`  migrations: ${applied.length ? applied.join(', ') : 'up to date'}`);

  say('• Temporal dev server');
  const temporal = await startTemporal({
    address: config.TEMPORAL_ADDRESS,
    uiPort,
    // Payloads are encrypted (lib/payload-codec.ts): the UI decodes them through a codec proxy on
    // this machine, which only someone holding the operations codec key can run.
    uiCodecEndpoint: 'http://127.0.0.1:8888',
    dbFile: path.join(DATA_DIR, 'temporal.sqlite'),
    logFile: path.join(DATA_DIR, 'temporal.log'),
  });
  stops.push(() => temporal.stop());
  if (!temporal.child) say(`  using the server already answering at ${config.TEMPORAL_ADDRESS}`);

  // Workflow code bundled ahead of time: the worker starts without webpack.
  const bundlePath = config.WORKFLOW_BUNDLE_PATH ?? path.join(DATA_DIR, 'workflow-bundle.js');
  if (
    !existsSync(bundlePath) ||
    statSync(bundlePath).mtimeMs <
      Math.max(newestSource(path.join(ROOT, 'workflows')), newestSource(path.join(ROOT, 'lib')))
  ) {
    say('• bundling workflow code');
    await bundleWorkflows(bundlePath);
  }

  // The operations key (reconciliation routes): the configured one, or one kept in .data.
  const adminKeyFile = path.join(DATA_DIR, 'admin-key');
  if (!config.ADMIN_API_KEY && !existsSync(adminKeyFile))
    writeFileSync(adminKeyFile, `adm_${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
  const adminKey = config.ADMIN_API_KEY ?? readFileSync(adminKeyFile, 'utf8').trim();

  // The worker's Prometheus metrics (the SDK's and ours), on a port of their own.
  const workerMetrics = config.WORKER_METRICS_ADDRESS ?? `${config.HOST}:9464`;
  const gimPort = process.env.SANDBOX_GIM_PORT ?? '8583';
  const env = {
    WORKFLOW_BUNDLE_PATH: bundlePath,
    ADMIN_API_KEY: adminKey,
    WORKER_METRICS_ADDRESS: workerMetrics,
    // The URLs set in the operators' back offices, as the sandbox plays them: ours, with our token.
    SANDBOX_CALLBACK_BASE_URL: config.PUBLIC_BASE_URL,
    SANDBOX_TMONEY_NOTIFICATION_URL: new URL(
      `/v1/callbacks/tmoney/${config.operators.tmoney.callback.token}`,
      config.PUBLIC_BASE_URL,
    ).toString(),
    // GIM-UEMOA's cards go to the sandbox's switch (TCP) unless a switch is configured.
    ...(config.GIM_HOST ? {} : { GIM_HOST: '127.0.0.1', GIM_PORT: gimPort }),
  };
  services.push(startService('sandbox', 'sandbox/server.ts', env));
  services.push(startService('worker', 'workers/main.ts', env, WORKER_V8_FLAGS));
  services.push(startService('api', 'api/server.ts', env));
  for (const s of services) {
    s.child.once('exit', (code) => {
      if (!stopping) {
        say(`✗ ${s.name} exited (code ${code}); stopping`);
        void shutdown(1);
      }
    });
  }

  const apiUrl = `http://${config.HOST}:${config.PORT}`;
  await waitFor(
    'API',
    async () => (await fetch(`${apiUrl}/healthz`).catch(() => undefined))?.ok === true,
    60_000,
  );

  // A demo merchant on first run; its key is kept in .data (local only) so that it can be printed again.
  const demoFile = path.join(DATA_DIR, 'demo-merchant.json');
  const pool = createPool(config.DATABASE_URL, 1);
  let demo = existsSync(demoFile)
    ? (JSON.parse(readFileSync(demoFile, 'utf8')) as {
        merchantId: string;
        apiKey: string;
        liveApiKey?: string;
      })
    : undefined;
  if (!demo || !(await getMerchant(pool, demo.merchantId))) {
    // A test key and a live key: in this development deployment, live operators are the sandbox too.
    const created = await createMerchant(pool, 'Demo merchant', { live: true });
    demo = { merchantId: created.merchant.id, apiKey: created.apiKey, liveApiKey: created.liveApiKey };
    writeFileSync(demoFile, JSON.stringify(demo, null, 2), { mode: 0o600 });
    say('• created the demo merchant');
  } else if (!demo.liveApiKey) {
    // A demo merchant from before test and live modes: give it its live key.
    const live = await insertApiKey(pool, { merchantId: demo.merchantId, mode: 'live', name: 'Live key' });
    demo = { ...demo, liveApiKey: live.apiKey };
    writeFileSync(demoFile, JSON.stringify(demo, null, 2), { mode: 0o600 });
  }
  await pool.end();

  const sandboxUrl = `http://${config.HOST}:${config.SANDBOX_PORT}`;
  say(`
Passerelle is running
  API            ${apiUrl}            (OpenAPI: ${apiUrl}/openapi.json, health: ${apiUrl}/healthz)
  Temporal UI    ${temporal.uiUrl ?? config.TEMPORAL_UI_URL}
  Sandbox        ${sandboxUrl}            (LigdiCash: ${sandboxUrl}/ligdicash/pay/v01/)
  Card switch    ${config.GIM_HOST ? `${config.GIM_HOST}:${config.GIM_PORT}` : `127.0.0.1:${gimPort}`}           (GIM-UEMOA over ISO 8583; the card processor: ${sandboxUrl}/processor)
  Temporal       ${config.TEMPORAL_ADDRESS} (namespace ${config.TEMPORAL_NAMESPACE})
  PostgreSQL     ${config.DATABASE_URL}
  Demo merchant  ${demo.merchantId}
  API key        ${demo.apiKey}   (test mode)
  Live API key   ${demo.liveApiKey}   (live mode: the configured operators, here the sandbox)
  Operations key ${adminKey}   (reconciliation: ${apiUrl}/v1/reconciliation/runs)
  Metrics        ${apiUrl}/metrics (Bearer: the operations key), worker: http://${workerMetrics}/metrics

Workflow payloads are encrypted; to read them in the Temporal UI, run the codec proxy with the
operations codec key (here the development one):
  OPERATIONS_CODEC_KEY=${config.OPERATIONS_CODEC_KEY} npx passerelle codec-proxy

Try a payin, then open its next_action.url (our payment page; Moov Burkina, 70 11 22 33, approves):
  curl -s ${apiUrl}/v1/payins -H "Authorization: Bearer ${demo.apiKey}" \\
    -H 'Content-Type: application/json' -H "Idempotency-Key: $(date +%s)" \\
    -d '{"amount": 5000, "currency": "XOF", "mode": "hosted", "description": "Demo order"}'

Reconcile yesterday's LigdiCash report (schedules also run it daily; see them in the Temporal UI):
  curl -s ${apiUrl}/v1/reconciliation/runs -H "Authorization: Bearer ${adminKey}" \\
    -H 'Content-Type: application/json' -d '{"operator": "ligdicash"}'

Ctrl-C stops everything.
`);
} catch (err) {
  say(`✗ ${(err as Error).message}`);
  await shutdown(1);
}
