/**
 * bench/payins: N payins through the HTTP API at concurrency C, against the sandbox answering at
 * once (LigdiCash direct payins approved on the "phone" with no delay, callbacks sent at once).
 * Prints accepted/s, completed (final state)/s, create-call latency p50/p95/p99, end-to-end
 * (create → final state) p50/p99, and the worker's, API's and Temporal server's peak memory.
 *
 * Baseline, on the same Temporal server in the same run: a bare workflow with one empty activity,
 * started directly by a client at the same concurrency, on a worker process of its own. Our
 * completed/s is printed as a ratio of the baseline's.
 *
 * Open loop (after the closed-loop run, unless `--rate 0`): payins arrive at a fixed rate for
 * `--duration` seconds, each sent when its time comes whatever the others' answers (arrivals
 * independent of answers, as merchants' customers are), at half the completed/s just measured
 * (`--rate half`, the default) or at `--rate N`. Prints create p50/p95/p99 and the share of the
 * create call spent waiting on the operator (its initiation call, from the workers' metrics).
 *
 * Several processes (`--workers 2 --apis 2`): the system runs that many workers and APIs (the
 * APIs behind a round-robin balancer, as in production); the closed-loop run is measured first
 * with one of each (the others stopped), then with all, in the same run. Every payin must have
 * been sent to the operator once and credited once, whatever process handled it.
 *
 *   npm run bench:payins                                  # 2,000 payins at concurrency 50, then open loop
 *   npm run bench:payins -- --payins 500 --concurrency 20 --rate 0 --json
 *   npm run bench:payins -- --workers 2 --apis 2
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT, stopChild, waitFor } from '../scripts/infra.js';
import {
  cpuSecondsOf,
  markdownTable,
  postgresCpuSeconds,
  memoryOf,
  percentile,
  round,
  runConcurrently,
  startBenchSystem,
  type BenchSystem,
} from './harness.js';

const { values } = parseArgs({
  options: {
    payins: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '50' },
    rate: { type: 'string', default: 'half' },
    duration: { type: 'string', default: '60' },
    workers: { type: 'string', default: '1' },
    apis: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
  },
});
const N = Number(values.payins);
const C = Number(values.concurrency);
const WORKERS = Number(values.workers);
const APIS = Number(values.apis);
const DURATION = Number(values.duration);
const RATE = values.rate === 'half' ? 'half' : Number(values.rate);
const positive = (x: number) => Number.isInteger(x) && x >= 1;
if (![N, C, WORKERS, APIS].every(positive) || !(DURATION > 0) || (RATE !== 'half' && !(RATE >= 0))) {
  process.stderr.write(
    '--payins, --concurrency, --workers and --apis are positive integers; --duration > 0; --rate half or a number\n',
  );
  process.exit(64);
}
const FINAL = ['succeeded', 'failed', 'cancelled', 'expired'];
const say = (s: string) => process.stderr.write(`${s}\n`);

/** A Moov Burkina number (approved on the phone by the sandbox); never a magic scenario number. */
const payerNumber = (i: number) => `+22670${String(100_000 + (i % 800_000)).padStart(6, '0')}`;

async function createPayin(
  sys: BenchSystem,
  i: number,
  tag: string,
): Promise<{ id?: string; ms: number; status: number }> {
  const started = performance.now();
  const res = await fetch(`${sys.apiUrl}/v1/payins`, {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${sys.merchant.apiKey}`,
      'Content-Type': 'application/json',
      'Idempotency-Key': `${tag}-${i}`,
    },
    body: JSON.stringify({
      amount: 2_500,
      currency: 'XOF',
      mode: 'direct',
      customer: { phone: payerNumber(i) },
      description: `bench ${tag} ${i}`,
    }),
  });
  const body = (await res.json()) as { id?: string };
  return { id: body.id, ms: performance.now() - started, status: res.status };
}

/** Waits until every payment is final; returns each one's create and final times (ms epoch). */
async function waitFinal(sys: BenchSystem, ids: string[], timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await sys.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM payments WHERE id = ANY($1) AND status = ANY($2)`,
      [ids, FINAL],
    );
    if (rows[0]!.n === ids.length) break;
    if (Date.now() > deadline)
      throw new Error(`${ids.length - rows[0]!.n} payins not final after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const { rows } = await sys.pool.query<{ status: string; created: number; finished: number }>(
    `SELECT status, extract(epoch FROM created_at) * 1000 AS created, extract(epoch FROM updated_at) * 1000 AS finished
       FROM payments WHERE id = ANY($1)`,
    [ids],
  );
  return rows.map((r) => ({ status: r.status, created: Number(r.created), finished: Number(r.finished) }));
}

async function ourRun(sys: BenchSystem, n: number, tag: string) {
  const latencies: number[] = [];
  const ids: string[] = [];
  const refused: Record<string, number> = {};
  const t0 = Date.now();
  let lastAccepted = t0;
  await runConcurrently(n, C, async (i) => {
    const r = await createPayin(sys, i, tag);
    latencies.push(r.ms);
    if ((r.status === 201 || r.status === 202) && r.id) {
      ids.push(r.id);
      lastAccepted = Date.now();
    } else refused[r.status] = (refused[r.status] ?? 0) + 1;
  });
  const done = await waitFinal(sys, ids, 10 * 60_000);
  const lastFinal = Math.max(...done.map((d) => d.finished));
  const e2e = done.map((d) => d.finished - d.created);
  const byStatus: Record<string, number> = {};
  for (const d of done) byStatus[d.status] = (byStatus[d.status] ?? 0) + 1;
  return {
    accepted: ids.length,
    refused,
    byStatus,
    acceptedPerSecond: ids.length / ((lastAccepted - t0) / 1000),
    completedPerSecond: ids.length / ((lastFinal - t0) / 1000),
    createP50: percentile(latencies, 50),
    createP95: percentile(latencies, 95),
    createP99: percentile(latencies, 99),
    e2eP50: percentile(e2e, 50),
    e2eP99: percentile(e2e, 99),
  };
}

async function baselineRun(sys: BenchSystem, n: number, tag: string) {
  const starts: number[] = [];
  const results: Promise<number>[] = [];
  const t0 = Date.now();
  await runConcurrently(n, C, async (i) => {
    const started = performance.now();
    const handle = await sys.temporal.workflow.start('bareWorkflow', {
      taskQueue: 'bench-baseline',
      workflowId: `baseline-${tag}-${i}`,
    });
    starts.push(performance.now() - started);
    results.push(handle.result().then(() => Date.now()));
  });
  const finished = await Promise.all(results);
  return {
    completedPerSecond: n / ((Math.max(...finished) - t0) / 1000),
    startP50: percentile(starts, 50),
    startP99: percentile(starts, 99),
  };
}

function cpuByProcess(sys: BenchSystem) {
  const of = (kind: 'api' | 'worker') =>
    sys.instances
      .filter((name) => name.split('#')[0] === kind)
      .reduce((sum, name) => sum + cpuSecondsOf(sys.pid(name)), 0);
  return {
    bench_client: process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6,
    api: of('api'),
    worker: of('worker'),
    sandbox: cpuSecondsOf(sys.pid('sandbox')),
    temporal_server: cpuSecondsOf(sys.pid('temporal')),
    postgres: postgresCpuSeconds(),
  };
}

/** Runs `measure` and returns its result with the CPU seconds each process spent meanwhile. */
async function withCpu<T>(sys: BenchSystem, measure: () => Promise<T>) {
  const before = cpuByProcess(sys);
  const result = await measure();
  const after = cpuByProcess(sys);
  const cpu = Object.fromEntries(
    Object.entries(after).map(([k, v]) => [k, round(v - (before[k as keyof typeof before] ?? 0))]),
  ) as Record<keyof typeof before, number>;
  return { result, cpu };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The operator's initiation calls (LigdiCash `…/checkout-invoice/create`) so far, summed over
 * every worker's metrics: how many, and their seconds.
 */
async function initiationCalls(sys: BenchSystem): Promise<{ count: number; seconds: number }> {
  let count = 0;
  let seconds = 0;
  for (const url of sys.workerMetricsUrls) {
    const text = await (await fetch(url)).text();
    for (const line of text.split('\n')) {
      if (!line.startsWith('passerelle_operator_request_seconds_')) continue;
      if (!line.includes('checkout-invoice/create')) continue;
      const value = Number(line.slice(line.lastIndexOf(' ') + 1));
      if (line.startsWith('passerelle_operator_request_seconds_sum')) seconds += value;
      else if (line.startsWith('passerelle_operator_request_seconds_count')) count += value;
    }
  }
  return { count, seconds };
}

/**
 * Open loop: payin i is sent at t0 + i / rate whatever the answers to the others (arrivals
 * independent of answers); latencies are the create calls'.
 */
async function openLoopRun(sys: BenchSystem, rate: number, seconds: number, tag: string) {
  const total = Math.max(1, Math.round(rate * seconds));
  const latencies: number[] = [];
  const ids: string[] = [];
  const refused: Record<string, number> = {};
  const calls: Promise<void>[] = [];
  // Arrivals the client sent more than 10 ms late (it could not keep up with its own schedule).
  let late = 0;
  const operatorBefore = await initiationCalls(sys);
  const t0 = performance.now();
  const wall0 = Date.now();
  for (let i = 0; i < total; i++) {
    const wait = t0 + (i * 1000) / rate - performance.now();
    if (wait > 0) await sleep(wait);
    else if (wait < -10) late++;
    calls.push(
      createPayin(sys, i, tag).then((r) => {
        latencies.push(r.ms);
        if ((r.status === 201 || r.status === 202) && r.id) ids.push(r.id);
        else refused[r.status] = (refused[r.status] ?? 0) + 1;
      }),
    );
  }
  await Promise.all(calls);
  const operatorAfter = await initiationCalls(sys);
  const done = await waitFinal(sys, ids, 10 * 60_000);
  const lastFinal = Math.max(...done.map((d) => d.finished));
  const byStatus: Record<string, number> = {};
  for (const d of done) byStatus[d.status] = (byStatus[d.status] ?? 0) + 1;
  const meanCreate = latencies.reduce((a, b) => a + b, 0) / latencies.length;
  const operatorCalls = operatorAfter.count - operatorBefore.count;
  const meanOperator = operatorCalls
    ? ((operatorAfter.seconds - operatorBefore.seconds) * 1000) / operatorCalls
    : NaN;
  return {
    rate,
    seconds,
    sent: total,
    late,
    accepted: ids.length,
    refused,
    byStatus,
    completedPerSecond: ids.length / ((lastFinal - wall0) / 1000),
    createP50: percentile(latencies, 50),
    createP95: percentile(latencies, 95),
    createP99: percentile(latencies, 99),
    createMean: meanCreate,
    operatorMeanMs: meanOperator,
    operatorShare: meanOperator / meanCreate,
  };
}

/**
 * What several processes must not do: send a payin to the operator twice (one sandbox invoice per
 * payin) or credit it twice (one crediting ledger entry per succeeded payin).
 */
async function onceEach(
  sys: BenchSystem,
  ids: string[],
): Promise<{ sentTwice: number; creditedOtherThanOnce: number }> {
  const res = await fetch(`${sys.sandboxUrl}/ligdicash/_sandbox/invoices`);
  const invoices = (await res.json()) as { customData: { transaction_id?: string } }[];
  const sent = new Map<string, number>();
  for (const i of invoices) {
    const id = i.customData.transaction_id;
    if (id) sent.set(id, (sent.get(id) ?? 0) + 1);
  }
  const { rows } = await sys.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM unnest($1::text[]) AS t(id)
      WHERE (SELECT count(*) FROM journal_entries e WHERE e.payment_id = t.id AND e.credits_payment) <> 1`,
    [ids],
  );
  return { sentTwice: ids.filter((id) => (sent.get(id) ?? 0) > 1).length, creditedOtherThanOnce: rows[0]!.n };
}

const several = WORKERS > 1 || APIS > 1;
say(
  `• starting the system (PostgreSQL, Temporal dev server on SQLite, sandbox, ${WORKERS} worker(s), ${APIS} API(s))`,
);
const sys = await startBenchSystem({
  name: 'payins',
  apiPort: 3100,
  sandboxPort: 4100,
  temporalPort: 7399,
  workers: WORKERS,
  apis: APIS,
  workerMetricsPort: 9600,
  databaseUrl: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/passerelle_bench_payins',
  sandboxEnv: { SANDBOX_APPROVAL_DELAY_MS: '0', SANDBOX_PROCESSING_DELAY_MS: '0' },
});
const extras = sys.instances.filter((name) => name.includes('#'));
const baselineLog = createWriteStream(path.join(sys.dir, 'baseline-worker.log'));
const baselineWorker = spawn(
  process.execPath,
  ['--import', 'tsx', path.join(ROOT, 'bench/baseline/worker.ts')],
  {
    cwd: ROOT,
    env: { ...process.env, TEMPORAL_ADDRESS: sys.temporalAddress },
    stdio: ['ignore', 'pipe', 'pipe'],
  },
);
let baselineReady = false;
baselineWorker.stdout.on('data', (d: Buffer) => {
  baselineReady ||= d.toString().includes('baseline worker running');
  baselineLog.write(d);
});
baselineWorker.stderr.pipe(baselineLog);

const peakOf = (kind: string) =>
  Math.max(
    ...sys.instances.filter((i) => i.split('#')[0] === kind).map((i) => memoryOf(sys.pid(i))?.peakMb ?? 0),
  );

try {
  await waitFor('baseline worker', () => Promise.resolve(baselineReady), 60_000, baselineWorker);
  const warm = Math.min(100, N);
  say(`• baseline: warm-up ${warm}, then ${N} bare workflows at concurrency ${C}`);
  await baselineRun(sys, warm, 'warmup');
  const baselineCpuBefore = {
    temporal: cpuSecondsOf(sys.pid('temporal')),
    worker: cpuSecondsOf(baselineWorker.pid),
  };
  const baseline = await baselineRun(sys, N, 'run');
  const baselineCpu = {
    temporal_server: round(cpuSecondsOf(sys.pid('temporal')) - baselineCpuBefore.temporal),
    baseline_worker: round(cpuSecondsOf(baselineWorker.pid) - baselineCpuBefore.worker),
  };
  const baselineMemory = memoryOf(baselineWorker.pid);

  /** One closed-loop measurement of the processes running now. */
  const closedLoop = async (label: string, tag: string) => {
    say(`• payins (${label}): warm-up ${warm}, then ${N} payins at concurrency ${C}`);
    await ourRun(sys, warm, `${tag}-warmup`);
    const { result: ours, cpu } = await withCpu(sys, () => ourRun(sys, N, tag));
    const memory = {
      worker: peakOf('worker'),
      api: peakOf('api'),
      temporal: memoryOf(sys.pid('temporal'))?.peakMb,
    };
    return { label, ours, cpu, memory };
  };

  const runs: Awaited<ReturnType<typeof closedLoop>>[] = [];
  if (several) {
    // First with one worker and one API (the others stopped), then with all, in the same run.
    for (const name of extras) await sys.kill(name, 'SIGTERM');
    runs.push(await closedLoop('1 worker + 1 API', 'one'));
    for (const name of extras) await sys.start(name);
  }
  runs.push(await closedLoop(`${WORKERS} worker(s) + ${APIS} API(s)`, 'run'));
  const best = runs[runs.length - 1]!;

  let open: Awaited<ReturnType<typeof openLoopRun>> | undefined;
  let openCpu: Record<string, number> | undefined;
  const rate = RATE === 'half' ? round(best.ours.completedPerSecond / 2) : RATE;
  if (rate > 0) {
    say(`• open loop: ${rate} payins/s for ${DURATION} s (arrivals independent of answers)`);
    const measured = await withCpu(sys, () => openLoopRun(sys, rate, DURATION, 'open'));
    open = measured.result;
    openCpu = measured.cpu;
  }

  const { rows: succeeded } = await sys.pool.query<{ id: string }>(
    `SELECT id FROM payments WHERE kind = 'payin' AND status = 'succeeded'`,
  );
  const once = await onceEach(
    sys,
    succeeded.map((r) => r.id),
  );

  const result = {
    payins: N,
    concurrency: C,
    runs: runs.map(({ label, ours, cpu, memory }) => ({
      processes: label,
      accepted: ours.accepted,
      refused: ours.refused,
      final_states: ours.byStatus,
      accepted_per_second: round(ours.acceptedPerSecond),
      completed_per_second: round(ours.completedPerSecond),
      create_latency_ms: {
        p50: round(ours.createP50),
        p95: round(ours.createP95),
        p99: round(ours.createP99),
      },
      end_to_end_ms: { p50: round(ours.e2eP50), p99: round(ours.e2eP99) },
      peak_memory_mb: memory,
      ratio_to_baseline: round(ours.completedPerSecond / baseline.completedPerSecond, 2),
      cpu_seconds_during_run: cpu,
      cpu_ms_per_payin: round((Object.values(cpu).reduce((a, b) => a + b, 0) * 1000) / N),
    })),
    baseline: {
      completed_per_second: round(baseline.completedPerSecond),
      start_latency_ms: { p50: round(baseline.startP50), p99: round(baseline.startP99) },
      worker_peak_memory_mb: baselineMemory?.peakMb,
      cpu_seconds_during_run: baselineCpu,
      cpu_ms_per_workflow: round(((baselineCpu.temporal_server + baselineCpu.baseline_worker) * 1000) / N),
    },
    open_loop: open && {
      rate_per_second: open.rate,
      seconds: open.seconds,
      sent: open.sent,
      sent_late_by_the_client: open.late,
      accepted: open.accepted,
      refused: open.refused,
      final_states: open.byStatus,
      completed_per_second: round(open.completedPerSecond),
      create_latency_ms: {
        p50: round(open.createP50),
        p95: round(open.createP95),
        p99: round(open.createP99),
      },
      operator_initiation_mean_ms: round(open.operatorMeanMs),
      create_mean_ms: round(open.createMean),
      share_waiting_on_operator: round(open.operatorShare, 3),
      cpu_seconds_during_run: openCpu,
    },
    sent_to_the_operator_twice: once.sentTwice,
    credited_other_than_once: once.creditedOtherThanOnce,
  };
  if (values.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  const closedTable = markdownTable(
    result.runs.map((r) => ({
      processes: r.processes,
      payins: N,
      concurrency: C,
      'accepted/s': r.accepted_per_second,
      'completed/s': r.completed_per_second,
      'create p50/p95/p99 (ms)': `${r.create_latency_ms.p50} / ${r.create_latency_ms.p95} / ${r.create_latency_ms.p99}`,
      'end-to-end p50/p99 (ms)': `${r.end_to_end_ms.p50} / ${r.end_to_end_ms.p99}`,
      'peak MB worker / API / Temporal': `${r.peak_memory_mb.worker} / ${r.peak_memory_mb.api} / ${r.peak_memory_mb.temporal}`,
      'CPU ms per payin': r.cpu_ms_per_payin,
      'baseline completed/s': result.baseline.completed_per_second,
      'ratio to baseline': r.ratio_to_baseline,
    })),
  );
  const lines = [
    '',
    closedTable,
    '',
    ...result.runs.map(
      (r) =>
        `${r.processes}: final states ${JSON.stringify(r.final_states)}; refused ${JSON.stringify(r.refused)}; ` +
        `CPU seconds ${JSON.stringify(r.cpu_seconds_during_run)}`,
    ),
    `baseline: CPU seconds ${JSON.stringify(baselineCpu)} (${result.baseline.cpu_ms_per_workflow} ms per workflow)`,
    `Temporal server CPU per payin / per bare workflow: ${round((best.cpu.temporal_server * 1000) / N)} / ${round((baselineCpu.temporal_server * 1000) / N)} ms`,
  ];
  const o = result.open_loop;
  if (o) {
    lines.push(
      '',
      markdownTable([
        {
          'open loop (payins/s × s)': `${o.rate_per_second} × ${o.seconds}`,
          sent: o.sent,
          'completed/s': o.completed_per_second,
          'create p50/p95/p99 (ms)': `${o.create_latency_ms.p50} / ${o.create_latency_ms.p95} / ${o.create_latency_ms.p99}`,
          'create mean (ms)': o.create_mean_ms,
          'operator initiation mean (ms)': o.operator_initiation_mean_ms,
          'share waiting on the operator': o.share_waiting_on_operator,
          'sent late by the client': o.sent_late_by_the_client,
        },
      ]),
      '',
      `open loop: final states ${JSON.stringify(o.final_states)}; refused ${JSON.stringify(o.refused)}; CPU seconds ${JSON.stringify(o.cpu_seconds_during_run)}`,
    );
  }
  lines.push(
    '',
    `sent to the operator twice: ${once.sentTwice}; credited other than once: ${once.creditedOtherThanOnce} (of ${succeeded.length} succeeded payins)`,
    '',
  );
  process.stdout.write(lines.join('\n'));
  const allSucceeded = (r: { accepted: number; byStatus: Record<string, number> }, n: number) =>
    r.accepted === n && (r.byStatus.succeeded ?? 0) === n;
  if (
    !runs.every((r) => allSucceeded(r.ours, N)) ||
    (open && !allSucceeded(open, open.sent)) ||
    once.sentTwice ||
    once.creditedOtherThanOnce
  )
    process.exitCode = 1;
} finally {
  await stopChild(baselineWorker, 'SIGTERM', 10_000);
  await sys.stop();
}
