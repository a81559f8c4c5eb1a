/**
 * bench/webhooks, two measures:
 *
 * 1. Deliveries while payins run: N payins through the API at concurrency C (as bench:payins),
 *    the merchant's webhook endpoint a receiver of this process answering 204. Prints events
 *    delivered per second and the delivery lag (event committed → receiver got it, verified)
 *    p50/p99, beside the payins' own completed/s, and the same payins' completed/s without any
 *    endpoint in the same run (what the webhooks cost the payments).
 * 2. Deliveries waiting on retry timers: W events (default 10,000) for an endpoint that answers
 *    500, each failed twice and now waiting 5 minutes for its third attempt. Prints the worker's
 *    and the Temporal server's memory before and while they wait, the workflow tasks and history
 *    events all those deliveries cost, and how many tasks run while they wait (none expected:
 *    the retries are the server's timers).
 *
 *   npm run bench:webhooks
 *   npm run bench:webhooks -- --payins 500 --waiting 2000 --json
 */
import { parseArgs } from 'node:util';
import proto from '@temporalio/proto';
import {
  cpuSecondsOf,
  markdownTable,
  memoryOf,
  percentile,
  round,
  runConcurrently,
  startBenchSystem,
  type BenchSystem,
} from './harness.js';
import { WebhookReceiver } from './webhook-receiver.js';

const { values } = parseArgs({
  options: {
    payins: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '50' },
    waiting: { type: 'string', default: '10000' },
    'wait-seconds': { type: 'string', default: '60' },
    json: { type: 'boolean', default: false },
  },
});
const N = Number(values.payins);
const C = Number(values.concurrency);
const W = Number(values.waiting);
const WAIT = Number(values['wait-seconds']);
if (![N, C, W].every((x) => Number.isInteger(x) && x > 0) || !(WAIT >= 0)) {
  process.stderr.write('--payins, --concurrency and --waiting are positive integers\n');
  process.exit(64);
}
const FINAL = ['succeeded', 'failed', 'cancelled', 'expired'];
const say = (s: string) => process.stderr.write(`${s}\n`);
const WORKFLOW_TASK_COMPLETED = proto.temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

async function createEndpoint(
  sys: BenchSystem,
  key: string,
  url: string,
): Promise<{ id: string; secret: string }> {
  const res = await fetch(`${sys.apiUrl}/v1/webhook-endpoints`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ url }),
  });
  if (res.status !== 201) throw new Error(`webhook endpoint: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as { id: string; secret: string };
}

/** N approved payins through the API; resolves with their ids and the run's completed/s. */
async function payins(sys: BenchSystem, key: string, n: number, tag: string) {
  const ids: string[] = [];
  const t0 = Date.now();
  await runConcurrently(n, C, async (i) => {
    const res = await fetch(`${sys.apiUrl}/v1/payins`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${key}`,
        'Content-Type': 'application/json',
        'Idempotency-Key': `${tag}-${i}`,
      },
      body: JSON.stringify({
        amount: 2_500,
        currency: 'XOF',
        mode: 'direct',
        customer: { phone: `+22670${String(100_000 + i).padStart(6, '0')}` },
      }),
    });
    const body = (await res.json()) as { id?: string };
    if (body.id) ids.push(body.id);
  });
  await until(`${tag} payins final`, 10 * 60_000, async () => {
    const { rows } = await sys.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM payments WHERE id = ANY($1) AND status = ANY($2)',
      [ids, FINAL],
    );
    return rows[0]!.n === ids.length;
  });
  const { rows } = await sys.pool.query<{ last: number }>(
    'SELECT extract(epoch FROM max(updated_at)) * 1000 AS last FROM payments WHERE id = ANY($1)',
    [ids],
  );
  return { ids, completedPerSecond: ids.length / ((Number(rows[0]!.last) - t0) / 1000) };
}

async function newMerchantKey(sys: BenchSystem, name: string): Promise<{ id: string; key: string }> {
  const { createMerchant, setMerchantRateLimit } = await import('../db/merchants.js');
  // Test mode (createMerchant's key): the receivers listen on 127.0.0.1.
  const m = await createMerchant(sys.pool, name);
  await setMerchantRateLimit(sys.pool, m.merchant.id, 100_000);
  return { id: m.merchant.id, key: m.apiKey };
}

/** Workflow tasks and history events of the delivery workflows, from their histories. */
async function deliveryWorkflowCost(sys: BenchSystem, workflowIds: string[]) {
  let tasks = 0;
  let events = 0;
  for (const id of workflowIds) {
    const history = await sys.temporal.workflow.getHandle(id).fetchHistory();
    events += history.events?.length ?? 0;
    tasks += history.events?.filter((e) => e.eventType === WORKFLOW_TASK_COMPLETED).length ?? 0;
  }
  return { tasks, events };
}

say('• starting the system (PostgreSQL, Temporal dev server on SQLite, sandbox, worker, API)');
const sys = await startBenchSystem({
  name: 'webhooks',
  apiPort: 3100,
  sandboxPort: 4100,
  temporalPort: 7399,
  databaseUrl:
    process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/passerelle_bench_webhooks',
  sandboxEnv: { SANDBOX_APPROVAL_DELAY_MS: '0', SANDBOX_PROCESSING_DELAY_MS: '0' },
  env: { EVENT_PUBLISH_INTERVAL_MS: '1000' },
});
const receiver = new WebhookReceiver();
const failing = new WebhookReceiver({ random: () => 0, failRate: 1 });
try {
  await receiver.start();
  await failing.start();

  // ---------------------------------------------------------------- 1. during payins
  const warm = Math.min(100, N);
  say(`• warm-up: ${warm} payins`);
  await payins(sys, sys.merchant.apiKey, warm, 'warmup');
  say(`• ${N} payins at concurrency ${C} without any webhook endpoint`);
  const plain = await payins(sys, sys.merchant.apiKey, N, 'plain');

  const withHooks = await newMerchantKey(sys, 'Webhooks bench');
  const endpoint = await createEndpoint(sys, withHooks.key, receiver.url);
  receiver.secret = endpoint.secret;
  say(`• ${N} payins at concurrency ${C}, every event delivered to a receiver answering 204`);
  const cpuBefore = { worker: cpuSecondsOf(sys.pid('worker')), temporal: cpuSecondsOf(sys.pid('temporal')) };
  const hooked = await payins(sys, withHooks.key, N, 'hooked');
  const events = async () =>
    (
      await sys.pool.query<{ id: string; created: number }>(
        'SELECT id, extract(epoch FROM created_at) * 1000 AS created FROM events WHERE merchant_id = $1',
        [withHooks.id],
      )
    ).rows.map((r) => ({ id: r.id, created: Number(r.created) }));
  await until('every event delivered', 10 * 60_000, async () =>
    (await events()).every((e) => receiver.delivered.has(e.id)),
  );
  const all = await events();
  const lags = all.map((e) => receiver.delivered.get(e.id)! - e.created);
  const firstEvent = Math.min(...all.map((e) => e.created));
  const lastDelivery = Math.max(...all.map((e) => receiver.delivered.get(e.id)!));
  const deliveredPerSecond = all.length / ((lastDelivery - firstEvent) / 1000);
  const cpu = {
    worker: round((cpuSecondsOf(sys.pid('worker')) ?? 0) - (cpuBefore.worker ?? 0)),
    temporal: round((cpuSecondsOf(sys.pid('temporal')) ?? 0) - (cpuBefore.temporal ?? 0)),
  };
  const { rows: batches } = await sys.pool.query<{ n: number }>(
    `SELECT count(DISTINCT d.workflow_id)::int AS n FROM webhook_deliveries d
       JOIN webhook_endpoints w ON w.id = d.endpoint_id WHERE w.merchant_id = $1`,
    [withHooks.id],
  );

  // ---------------------------------------------------------------- 2. waiting on retry timers
  const waiting = await newMerchantKey(sys, 'Waiting deliveries');
  const down = await createEndpoint(sys, waiting.key, failing.url);
  failing.secret = down.secret;
  await sleep(2_000);
  const before = { worker: memoryOf(sys.pid('worker')), temporal: memoryOf(sys.pid('temporal')) };
  say(`• ${W} events for an endpoint answering 500: two attempts each, then 5 minutes of waiting`);
  // Events as transitions write them (one per payin created), without W workflows of payins.
  await sys.pool.query(
    `INSERT INTO events (merchant_id, type, resource_type, resource_id, source, api_version, data)
     SELECT $1, 'payin.created', 'payin', 'pay_bench' || g, 'bench:' || $1 || ':' || g, '2026-12-01',
            jsonb_build_object('id', 'pay_bench' || g, 'object', 'payin', 'status', 'created', 'amount', 2500)
       FROM generate_series(1, $2) g`,
    [waiting.id, W],
  );
  const t0 = Date.now();
  await until('two failed attempts of every delivery', 15 * 60_000, async () => {
    const { rows } = await sys.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM webhook_deliveries WHERE endpoint_id = $1 AND attempts >= 2`,
      [down.id],
    );
    return rows[0]!.n === W;
  });
  const toWaiting = (Date.now() - t0) / 1000;
  const { rows: waitingBatches } = await sys.pool.query<{ workflow_id: string }>(
    'SELECT DISTINCT workflow_id FROM webhook_deliveries WHERE endpoint_id = $1',
    [down.id],
  );
  const workflowIds = waitingBatches.map((r) => r.workflow_id);
  const costBefore = await deliveryWorkflowCost(sys, workflowIds);
  const cpuWaitBefore = {
    worker: cpuSecondsOf(sys.pid('worker')),
    temporal: cpuSecondsOf(sys.pid('temporal')),
  };
  say(`• all ${W} waiting for their third attempt; measuring for ${WAIT} s`);
  await sleep(WAIT * 1000);
  const costAfter = await deliveryWorkflowCost(sys, workflowIds);
  const whileWaiting = { worker: memoryOf(sys.pid('worker')), temporal: memoryOf(sys.pid('temporal')) };
  const cpuWait = {
    worker: round((cpuSecondsOf(sys.pid('worker')) ?? 0) - (cpuWaitBefore.worker ?? 0)),
    temporal: round((cpuSecondsOf(sys.pid('temporal')) ?? 0) - (cpuWaitBefore.temporal ?? 0)),
  };

  const result = {
    during_payins: {
      payins: N,
      concurrency: C,
      events: all.length,
      delivered_per_second: round(deliveredPerSecond),
      lag_ms: {
        p50: round(percentile(lags, 50)),
        p99: round(percentile(lags, 99)),
        max: round(Math.max(...lags)),
      },
      delivery_workflows: batches[0]!.n,
      payins_completed_per_second: round(hooked.completedPerSecond),
      payins_completed_per_second_without_webhooks: round(plain.completedPerSecond),
      ratio_with_to_without: round(hooked.completedPerSecond / plain.completedPerSecond, 2),
      cpu_seconds: cpu,
      bad_signatures: receiver.badSignatures,
    },
    waiting_on_retry_timers: {
      deliveries: W,
      seconds_to_two_failed_attempts_each: round(toWaiting),
      delivery_workflows: workflowIds.length,
      workflow_tasks_in_all: costAfter.tasks,
      history_events_in_all: costAfter.events,
      workflow_tasks_while_waiting: costAfter.tasks - costBefore.tasks,
      cpu_seconds_while_waiting: cpuWait,
      memory_mb_before: { worker: before.worker?.currentMb, temporal: before.temporal?.currentMb },
      memory_mb_while_waiting: {
        worker: whileWaiting.worker?.currentMb,
        temporal: whileWaiting.temporal?.currentMb,
      },
      receiver_answers: failing.answers,
    },
  };
  if (values.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  const d = result.during_payins;
  const w = result.waiting_on_retry_timers;
  process.stdout.write(
    `\n${markdownTable([
      {
        payins: N,
        events: d.events,
        'delivered/s': d.delivered_per_second,
        'lag p50/p99 (ms)': `${d.lag_ms.p50} / ${d.lag_ms.p99}`,
        'payins/s with / without webhooks': `${d.payins_completed_per_second} / ${d.payins_completed_per_second_without_webhooks} (${d.ratio_with_to_without})`,
        'delivery workflows': d.delivery_workflows,
      },
    ])}\n\n${markdownTable([
      {
        'waiting deliveries': W,
        'workflows / tasks / history events': `${w.delivery_workflows} / ${w.workflow_tasks_in_all} / ${w.history_events_in_all}`,
        [`tasks while waiting ${WAIT} s`]: w.workflow_tasks_while_waiting,
        'CPU s while waiting (worker / Temporal)': `${w.cpu_seconds_while_waiting.worker} / ${w.cpu_seconds_while_waiting.temporal}`,
        'MB before → waiting (worker)': `${w.memory_mb_before.worker} → ${w.memory_mb_while_waiting.worker}`,
        'MB before → waiting (Temporal)': `${w.memory_mb_before.temporal} → ${w.memory_mb_while_waiting.temporal}`,
      },
    ])}\n`,
  );
  if (d.bad_signatures > 0 || w.workflow_tasks_while_waiting > 0) process.exitCode = 1;
} finally {
  await receiver.stop();
  await failing.stop();
  await sys.stop();
}
