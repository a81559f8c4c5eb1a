/**
 * bench/trace-create: where a payin's create call spends its time. N direct payins are created
 * one after another (after 10 for warm-up), each timed from the client's send against the marks
 * the servers leave: the payment row and its transitions (PostgreSQL's clock), and the events of
 * the workflow's history (the Temporal server's). All run on this machine, so the clocks agree.
 * Prints the median of each mark, in the order they happen, and, with `--json`, the same as JSON.
 *
 *   npm run bench:trace                       # 60 payins, each sent when the previous one answered
 *   npm run bench:trace -- --payins 40 --gap 300   # 300 ms between them: the worker idle at each send
 *   npm run bench:trace -- --workers 2             # two worker processes
 */
import { parseArgs } from 'node:util';
import { startBenchSystem } from './harness.js';

const { values } = parseArgs({
  options: {
    payins: { type: 'string', default: '60' },
    gap: { type: 'string', default: '0' },
    workers: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
  },
});
const N = Number(values.payins);
const GAP_MS = Number(values.gap);
const WORKERS = Number(values.workers);
if (![N, WORKERS].every((x) => Number.isInteger(x) && x >= 1) || !(GAP_MS >= 0)) {
  process.stderr.write('--payins and --workers are positive integers, --gap a number of milliseconds\n');
  process.exit(64);
}
const WARM_UP = 10;

/** History event types by their number in Temporal's API (temporal.api.enums.v1.EventType). */
const EVENT_NAMES: Record<number, string> = {
  1: 'workflow started',
  2: 'workflow completed',
  5: 'workflow task scheduled',
  6: 'workflow task started',
  7: 'workflow task completed',
  17: 'timer started',
  25: 'marker (local activity) recorded',
  26: 'signal received',
  40: 'search attributes upserted',
  41: 'update accepted',
  43: 'update completed',
};

const sys = await startBenchSystem({
  name: 'trace-create',
  workers: WORKERS,
  apiPort: 3150,
  sandboxPort: 4150,
  temporalPort: 7459,
  databaseUrl: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/passerelle_bench_trace',
  sandboxEnv: { SANDBOX_APPROVAL_DELAY_MS: '0', SANDBOX_PROCESSING_DELAY_MS: '0' },
});
const marks = new Map<string, number[]>();
const mark = (name: string, ms: number) => {
  const seen = marks.get(name) ?? [];
  seen.push(ms);
  marks.set(name, seen);
};
try {
  for (let i = 0; i < N + WARM_UP; i++) {
    if (GAP_MS > 0) await new Promise((resolve) => setTimeout(resolve, GAP_MS));
    const sent = Date.now();
    const res = await fetch(`${sys.apiUrl}/v1/payins`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${sys.merchant.apiKey}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        amount: 2_500,
        currency: 'XOF',
        mode: 'direct',
        // A Moov Burkina number the sandbox approves at once.
        customer: { phone: `+22670${String(200_000 + i)}` },
      }),
    });
    const body = (await res.json()) as { id?: string };
    const answered = Date.now();
    if (res.status !== 201 || !body.id)
      throw new Error(`create answered ${res.status}: ${JSON.stringify(body)}`);
    if (i < WARM_UP) continue;
    mark('answered to the client', answered - sent);
    const { rows } = await sys.pool.query<{ mark: string; at: Date; workflow_id: string }>(
      `SELECT 'payment row inserted' AS mark, created_at AS at, workflow_id FROM payments WHERE id = $1
       UNION ALL
       SELECT 'transition ' || e.step || ' committed', e.created_at, p.workflow_id
         FROM payment_events e JOIN payments p ON p.id = e.payment_id
        WHERE e.payment_id = $1 AND e.step <> 'create'`,
      [body.id],
    );
    for (const r of rows) mark(r.mark, r.at.getTime() - sent);
    const history = await sys.temporal.workflow.getHandle(rows[0]!.workflow_id).fetchHistory();
    const seen = new Map<string, number>();
    for (const e of history.events ?? []) {
      const name = EVENT_NAMES[Number(e.eventType)] ?? `event type ${String(e.eventType)}`;
      const nth = (seen.get(name) ?? 0) + 1;
      seen.set(name, nth);
      const at = Number(e.eventTime!.seconds) * 1000 + Math.floor((e.eventTime!.nanos ?? 0) / 1e6);
      mark(`temporal: ${name}${nth > 1 ? ` #${nth}` : ''}`, at - sent);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const rows = [...marks]
    .map(([name, xs]) => ({ mark: name, median_ms: median(xs), of: xs.length }))
    .sort((a, b) => a.median_ms - b.median_ms);
  const pace = GAP_MS ? `${GAP_MS} ms apart` : 'one after another';
  process.stderr.write(`${N} creates, ${pace}, ${WORKERS} worker(s); ms from the send (median):\n`);
  for (const r of rows) process.stderr.write(`${String(r.median_ms).padStart(7)}  ${r.mark} (${r.of})\n`);
  if (values.json)
    process.stdout.write(
      `${JSON.stringify({ payins: N, gap_ms: GAP_MS, workers: WORKERS, marks: rows }, null, 2)}\n`,
    );
} finally {
  await sys.stop();
}
