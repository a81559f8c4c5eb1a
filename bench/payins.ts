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
 *   npm run bench:payins                                  # 2,000 payins at concurrency 50
 *   npm run bench:payins -- --payins 500 --concurrency 20 --json
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
    json: { type: 'boolean', default: false },
  },
});
const N = Number(values.payins);
const C = Number(values.concurrency);
if (!Number.isInteger(N) || N < 1 || !Number.isInteger(C) || C < 1) {
  process.stderr.write('--payins and --concurrency are positive integers\n');
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
  return {
    bench_client: process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6,
    api: cpuSecondsOf(sys.pid('api')),
    worker: cpuSecondsOf(sys.pid('worker')),
    sandbox: cpuSecondsOf(sys.pid('sandbox')),
    temporal_server: cpuSecondsOf(sys.pid('temporal')),
    postgres: postgresCpuSeconds(),
  };
}

say(`• starting the system (PostgreSQL, Temporal dev server on SQLite, sandbox, worker, API)`);
const sys = await startBenchSystem({
  name: 'payins',
  apiPort: 3100,
  sandboxPort: 4100,
  temporalPort: 7399,
  databaseUrl: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/passerelle_bench_payins',
  sandboxEnv: { SANDBOX_APPROVAL_DELAY_MS: '0', SANDBOX_PROCESSING_DELAY_MS: '0' },
});
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

  say(`• payins: warm-up ${warm}, then ${N} payins at concurrency ${C}`);
  await ourRun(sys, warm, 'warmup');
  // Where the CPU goes during the measured run (2 cores shared by everything).
  const cpuBefore = cpuByProcess(sys);
  const ours = await ourRun(sys, N, 'run');
  const cpuAfter = cpuByProcess(sys);
  const cpu = Object.fromEntries(
    Object.entries(cpuAfter).map(([k, v]) => [k, round(v - (cpuBefore[k as keyof typeof cpuBefore] ?? 0))]),
  );
  const memory = {
    worker: memoryOf(sys.pid('worker')),
    api: memoryOf(sys.pid('api')),
    temporal: memoryOf(sys.pid('temporal')),
  };

  const result = {
    payins: N,
    concurrency: C,
    accepted: ours.accepted,
    refused: ours.refused,
    final_states: ours.byStatus,
    accepted_per_second: round(ours.acceptedPerSecond),
    completed_per_second: round(ours.completedPerSecond),
    create_latency_ms: { p50: round(ours.createP50), p95: round(ours.createP95), p99: round(ours.createP99) },
    end_to_end_ms: { p50: round(ours.e2eP50), p99: round(ours.e2eP99) },
    peak_memory_mb: {
      worker: memory.worker?.peakMb,
      api: memory.api?.peakMb,
      temporal_server: memory.temporal?.peakMb,
    },
    baseline: {
      completed_per_second: round(baseline.completedPerSecond),
      start_latency_ms: { p50: round(baseline.startP50), p99: round(baseline.startP99) },
      worker_peak_memory_mb: baselineMemory?.peakMb,
      cpu_seconds_during_run: baselineCpu,
    },
    ratio_to_baseline: round(ours.completedPerSecond / baseline.completedPerSecond, 2),
    cpu_seconds_during_run: cpu,
  };
  if (values.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(
    `\n${markdownTable([
      {
        payins: N,
        concurrency: C,
        'accepted/s': result.accepted_per_second,
        'completed/s': result.completed_per_second,
        'create p50/p95/p99 (ms)': `${result.create_latency_ms.p50} / ${result.create_latency_ms.p95} / ${result.create_latency_ms.p99}`,
        'end-to-end p50/p99 (ms)': `${result.end_to_end_ms.p50} / ${result.end_to_end_ms.p99}`,
        'peak MB worker / API / Temporal': `${result.peak_memory_mb.worker} / ${result.peak_memory_mb.api} / ${result.peak_memory_mb.temporal_server}`,
        'baseline completed/s': result.baseline.completed_per_second,
        'ratio to baseline': result.ratio_to_baseline,
      },
    ])}\n\nfinal states: ${JSON.stringify(result.final_states)}; refused: ${JSON.stringify(result.refused)}\n` +
      `CPU seconds during the measured run: ${JSON.stringify(cpu)}\n` +
      `CPU seconds during the baseline run: ${JSON.stringify(baselineCpu)}\n` +
      `Temporal server CPU per payin / per bare workflow: ${round((cpu.temporal_server! * 1000) / N)} / ${round((baselineCpu.temporal_server * 1000) / N)} ms\n`,
  );
  if (ours.accepted !== N || (ours.byStatus.succeeded ?? 0) !== N) process.exitCode = 1;
} finally {
  await stopChild(baselineWorker, 'SIGTERM', 10_000);
  await sys.stop();
}
