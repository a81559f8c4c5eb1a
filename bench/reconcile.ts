/**
 * bench/reconcile: settlement reconciliation at scale. For each size (default 10,000, 100,000 and
 * 1,000,000 report lines) it builds our side in PostgreSQL (payments and their ledger entries),
 * serves a LigdiCash-format report from a generator (streamed, never held in memory) with a known
 * share of injected discrepancies, runs the real reconciliation activity, and prints the time,
 * lines per second and peak memory, against a baseline measured in the same run (the same report
 * COPYed into a table with no parsing and no matching). It fails if any injected discrepancy is
 * not found, or anything else is.
 *
 *   npm run bench:reconcile                    # 10k, 100k, 1M
 *   npm run bench:reconcile -- --sizes 10000,100000
 *   npm run bench:reconcile -- --upload        # also the same report uploaded as a CSV export
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { from as copyFrom } from 'pg-copy-streams';
import { createReconciliationActivities, type RunSummary } from '../activities/reconciliation/index.js';
import { storeExport } from '../api/settlement-files.js';
import { createMerchant } from '../db/merchants.js';
import { migrateUp } from '../db/migrate.js';
import { createPool, type Pool } from '../db/pool.js';
import { cardVaultRing, loadConfig } from '../lib/config.js';
import { modesAtLiveEndpoint, operatorTiming } from '../lib/operators.js';
import { createLogger } from '../lib/logger.js';
import { createOperators } from '../operators/registry.js';
import { ensurePostgres, recreateDatabase } from '../scripts/infra.js';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10000,100000,1000000' },
    share: { type: 'string', default: '0.01' },
    json: { type: 'boolean', default: false },
    upload: { type: 'boolean', default: false },
  },
});
const sizes = values.sizes.split(',').map(Number);
const share = Number(values.share);
const databaseUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/passerelle_bench';
const DAY = '2026-01-15';
const API_KEY = 'bench-key';
const API_TOKEN = 'bench-token';

/** Which lines carry which discrepancy: every `every`-th line, shifted per class. */
function plan(n: number) {
  const every = Math.max(6, Math.round(1 / share));
  const is = (i: number, k: number) => i % every === k;
  return {
    every,
    omitted: (i: number) => is(i, 1), // our payment, no line: missing on the operator side
    amount: (i: number) => is(i, 2), // their amount differs
    status: (i: number) => is(i, 3), // they say nocompleted, we say succeeded
    duplicate: (i: number) => is(i, 4), // the line twice
    unposted: (i: number) => is(i, 5), // no ledger entry on our side
    extras: Math.floor(n / every), // lines for payments we never had
  };
}

const ref = (i: number) => `pay_b${String(i).padStart(23, '0')}`;
const amountOf = (i: number) => 1_000 + (i % 9_000);

/** The report, generated line by line as it is sent. */
function* reportLines(n: number): Generator<string> {
  const p = plan(n);
  yield 'date;token;transaction_id;type;montant;devise;statut';
  for (let i = 1; i <= n; i++) {
    if (p.omitted(i)) continue;
    const line = `${DAY} 10:00:00;tok${i};${ref(i)};payin;${p.amount(i) ? amountOf(i) + 1 : amountOf(i)};XOF;${p.status(i) ? 'nocompleted' : 'completed'}`;
    yield line;
    if (p.duplicate(i)) yield line;
  }
  for (let j = 1; j <= p.extras; j++)
    yield `${DAY} 11:00:00;xtok${j};pay_x${String(j).padStart(23, '0')};payin;500;XOF;completed`;
}

function serveReport(n: number): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    res.setHeader('Content-Type', 'text/csv');
    const lines = reportLines(n);
    const pump = () => {
      for (;;) {
        let chunk = '';
        for (let k = 0; k < 2_000; k++) {
          const next = lines.next();
          if (next.done) {
            res.end(chunk);
            return;
          }
          chunk += `${next.value}\n`;
        }
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
    };
    pump();
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function buildOurSide(pool: Pool, merchantId: string, n: number): Promise<void> {
  const p = plan(n);
  await pool.query(`DELETE FROM reconciliation_discrepancies`);
  await pool.query(
    // Live payments: the report comes from the live endpoint (the bench's own server), which judges live ones only.
    `INSERT INTO payments (id, merchant_id, livemode, kind, status, amount, currency, operator, mode, customer, metadata, workflow_id, created_at, updated_at)
     SELECT 'pay_b' || lpad(i::text, 23, '0'), $1, true, 'payin', 'succeeded', 1000 + (i % 9000), 'XOF', 'ligdicash', 'redirect', '{}', '{}',
            'payin-bench-' || i, $2::timestamptz + make_interval(secs => i % 80000), now()
       FROM generate_series(1, $3) AS i`,
    [merchantId, `${DAY}T00:00:00Z`, n],
  );
  // Bulk load of history: the entries' lines are not what this bench measures, so the ledger's
  // per-row triggers are set aside for the load (entries only; the check looks for their presence).
  await pool.query('ALTER TABLE journal_entries DISABLE TRIGGER USER');
  try {
    await pool.query(
      `INSERT INTO journal_entries (payment_id, step, description, credits_payment)
       SELECT 'pay_b' || lpad(i::text, 23, '0'), 'payin_succeeded', 'bench', true
         FROM generate_series(1, $1) AS i WHERE i % $2 <> 5`,
      [n, p.every],
    );
  } finally {
    await pool.query('ALTER TABLE journal_entries ENABLE TRIGGER USER');
  }
  await pool.query('ANALYZE payments');
  await pool.query('ANALYZE journal_entries');
}

function expected(n: number): Record<string, number> {
  const p = plan(n);
  const count = (f: (i: number) => boolean) => {
    let c = 0;
    for (let i = 1; i <= n; i++) if (f(i)) c++;
    return c;
  };
  return {
    missing_on_operator_side: count(p.omitted),
    amount_mismatch: count(p.amount),
    status_mismatch: count(p.status),
    duplicate_line: count(p.duplicate),
    missing_on_our_side: p.extras,
    ledger_mismatch: count(p.unposted),
  };
}

function memorySampler() {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 10);
  return {
    stop: () => {
      clearInterval(timer);
      return Math.max(peak, process.memoryUsage().rss);
    },
  };
}

/** Baseline: the same report, COPYed as raw lines into a table: no parsing, no matching. */
async function baseline(pool: Pool, url: string): Promise<number> {
  const client = await pool.connect();
  const started = performance.now();
  try {
    await client.query('BEGIN');
    await client.query('CREATE TEMP TABLE raw_lines (line text) ON COMMIT DROP');
    const res = await fetch(url);
    await pipeline(
      Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>),
      client.query(copyFrom("COPY raw_lines FROM STDIN WITH (FORMAT text, DELIMITER E'\\x01')")),
    );
    await client.query('COMMIT');
  } finally {
    client.release();
  }
  return performance.now() - started;
}

const mb = (bytes: number) => Math.round(bytes / 1_048_576);

await ensurePostgres(databaseUrl);
const logger = createLogger({ level: 'silent' });
interface BenchResult {
  /** `report`: pulled from the operator; `upload`: the same lines uploaded as an export (read, stored, reconciled). */
  source: 'report' | 'upload';
  lines: number;
  /** Where the run's time went, per phase (copy, ledger_find, classify and its first batch, …, policies). */
  phases_ms?: Record<string, number>;
  seconds: number;
  lines_per_second: number;
  peak_rss_mb: number;
  baseline_copy_seconds: number;
  ratio_to_baseline: number;
  discrepancies_expected: Record<string, number>;
  discrepancies_found: Record<string, number>;
  all_found_and_nothing_else: boolean;
}
const results: BenchResult[] = [];
let failed = false;

for (const n of sizes) {
  // A fresh database per size: the ledger is append-only, so last size's history cannot be deleted.
  await recreateDatabase(databaseUrl);
  await migrateUp(databaseUrl);
  const pool = createPool(databaseUrl, 4);
  const merchant = (await createMerchant(pool, `bench-${n}`)).merchant.id;
  process.stdout.write(`• ${n.toLocaleString('en')} lines: building our side… `);
  const setupStarted = performance.now();
  await buildOurSide(pool, merchant, n);
  process.stdout.write(`${((performance.now() - setupStarted) / 1000).toFixed(1)} s\n`);

  const server = await serveReport(n);
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const config = loadConfig({
    DATABASE_URL: databaseUrl,
    LIGDICASH_BASE_URL: base,
    LIGDICASH_API_KEY: API_KEY,
    LIGDICASH_API_TOKEN: API_TOKEN,
    LOG_LEVEL: 'silent',
  });
  const activities = createReconciliationActivities({
    pool,
    operators: createOperators(config),
    vault: cardVaultRing(config),
    logger,
    timingFor: (op) => operatorTiming(config, op),
    settlementModes: (op) => modesAtLiveEndpoint(config, op),
    sweep: { lookbackDays: 1, batch: 1, recheckMinutes: 0 },
  });

  const baselineMs = await baseline(pool, `${base}reports/transactions?date=${DAY}`);

  /** Runs one reconciliation, checks it found every injected discrepancy and nothing else, and records it. */
  const measure = async (source: BenchResult['source'], run: () => Promise<RunSummary>) => {
    global.gc?.();
    const memory = memorySampler();
    const started = performance.now();
    const summary = await run();
    const ms = performance.now() - started;
    const peakRss = memory.stop();
    const want = expected(n);
    const got = Object.fromEntries(Object.keys(want).map((k) => [k, summary.summary[k] ?? 0]));
    const exact = JSON.stringify(want) === JSON.stringify(got);
    // Nothing else: every discrepancy's reference is one the plan injected.
    const { rows } = await pool.query<{ stray: number }>(
      `SELECT count(*)::int AS stray FROM reconciliation_discrepancies WHERE run_id = $1 AND our_reference NOT LIKE 'pay_x%' AND NOT (
          (class = 'missing_on_operator_side' AND substr(our_reference, 6)::bigint % $2 = 1) OR
          (class = 'amount_mismatch' AND substr(our_reference, 6)::bigint % $2 = 2) OR
          (class = 'status_mismatch' AND substr(our_reference, 6)::bigint % $2 = 3) OR
          (class = 'duplicate_line' AND substr(our_reference, 6)::bigint % $2 = 4) OR
          (class = 'ledger_mismatch' AND substr(our_reference, 6)::bigint % $2 = 5))`,
      [summary.runId, plan(n).every],
    );
    const ok = exact && rows[0]!.stray === 0 && summary.status === 'completed';
    failed ||= !ok;
    if (summary.phasesMs)
      process.stdout.write(`  ${source}: phases (ms) ${JSON.stringify(summary.phasesMs)}\n`);
    results.push({
      source,
      phases_ms: summary.phasesMs,
      lines: summary.linesIngested,
      seconds: +(ms / 1000).toFixed(2),
      lines_per_second: Math.round(summary.linesIngested / (ms / 1000)),
      peak_rss_mb: mb(peakRss),
      baseline_copy_seconds: +(baselineMs / 1000).toFixed(2),
      ratio_to_baseline: +(ms / baselineMs).toFixed(2),
      discrepancies_expected: want,
      discrepancies_found: got,
      all_found_and_nothing_else: ok,
    });
    process.stdout.write(
      `  ${source}: reconciled in ${(ms / 1000).toFixed(2)} s (${Math.round(summary.linesIngested / (ms / 1000)).toLocaleString('en')} lines/s), peak RSS ${mb(peakRss)} MB, ${ok ? 'every discrepancy found, nothing else' : 'MISMATCH'}\n`,
    );
  };

  await measure('report', () =>
    activities.reconcileSettlement({
      runId: `bench-${n}`,
      operator: 'ligdicash',
      day: DAY,
      triggeredBy: 'bench',
    }),
  );
  server.close();
  if (values.upload) {
    // The same lines as an export file, through the upload's reader and store, then the same run.
    await measure('upload', async () => {
      const stored = await storeExport(pool, {
        operator: 'ligdicash',
        body: Readable.from(
          (function* () {
            for (const line of reportLines(n)) yield `${line}\n`;
          })(),
        ),
        type: 'csv',
        contentType: 'text/csv',
        filename: `bench-${n}.csv`,
        periodStart: new Date(`${DAY}T00:00:00Z`),
        periodEnd: new Date(Date.parse(`${DAY}T00:00:00Z`) + 86_400_000),
        maxBytes: Number.MAX_SAFE_INTEGER,
        maxLines: Number.MAX_SAFE_INTEGER,
      });
      return activities.reconcileSettlement({
        runId: `bench-${n}-upload`,
        operator: 'ligdicash',
        day: DAY,
        triggeredBy: 'bench',
        uploadId: stored.upload.id,
      });
    });
  }
  await pool.end();
}

if (values.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
process.stdout.write(`
| source | lines | time (s) | lines/s | peak RSS (MB) | baseline COPY (s) | ratio to baseline | discrepancies found (expected) | exact |
|---|---:|---:|---:|---:|---:|---:|---|:-:|
${results
  .map((r) => {
    const total = Object.values(r.discrepancies_expected).reduce((a, b) => a + b, 0);
    const found = Object.values(r.discrepancies_found).reduce((a, b) => a + b, 0);
    return `| ${r.source} | ${r.lines.toLocaleString('en')} | ${r.seconds} | ${r.lines_per_second.toLocaleString('en')} | ${r.peak_rss_mb} | ${r.baseline_copy_seconds} | ${r.ratio_to_baseline} | ${found} (${total}) | ${r.all_found_and_nothing_else ? 'yes' : 'NO'} |`;
  })
  .join('\n')}
`);
process.exit(failed ? 1 : 0);
