/**
 * bench/idle: N payins (default 5,000) left waiting for their payer, as redirect payins whose
 * payment page nobody opens. Prints the worker's and the Temporal server's memory while they wait
 * (and the status polls per second the waiting costs), then has every payer pay at the sandbox,
 * which calls us back, and prints how long it took until all were final.
 *
 *   npm run bench:idle                                   # 5,000 payins, 60 s of waiting
 *   npm run bench:idle -- --payins 1000 --idle-seconds 30 --json
 *   npm run bench:idle -- --cache 250 --node-options=--max-old-space-size=256   # other worker settings
 */
import { parseArgs } from 'node:util';
import {
  markdownTable,
  memoryOf,
  percentile,
  round,
  runConcurrently,
  startBenchSystem,
  type BenchSystem,
} from './harness.js';

const { values } = parseArgs({
  options: {
    payins: { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '50' },
    'idle-seconds': { type: 'string', default: '60' },
    cache: { type: 'string' },
    'node-options': { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const N = Number(values.payins);
const C = Number(values.concurrency);
const IDLE = Number(values['idle-seconds']);
if (![N, C].every((x) => Number.isInteger(x) && x > 0) || !(IDLE >= 0)) {
  process.stderr.write(
    '--payins and --concurrency are positive integers, --idle-seconds a number of seconds\n',
  );
  process.exit(64);
}
const FINAL = ['succeeded', 'failed', 'cancelled', 'expired'];
const say = (s: string) => process.stderr.write(`${s}\n`);

async function sandboxStatusCalls(sys: BenchSystem): Promise<number> {
  const res = await fetch(`${sys.sandboxUrl}/ligdicash/_sandbox/invoices`);
  const invoices = (await res.json()) as { statusCalls: number }[];
  return invoices.reduce((sum, i) => sum + i.statusCalls, 0);
}

/**
 * Worker settings to compare (`--cache N`: WORKER_MAX_CACHED_WORKFLOWS; `--node-options`: the
 * worker's NODE_OPTIONS, e.g. --max-old-space-size=256), else the defaults.
 */
function workerSettings(): Record<string, string> {
  return {
    ...(values.cache ? { WORKER_MAX_CACHED_WORKFLOWS: values.cache } : {}),
    ...(values['node-options'] ? { NODE_OPTIONS: values['node-options'] } : {}),
  };
}

/** The worker's own memory figures (passerelle_worker_memory_bytes), in MB. */
async function workerMemory(sys: BenchSystem): Promise<Record<string, number>> {
  const text = await (await fetch(sys.workerMetricsUrls[0]!)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^passerelle_worker_memory_bytes\{[^}]*area="(\w+)"[^}]*\} (\S+)$/gm)) {
    out[m[1]!] = Math.round(Number(m[2]) / 1_048_576);
  }
  return out;
}

async function countFinal(sys: BenchSystem, ids: string[]): Promise<number> {
  const { rows } = await sys.pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM payments WHERE id = ANY($1) AND status = ANY($2)',
    [ids, FINAL],
  );
  return rows[0]!.n;
}

say('• starting the system (PostgreSQL, Temporal dev server on SQLite, sandbox, worker, API)');
const sys = await startBenchSystem({
  name: 'idle',
  apiPort: 3100,
  sandboxPort: 4100,
  temporalPort: 7399,
  databaseUrl: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/passerelle_bench_idle',
  // Long enough that no payin expires while 5,000 are created, left waiting and then paid.
  env: { LIGDICASH_PAYIN_DEADLINE_SECONDS: '3600' },
  workerEnv: workerSettings(),
  workerMetricsPort: 9650,
  sandboxEnv: { SANDBOX_PROCESSING_DELAY_MS: '0' },
});
try {
  const memoryAtStart = { worker: memoryOf(sys.pid('worker')), temporal: memoryOf(sys.pid('temporal')) };
  say(`• creating ${N} redirect payins at concurrency ${C} (nobody pays yet)`);
  const payins: { id: string; token: string }[] = [];
  const refused: Record<string, number> = {};
  const createStarted = Date.now();
  await runConcurrently(N, C, async (i) => {
    const res = await fetch(`${sys.apiUrl}/v1/payins`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${sys.merchant.apiKey}`,
        'Content-Type': 'application/json',
        'Idempotency-Key': `idle-${i}`,
      },
      body: JSON.stringify({ amount: 2_500, currency: 'XOF', description: `idle ${i}` }),
    });
    const body = (await res.json()) as { id?: string; status?: string; operator_reference?: string };
    if (res.status === 201 && body.status === 'action_required' && body.id && body.operator_reference)
      payins.push({ id: body.id, token: body.operator_reference });
    else
      refused[`${res.status} ${body.status ?? ''}`] =
        (refused[`${res.status} ${body.status ?? ''}`] ?? 0) + 1;
  });
  const createSeconds = (Date.now() - createStarted) / 1000;
  const ids = payins.map((p) => p.id);

  say(`• ${payins.length} payins waiting; idle for ${IDLE} s`);
  const pollsBefore = await sandboxStatusCalls(sys);
  const idleStarted = Date.now();
  await new Promise((r) => setTimeout(r, IDLE * 1000));
  const pollsDuringIdle = (await sandboxStatusCalls(sys)) - pollsBefore;
  const idleElapsed = (Date.now() - idleStarted) / 1000;
  const waiting = { worker: memoryOf(sys.pid('worker')), temporal: memoryOf(sys.pid('temporal')) };
  // Its main thread's heap, sampled every 15 s: the rest of its resident set is the workflow
  // thread's heap and the SDK's core.
  const workerOwn = await workerMemory(sys);
  const endedWhileWaiting = await countFinal(sys, ids);

  say(`• every payer pays (the sandbox calls us back); waiting until all are final`);
  const payStarted = Date.now();
  const paidAt = new Map<string, number>();
  await runConcurrently(payins.length, C, async (i) => {
    const p = payins[i]!;
    const res = await fetch(
      `${sys.sandboxUrl}/ligdicash/_sandbox/invoices/${encodeURIComponent(p.token)}/pay`,
      {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: '{}',
      },
    );
    await res.arrayBuffer();
    paidAt.set(p.id, Date.now());
  });
  const deadline = Date.now() + 20 * 60_000;
  while ((await countFinal(sys, ids)) < ids.length) {
    if (Date.now() > deadline) throw new Error('not every payin ended within 20 minutes');
    await new Promise((r) => setTimeout(r, 250));
  }
  const completeSeconds = (Date.now() - payStarted) / 1000;
  const { rows } = await sys.pool.query<{ id: string; status: string; finished: number }>(
    'SELECT id, status, extract(epoch FROM updated_at) * 1000 AS finished FROM payments WHERE id = ANY($1)',
    [ids],
  );
  const byStatus: Record<string, number> = {};
  for (const r of rows) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
  const payToFinal = rows.map((r) => Number(r.finished) - (paidAt.get(r.id) ?? Number(r.finished)));
  const after = { worker: memoryOf(sys.pid('worker')), temporal: memoryOf(sys.pid('temporal')) };

  const result = {
    payins: N,
    waiting: payins.length,
    refused,
    create_seconds: round(createSeconds),
    idle_seconds: round(idleElapsed),
    status_polls_per_second_while_waiting: round(pollsDuringIdle / idleElapsed),
    ended_while_waiting: endedWhileWaiting,
    memory_mb: {
      worker_at_start: memoryAtStart.worker?.currentMb,
      worker_while_waiting: waiting.worker?.currentMb,
      worker_peak: after.worker?.peakMb,
      temporal_at_start: memoryAtStart.temporal?.currentMb,
      temporal_while_waiting: waiting.temporal?.currentMb,
      temporal_peak: after.temporal?.peakMb,
    },
    worker_main_heap_mb_while_waiting: { used: workerOwn.heap_used, total: workerOwn.heap_total },
    worker_settings: workerSettings(),
    worker_kb_per_waiting_payin: round(
      (((waiting.worker?.currentMb ?? 0) - (memoryAtStart.worker?.currentMb ?? 0)) * 1024) / payins.length,
    ),
    complete_all_seconds: round(completeSeconds),
    completed_per_second: round(payins.length / completeSeconds),
    pay_to_final_ms: { p50: round(percentile(payToFinal, 50)), p99: round(percentile(payToFinal, 99)) },
    final_states: byStatus,
  };
  if (values.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(
    `\n${markdownTable([
      {
        'waiting payins': payins.length,
        'worker MB start / waiting / peak': `${result.memory_mb.worker_at_start} / ${result.memory_mb.worker_while_waiting} / ${result.memory_mb.worker_peak}`,
        'Temporal MB start / waiting / peak': `${result.memory_mb.temporal_at_start} / ${result.memory_mb.temporal_while_waiting} / ${result.memory_mb.temporal_peak}`,
        'status polls/s while waiting': result.status_polls_per_second_while_waiting,
        'all paid → all final (s)': result.complete_all_seconds,
        'completed/s': result.completed_per_second,
        'pay → final p50/p99 (ms)': `${result.pay_to_final_ms.p50} / ${result.pay_to_final_ms.p99}`,
      },
    ])}\n\nfinal states: ${JSON.stringify(byStatus)}; refused at creation: ${JSON.stringify(refused)}\n` +
      `worker main-thread heap while waiting: ${workerOwn.heap_used} MB used of ${workerOwn.heap_total} MB; ` +
      `settings ${JSON.stringify(result.worker_settings)}\n`,
  );
  if (payins.length !== N || (byStatus.succeeded ?? 0) !== N) process.exitCode = 1;
} finally {
  await sys.stop();
}
