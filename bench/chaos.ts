/**
 * Crash test: a mixed stream of payins, payouts and refunds through the API while the worker, the
 * API, the Temporal dev server (restarted on the same SQLite file) and PostgreSQL (a cluster of its
 * own, restarted) are killed with SIGKILL at random moments. Loopback only, bounded in time.
 *
 * At the end, with everything up again and after one reconciliation (sweep, then the day's
 * settlement), it checks and prints:
 *   - every payment in a final state;
 *   - the ledger balanced, every hold captured or released, every succeeded payin credited once;
 *   - the sandbox's executed payouts equal to ours: none twice, none missing, none extra;
 *   - every callback the sandbox delivered (answered 2xx) present in our inbox.
 * Exit code 1 if any check fails.
 *
 *   npm run chaos                              # 120 s of traffic and kills
 *   npm run chaos -- --seconds 60 --seed 7 --json
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { checkLedger } from '../db/ledger.js';
import { FINAL_STATUSES, type PaymentStatus } from '../lib/payments.js';
import { DATA_DIR, stopLocalPostgres } from '../scripts/infra.js';
import { markdownTable, runConcurrently, startBenchSystem, type BenchSystem } from './harness.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '120' },
    concurrency: { type: 'string', default: '6' },
    seed: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const SECONDS = Number(values.seconds);
const CLIENTS = Number(values.concurrency);
if (!(SECONDS > 0) || !Number.isInteger(CLIENTS) || CLIENTS < 1) {
  process.stderr.write('--seconds is a positive number, --concurrency a positive integer\n');
  process.exit(64);
}
const seed = values.seed ? Number(values.seed) : Date.now() % 1_000_000;
const say = (s: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`);

/** Deterministic randomness from --seed (mulberry32), so that a failing run can be replayed. */
let state = seed >>> 0;
function random(): number {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
}
const between = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Kind = 'payin' | 'payout' | 'refund';
interface Operation {
  kind: Kind;
  key: string;
  httpStatus?: number;
  id?: string;
  status?: string;
  retries: number;
  error?: string;
  /** The problem type of a 4xx answer. */
  problem?: string;
}

/** A merchant's client: the same Idempotency-Key until it hears an answer that is not 5xx. */
async function callApi(
  sys: BenchSystem,
  op: Operation,
  pathname: string,
  body: unknown,
): Promise<{ status: number; body: Record<string, unknown> } | undefined> {
  const giveUp = Date.now() + 180_000;
  for (;;) {
    try {
      const res = await fetch(`${sys.apiUrl}${pathname}`, {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${sys.merchant.apiKey}`,
          'Content-Type': 'application/json',
          'Idempotency-Key': op.key,
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(45_000),
      });
      const answer = (await res.json().catch(() => ({}))) as Record<string, unknown>;
      if (res.status < 500 && res.status !== 409) return { status: res.status, body: answer };
      op.error = `${res.status} ${typeof answer.type === 'string' ? answer.type : ''}`;
    } catch (err) {
      op.error = (err as Error).message;
    }
    if (Date.now() > giveUp) return undefined;
    op.retries++;
    await sleep(between(300, 1500));
  }
}

const payerNumber = (n: number) => `+22670${String(100_000 + n).padStart(6, '0')}`;
const recipientNumber = (n: number) => `+22676${String(100_000 + n).padStart(6, '0')}`;

async function main() {
  const clusterDir = path.join(DATA_DIR, 'chaos-postgres');
  stopLocalPostgres(clusterDir);
  say(`• seed ${seed}; starting the system (own PostgreSQL cluster on :5499, Temporal on SQLite)`);
  const sys = await startBenchSystem({
    name: 'chaos',
    apiPort: 3200,
    sandboxPort: 4200,
    temporalPort: 7499,
    databaseUrl: 'postgres://postgres@127.0.0.1:5499/passerelle_chaos',
    postgresClusterDir: clusterDir,
    supervise: true,
    env: {
      LIGDICASH_PAYIN_DEADLINE_SECONDS: '60',
      LIGDICASH_PAYOUT_DEADLINE_SECONDS: '60',
      LIGDICASH_HTTP_TIMEOUT_MS: '3000',
      LIGDICASH_POLL_MAX_SECONDS: '15',
      SWEEP_RECHECK_MINUTES: '0',
      INITIATION_WAIT_SECONDS: '10',
    },
    sandboxEnv: {
      SANDBOX_APPROVAL_DELAY_MS: '300',
      SANDBOX_PROCESSING_DELAY_MS: '200',
      SANDBOX_AMBIGUOUS_DELAY_MS: '5000',
      SANDBOX_CALLBACK_RETRIES: '10',
    },
  });
  const ops: Operation[] = [];
  const kills: { at: string; victim: string; downMs: number; upMs: number }[] = [];
  let counter = 0;
  try {
    // Money to pay out: a few payins before the storm.
    say('• funding the merchant');
    await runConcurrently(8, 4, async (i) => {
      const op: Operation = { kind: 'payin', key: `fund-${i}`, retries: 0 };
      ops.push(op);
      const answer = await callApi(sys, op, '/v1/payins', {
        amount: 200_000,
        currency: 'XOF',
        mode: 'direct',
        customer: { phone: payerNumber(799_000 + i) },
      });
      op.httpStatus = answer?.status;
      op.id = answer?.body.id as string | undefined;
    });
    await waitUntil(sys, 'funding payins final', 120_000, async () => (await nonFinal(sys)).length === 0);

    const until = Date.now() + SECONDS * 1000;
    say(`• ${SECONDS} s of traffic (${CLIENTS} clients) and kills`);
    const traffic = Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (Date.now() < until) {
          const n = counter++;
          const roll = random();
          const kind: Kind = roll < 0.55 ? 'payin' : roll < 0.85 ? 'payout' : 'refund';
          const op: Operation = { kind, key: `chaos-${seed}-${n}`, retries: 0 };
          let answer;
          if (kind !== 'refund') ops.push(op);
          if (kind === 'payin') {
            // Mostly ordinary payers; some decline, stay silent (polling only) or call back three times.
            const amount = random() < 0.8 ? between(1_100, 9_000) : pick([1_001, 1_003, 1_005]);
            answer = await callApi(sys, op, '/v1/payins', {
              amount,
              currency: 'XOF',
              mode: 'direct',
              customer: { phone: payerNumber(n) },
            });
          } else if (kind === 'payout') {
            // Mostly executed; some declined, ambiguous (timeout or 5xx after executing), lost, or called back three times.
            const amount = random() < 0.75 ? between(500, 3_000) : pick([2_001, 2_002, 2_003, 2_005, 2_009]);
            answer = await callApi(sys, op, '/v1/payouts', {
              amount,
              currency: 'XOF',
              recipient: { phone: recipientNumber(n) },
            });
          } else {
            const paid = ops.filter((o) => o.kind === 'payin' && o.id && o.status === 'succeeded');
            if (paid.length === 0) continue;
            ops.push(op);
            const payin = pick(paid);
            answer = await callApi(sys, op, `/v1/payins/${payin.id}/refunds`, {
              amount: between(500, 1_500),
            });
          }
          op.httpStatus = answer?.status;
          op.id = answer?.body.id as string | undefined;
          op.status = answer?.body.status as string | undefined;
          if (answer && answer.status >= 400) op.problem = String(answer.body.type);
          // Payins are looked at again later to know which can be refunded.
          if (kind === 'payin' && op.id) void refreshLater(sys, op);
        }
      }),
    );

    const monkey = (async () => {
      const victims = ['worker', 'api', 'temporal', 'postgres'] as const;
      let cycle: (typeof victims)[number][] = [];
      while (Date.now() < until - 5_000) {
        await sleep(between(6_000, 14_000));
        if (Date.now() >= until - 5_000) break;
        if (cycle.length === 0) cycle = [...victims].sort(() => random() - 0.5);
        const victim = cycle.pop()!;
        const downMs = between(500, 4_000);
        const at = new Date().toISOString();
        say(`  ✗ SIGKILL ${victim}; back in ${downMs} ms`);
        if (victim === 'temporal') await sys.killTemporal();
        else if (victim === 'postgres') {
          const pid = sys.postgres.postmasterPid?.();
          if (pid) process.kill(pid, 'SIGKILL');
        } else await sys.kill(victim, 'SIGKILL');
        await sleep(downMs);
        const restarting = Date.now();
        if (victim === 'temporal') await sys.startTemporal();
        else if (victim === 'postgres') await sys.postgres.start!();
        else await sys.start(victim);
        kills.push({ at, victim, downMs, upMs: Date.now() - restarting });
      }
    })();
    await Promise.all([traffic, monkey]);

    say('• storm over; waiting for open payments to end');
    await waitUntil(sys, 'payments final or unknown', 300_000, async () =>
      (await nonFinal(sys)).every((p) => p.status === 'unknown'),
    ).catch((err: Error) => say(`  ${err.message}`));
    const beforeReconciliation = await nonFinal(sys);

    say('• reconciliation: sweep, then the day’s settlement report');
    const today = new Date().toISOString().slice(0, 10);
    for (const [type, arg] of [
      ['sweep', { operator: 'ligdicash', triggeredBy: 'chaos' }],
      ['settlementReconciliation', { operator: 'ligdicash', day: today, triggeredBy: 'chaos' }],
    ] as const) {
      await sys.temporal.workflow.execute(type, {
        taskQueue: 'passerelle-payments',
        workflowId: `chaos-${type}-${seed}`,
        args: [arg],
      });
    }
    await waitUntil(sys, 'payments final', 120_000, async () => (await nonFinal(sys)).length === 0).catch(
      (err: Error) => say(`  ${err.message}`),
    );

    const checks = await verify(sys);
    const summary = {
      seed,
      seconds: SECONDS,
      clients: CLIENTS,
      requests: ops.length,
      by_kind: countBy(ops, (o) => o.kind),
      answers: countBy(ops, (o) => String(o.httpStatus ?? 'none')),
      refusals: countBy(
        ops.filter((o) => o.problem),
        (o) => `${o.kind} ${o.httpStatus} ${o.problem}`,
      ),
      unanswered: ops.filter((o) => !o.httpStatus).map((o) => ({ kind: o.kind, key: o.key, error: o.error })),
      client_retries: ops.reduce((n, o) => n + o.retries, 0),
      kills: countBy(kills, (k) => k.victim),
      crashes_restarted_by_supervisor: sys.unexpectedExits,
      kill_log: kills,
      not_final_before_reconciliation: countBy(beforeReconciliation, (p) => `${p.kind}:${p.status}`),
      ...checks.figures,
      checks: checks.results,
      passed: checks.results.every((c) => c.ok),
    };
    if (values.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    process.stdout.write(
      `\nseed ${seed}: ${ops.length} requests (${JSON.stringify(summary.by_kind)}), answers ${JSON.stringify(summary.answers)}, ` +
        `${summary.client_retries} client retries; kills ${JSON.stringify(summary.kills)}; ` +
        `crashes restarted by the supervisor ${JSON.stringify(sys.unexpectedExits)}\n` +
        `refusals (4xx): ${JSON.stringify(summary.refusals)}; unanswered after 180 s of retries: ${summary.unanswered.length}\n` +
        `payments by final state: ${JSON.stringify(checks.figures.payments_by_state)}\n\n` +
        `${markdownTable(checks.results.map((c) => ({ check: c.name, ok: c.ok ? 'yes' : 'NO', detail: c.detail })))}\n`,
    );
    process.exitCode = summary.passed ? 0 : 1;
  } finally {
    await sys.stop();
  }
}

async function refreshLater(sys: BenchSystem, op: Operation): Promise<void> {
  await sleep(5_000);
  const res = await fetch(`${sys.apiUrl}/v1/payins/${op.id}`, {
    headers: { Authorization: `Bearer ${sys.merchant.apiKey}` },
  }).catch(() => undefined);
  if (res?.ok) op.status = ((await res.json()) as { status: string }).status;
}

function countBy<T>(xs: T[], key: (x: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[key(x)] = (out[key(x)] ?? 0) + 1;
  return out;
}

async function nonFinal(sys: BenchSystem): Promise<{ id: string; kind: string; status: string }[]> {
  const { rows } = await sys.pool
    .query<{ id: string; kind: string; status: string }>(
      'SELECT id, kind, status FROM payments WHERE NOT (status = ANY($1))',
      [[...FINAL_STATUSES]],
    )
    .catch(() => ({ rows: [{ id: '?', kind: '?', status: 'database unavailable' }] }));
  return rows;
}

async function waitUntil(sys: BenchSystem, what: string, ms: number, done: () => Promise<boolean>) {
  const deadline = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > deadline) {
      const left = await nonFinal(sys);
      throw new Error(
        `${what}: not reached in ${ms / 1000} s (${left.length} left: ${JSON.stringify(countBy(left, (p) => `${p.kind}:${p.status}`))})`,
      );
    }
    await sleep(1_000);
  }
}

interface SandboxDelivery {
  httpStatus: number | null;
}
interface SandboxInvoice {
  customData: { transaction_id?: string };
  callbacks: SandboxDelivery[];
}
interface SandboxWithdrawal {
  transactionId: string;
  executed: boolean;
  callbacks: SandboxDelivery[];
}

async function verify(sys: BenchSystem) {
  const results: { name: string; ok: boolean; detail: string }[] = [];
  const check = (name: string, ok: boolean, detail: string) => results.push({ name, ok, detail });
  const { pool } = sys;

  const { rows: payments } = await pool.query<{ id: string; kind: string; status: string }>(
    'SELECT id, kind, status FROM payments',
  );
  const open = payments.filter((p) => !FINAL_STATUSES.has(p.status as PaymentStatus));
  check(
    'every payment final',
    open.length === 0,
    open.length
      ? `${open.length} not final: ${JSON.stringify(countBy(open, (p) => `${p.kind}:${p.status}`))}`
      : `${payments.length} payments`,
  );

  const ledger = await checkLedger(pool);
  check(
    'ledger balanced',
    Object.values(ledger).every((n) => n === 0),
    JSON.stringify(ledger),
  );
  const { rows: holds } = await pool.query<{
    open_holds: number;
    wrong_settlement: number;
    payins_wrong: number;
  }>(
    `SELECT
       (SELECT count(*) FROM payments p WHERE p.kind IN ('payout', 'refund')
          AND EXISTS (SELECT 1 FROM journal_entries e WHERE e.payment_id = p.id AND e.step = 'hold')
          AND NOT EXISTS (SELECT 1 FROM journal_entries e WHERE e.payment_id = p.id AND e.step IN ('capture', 'release')))::int AS open_holds,
       (SELECT count(*) FROM payments p WHERE p.kind IN ('payout', 'refund') AND (
          (p.status = 'succeeded' AND NOT EXISTS (SELECT 1 FROM journal_entries e WHERE e.payment_id = p.id AND e.step = 'capture'))
          OR (p.status = 'failed' AND EXISTS (SELECT 1 FROM journal_entries e WHERE e.payment_id = p.id AND e.step = 'capture'))))::int AS wrong_settlement,
       (SELECT count(*) FROM payments p WHERE p.kind = 'payin' AND
          (p.status IN ('succeeded', 'partially_refunded', 'refunded')) <>
          EXISTS (SELECT 1 FROM journal_entries e WHERE e.payment_id = p.id AND e.step IN ('payin_succeeded', 'late_payin_succeeded')))::int AS payins_wrong`,
  );
  const h = holds[0]!;
  check(
    'every hold captured or released, as its payment ended',
    h.open_holds === 0 && h.wrong_settlement === 0,
    `${h.open_holds} holds open, ${h.wrong_settlement} payouts settled against their status`,
  );
  check(
    'every paid payin credited, no other',
    h.payins_wrong === 0,
    `${h.payins_wrong} payins credited against their status`,
  );

  const withdrawals = (await (
    await fetch(`${sys.sandboxUrl}/ligdicash/_sandbox/withdrawals`)
  ).json()) as SandboxWithdrawal[];
  const executedTimes = countBy(
    withdrawals.filter((w) => w.executed),
    (w) => w.transactionId,
  );
  const twice = Object.entries(executedTimes).filter(([, n]) => n > 1);
  const ours = new Set(
    payments.filter((p) => p.kind !== 'payin' && p.status === 'succeeded').map((p) => p.id),
  );
  const theirs = new Set(Object.keys(executedTimes));
  const missing = [...theirs].filter((id) => !ours.has(id));
  const extra = [...ours].filter((id) => !theirs.has(id));
  check(
    'sandbox executed payouts = our succeeded payouts and refunds',
    twice.length === 0 && missing.length === 0 && extra.length === 0,
    `${theirs.size} executed at the sandbox, ${ours.size} succeeded here; paid twice: ${twice.length}; ` +
      `executed but not succeeded here: ${missing.length}; succeeded here but not executed: ${extra.length}`,
  );

  const invoices = (await (
    await fetch(`${sys.sandboxUrl}/ligdicash/_sandbox/invoices`)
  ).json()) as SandboxInvoice[];
  const delivered = new Map<string, number>();
  for (const item of [
    ...invoices.map((i) => ({ id: i.customData.transaction_id ?? '', callbacks: i.callbacks })),
    ...withdrawals.map((w) => ({ id: w.transactionId, callbacks: w.callbacks })),
  ]) {
    const ok = item.callbacks.filter(
      (c) => c.httpStatus !== null && c.httpStatus >= 200 && c.httpStatus < 300,
    ).length;
    if (ok > 0 && item.id) delivered.set(item.id, (delivered.get(item.id) ?? 0) + ok);
  }
  const { rows: inbox } = await pool.query<{ id: string; n: number }>(
    `SELECT t.id, count(c.id)::int AS n FROM unnest($1::text[]) AS t(id)
       LEFT JOIN operator_callbacks c ON position(convert_to(t.id, 'UTF8') IN c.raw_body) > 0
      GROUP BY t.id`,
    [[...delivered.keys()]],
  );
  const short = inbox.filter((r) => r.n < (delivered.get(r.id) ?? 0));
  const sent = [...delivered.values()].reduce((a, b) => a + b, 0);
  const stored = inbox.reduce((a, r) => a + r.n, 0);
  check(
    'every callback the sandbox delivered is in our inbox',
    short.length === 0,
    `${sent} deliveries answered 2xx, ${stored} rows in our inbox; payments short of callbacks: ${short.length}`,
  );

  return {
    results,
    figures: {
      payments_by_state: countBy(payments, (p) => `${p.kind}:${p.status}`),
      sandbox_payouts_executed: theirs.size,
      callbacks_delivered: sent,
      callbacks_stored: stored,
    },
  };
}

await main();
