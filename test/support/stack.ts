import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { createOperatorRules } from '../../operators/registry.js';
import { createApp, eventStreamOf } from '../../api/app.js';
import { createMerchant } from '../../db/merchants.js';
import { createPool, type Pool } from '../../db/pool.js';
import { loadConfig, type Config } from '../../lib/config.js';
import { createLogger } from '../../lib/logger.js';
import { temporalDataConverter } from '../../lib/payload-codec.js';
import { createSandbox, type Sandbox } from '../../sandbox/app.js';
import { loadSandboxConfig } from '../../sandbox/config.js';
import { createPaymentsWorker, type PaymentsWorker } from '../../workers/payments-worker.js';

/**
 * A whole Passerelle for one test file: the sandbox and the API in this process on free ports,
 * a worker on a task queue of its own, against the Temporal server and the database that
 * scripts/test.ts started. Nothing is mocked.
 */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface TestStack {
  config: Config;
  /** Environment that reproduces `config` for a child process (worker kill tests). */
  env: Record<string, string>;
  apiUrl: string;
  sandboxUrl: string;
  sandbox: Sandbox;
  pool: Pool;
  temporal: Client;
  worker?: PaymentsWorker;
  merchant: { id: string; apiKey: string };
  stop(): Promise<void>;
}

/** A TCP port nobody listens on now (for a process the test starts). */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = http.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests with \`npm test\``);
  return value;
}

export interface StackOptions {
  /** Passerelle's environment, over the test defaults. */
  env?: Record<string, string>;
  /** The sandbox's environment, over the test defaults. */
  sandboxEnv?: Record<string, string>;
  /** Whether a worker runs in this process (default true). */
  worker?: boolean;
  /**
   * The merchant's key is a live one: for tests of the operators' live settings (credentials,
   * allow-lists), which test mode ignores (it always uses the sandbox's).
   */
  liveKey?: boolean;
  /** Every log line of the API, the worker and the sandbox (debug and up) goes here too. */
  logs?: { write(line: string): void };
}

export async function startStack(opts: StackOptions = {}): Promise<TestStack> {
  const logger = opts.logs
    ? createLogger({ level: 'debug', name: 'test', destination: opts.logs })
    : createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent', name: 'test' });
  const sandboxServer = http.createServer();
  const sandboxPort = await listen(sandboxServer);
  const sandboxUrl = `http://127.0.0.1:${sandboxPort}`;
  const apiServer = http.createServer();
  const apiPort = await listen(apiServer);
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const sandbox = createSandbox(
    loadSandboxConfig({
      SANDBOX_PORT: String(sandboxPort),
      SANDBOX_APPROVAL_DELAY_MS: '300',
      SANDBOX_PROCESSING_DELAY_MS: '100',
      SANDBOX_SLOW_MS: '1500',
      SANDBOX_LATE_CALLBACK_MS: '6000',
      // Operators whose notification URL is set in their back office call back this API.
      SANDBOX_CALLBACK_BASE_URL: apiUrl,
      ...opts.sandboxEnv,
    }),
    logger,
  );
  sandboxServer.on('request', sandbox.app);

  const env: Record<string, string> = {
    DATABASE_URL: required('DATABASE_URL'),
    TEMPORAL_ADDRESS: required('TEMPORAL_ADDRESS'),
    WORKFLOW_BUNDLE_PATH: required('WORKFLOW_BUNDLE_PATH'),
    TEMPORAL_TASK_QUEUE: `test-${path.basename(process.env.VITEST_TEST_FILE ?? 'x')}-${process.pid}-${Date.now()}`,
    PORT: String(apiPort),
    SANDBOX_PORT: String(sandboxPort),
    PUBLIC_BASE_URL: apiUrl,
    // Every operator's endpoints default to the sandbox (lib/operators.ts).
    SANDBOX_URL: sandboxUrl,
    // Scenarios that make an operator fail on purpose must not open its circuit for the other
    // tests: the tests about route health set these themselves.
    CIRCUIT_FAILURE_THRESHOLD: '1000',
    // Each test file's worker would otherwise schedule sweeps on the shared server.
    SCHEDULES_ENABLED: 'false',
    // One publisher for the whole suite (the webhook tests'): another file's publisher would start
    // delivery workflows on its own task queue, and stop serving them when its file ends.
    EVENT_PUBLISHER_ENABLED: 'false',
    ADMIN_API_KEY: TEST_ADMIN_KEY,
    CIRCUIT_COOLDOWN_SECONDS: '2',
    TMONEY_POLL_INITIAL_SECONDS: '1',
    TMONEY_POLL_MAX_SECONDS: '2',
    PAYGATE_POLL_INITIAL_SECONDS: '1',
    PAYGATE_POLL_MAX_SECONDS: '2',
    TMONEY_HTTP_TIMEOUT_MS: '5000',
    PAYGATE_HTTP_TIMEOUT_MS: '5000',
    LIGDICASH_PAYIN_DEADLINE_SECONDS: '20',
    LIGDICASH_POLL_INITIAL_SECONDS: '1',
    LIGDICASH_POLL_MAX_SECONDS: '2',
    LIGDICASH_HTTP_TIMEOUT_MS: '5000',
    ORANGE_POLL_INITIAL_SECONDS: '1',
    ORANGE_POLL_MAX_SECONDS: '2',
    ORANGE_HTTP_TIMEOUT_MS: '5000',
    MTN_POLL_INITIAL_SECONDS: '1',
    MTN_POLL_MAX_SECONDS: '2',
    MTN_HTTP_TIMEOUT_MS: '5000',
    INITIATION_WAIT_SECONDS: '20',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    DATABASE_POOL_SIZE: '5',
    // The tests that fire many requests at once are not about the rate limit (its own test sets one).
    RATE_LIMIT_REQUESTS: '1000000',
    // Every answer of every test is checked against the OpenAPI document.
    CHECK_RESPONSES: 'true',
    ...opts.env,
  };
  const config = loadConfig(env);
  const pool = createPool(config.DATABASE_URL, 5);
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  const temporal = new Client({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    dataConverter: temporalDataConverter(config),
  });
  const app = createApp({ config, pool, temporal, operators: createOperatorRules(config), logger });
  apiServer.on('request', app);
  eventStreamOf(app).attach(apiServer);

  const worker = opts.worker === false ? undefined : await createPaymentsWorker(config, logger);
  const created = await createMerchant(pool, `Test merchant ${Date.now()}`, { live: opts.liveKey });

  const close = (server: http.Server) =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return {
    config,
    env,
    apiUrl,
    sandboxUrl,
    sandbox,
    pool,
    temporal,
    worker,
    merchant: { id: created.merchant.id, apiKey: opts.liveKey ? created.liveApiKey! : created.apiKey },
    stop: async () => {
      await worker?.shutdown();
      await eventStreamOf(app).close();
      await Promise.all([close(apiServer), close(sandboxServer)]);
      await connection.close();
      await pool.end();
    },
  };
}

/**
 * Starts the real worker entry point as a child process and waits until it polls its workflow
 * and activity task queues (a poller seen after its start): a test that creates a payment right
 * after must not depend on how long a worker takes to start on a busy machine.
 */
export async function spawnPollingWorker(
  stack: Pick<TestStack, 'env' | 'temporal' | 'config'>,
): Promise<ChildProcess> {
  const since = Date.now();
  const child = spawnWorker(stack.env);
  const service = stack.temporal.connection.workflowService;
  const polledSince = async (taskQueueType: 1 | 2) => {
    const { pollers } = await service.describeTaskQueue({
      namespace: stack.config.TEMPORAL_NAMESPACE,
      taskQueue: { name: stack.config.TEMPORAL_TASK_QUEUE, kind: 1 },
      taskQueueType,
    });
    return (pollers ?? []).some((p) => {
      const at = p.lastAccessTime;
      return at ? Number(at.seconds) * 1000 + Math.floor((at.nanos ?? 0) / 1e6) >= since : false;
    });
  };
  await eventually(
    'the spawned worker polling its queues',
    async () => ((await polledSince(1)) && (await polledSince(2)) ? true : undefined),
    60_000,
  );
  return child;
}

/** Starts the real worker entry point as a child process (for kill -9 tests). */
export function spawnWorker(env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'workers', 'main.ts')], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

export interface ApiAnswer<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

export async function api<T = Record<string, unknown>>(
  stack: Pick<TestStack, 'apiUrl'>,
  method: string,
  pathname: string,
  opts: {
    key?: string | null;
    body?: unknown;
    rawBody?: string;
    headers?: Record<string, string>;
    /** Send no Idempotency-Key (a POST gets a fresh one otherwise, as a careful client sends). */
    noIdempotencyKey?: boolean;
  } = {},
): Promise<ApiAnswer<T>> {
  const headers: Record<string, string> = { ...opts.headers };
  const hasKey = Object.keys(headers).some((h) => h.toLowerCase() === 'idempotency-key');
  if (method === 'POST' && !hasKey && !opts.noIdempotencyKey && pathname.startsWith('/v1/')) {
    headers['Idempotency-Key'] = `test-${randomUUID()}`;
  }
  if (opts.key) headers.Authorization = `Bearer ${opts.key}`;
  if (opts.body !== undefined || opts.rawBody !== undefined) headers['Content-Type'] ??= 'application/json';
  const res = await fetch(`${stack.apiUrl}${pathname}`, {
    method,
    headers,
    body: opts.rawBody ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, headers: res.headers, body: body as T };
}

export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 30_000,
  intervalMs = 200,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < until) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
}

export type PayinBody = {
  id: string;
  status: string;
  next_action: { type: string; url?: string; message?: string } | null;
  failure: { code: string; message: string } | null;
  operator_reference: string | null;
  [key: string]: unknown;
};

/** Waits until the payin reaches one of the given statuses, through the API. */
export async function payinReaches(
  stack: TestStack,
  id: string,
  statuses: string[],
  timeoutMs = 30_000,
): Promise<PayinBody> {
  return eventually(
    `payin ${id} to reach ${statuses.join('|')}`,
    async () => {
      const res = await api<PayinBody>(stack, 'GET', `/v1/payins/${id}`, { key: stack.merchant.apiKey });
      return statuses.includes(res.body.status) ? res.body : undefined;
    },
    timeoutMs,
  );
}

/** The operations key the test stacks accept (ADMIN_API_KEY). */
export const TEST_ADMIN_KEY = 'test-admin-key-0123456789';

/**
 * Starts a reconciliation run through the API (as operations staff would) and waits until it is
 * no longer running; answers the run with its discrepancies.
 */
export async function reconciliationRun<T extends { status: string } = { id: string; status: string }>(
  stack: Pick<TestStack, 'apiUrl'>,
  body: Record<string, unknown>,
): Promise<T> {
  const started = await api<{ id: string }>(stack, 'POST', '/v1/reconciliation/runs', {
    key: TEST_ADMIN_KEY,
    body,
  });
  if (started.status !== 202) throw new Error(`reconciliation run refused: ${started.status}`);
  return eventually(`run ${started.body.id}`, async () => {
    const r = await api<T>(stack, 'GET', `/v1/reconciliation/runs/${started.body.id}`, {
      key: TEST_ADMIN_KEY,
    });
    return r.status === 200 && r.body.status !== 'running' ? r.body : undefined;
  });
}

export async function workflowResult(stack: TestStack, paymentId: string): Promise<unknown> {
  return stack.temporal.workflow.getHandle(`payin-${paymentId}`).result();
}

/** Drives a pending LigdiCash invoice through the sandbox's control endpoint (pay, cancel, complete, decline). */
export async function ligdicashControl(
  stack: TestStack,
  token: string,
  action: 'pay' | 'cancel' | 'complete' | 'decline',
  payerPhone?: string,
) {
  const res = await fetch(
    `${stack.sandboxUrl}/ligdicash/_sandbox/invoices/${encodeURIComponent(token)}/${action}`,
    {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(payerPhone ? { phone: payerPhone } : {}),
    },
  );
  if (!res.ok) throw new Error(`sandbox control ${action} answered ${res.status}`);
  return res.json() as Promise<Record<string, unknown>>;
}

/** An activity a workflow ran: on a task queue, or as a local activity (recorded as a marker). */
export interface ActivityRun {
  name: string;
  local: boolean;
  /** The task queue it was scheduled on (none for a local activity: it ran in the workflow's worker). */
  taskQueue?: string;
  /** The worker that ran it: for a local activity, the one that completed its workflow task. */
  worker?: string;
}

/** The activities of a workflow history, in the order they were scheduled or recorded. */
export function activitiesIn(events: temporal.api.history.v1.IHistoryEvent[]): ActivityRun[] {
  const runs: ActivityRun[] = [];
  let worker = '';
  for (const e of events) {
    if (e.workflowTaskCompletedEventAttributes)
      worker = e.workflowTaskCompletedEventAttributes.identity ?? '';
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled) {
      runs.push({
        name: scheduled.activityType?.name ?? '',
        local: false,
        taskQueue: scheduled.taskQueue?.name ?? '',
      });
    }
    const marker = e.markerRecordedEventAttributes;
    if (marker?.markerName === 'core_local_activity') {
      // The SDK's marker data: plain JSON with the activity's type (never encrypted: no payment data).
      const data = marker.details?.data?.payloads?.[0]?.data;
      const info = data ? (JSON.parse(Buffer.from(data).toString('utf8')) as { activity_type?: string }) : {};
      runs.push({ name: info.activity_type ?? '', local: true, worker });
    }
  }
  return runs;
}

/**
 * With RECORD_HISTORIES=1, saves a finished payin's workflow history as a replay fixture
 * (test/fixtures/histories/<name>.json), which test/replay.test.ts runs through the current code;
 * an existing fixture is kept unless RECORD_HISTORIES=overwrite.
 */
export async function recordHistory(
  stack: TestStack,
  paymentId: string,
  name: string,
  /** `workflow`: `paymentId` is the workflow id itself (a reconciliation run). */
  kind: 'payin' | 'payout' | 'refund' | 'transfer' | 'workflow' = 'payin',
): Promise<void> {
  if (!process.env.RECORD_HISTORIES) return;
  // The CLI writes the proto3 JSON that the replayer reads (as the Temporal UI's export does).
  const { execFileSync } = await import('node:child_process');
  const { existsSync, writeFileSync } = await import('node:fs');
  const file = path.join(ROOT, 'test', 'fixtures', 'histories', `${name}.json`);
  // A recorded history is the proof that payments of that shape keep running: never replaced by
  // accident (RECORD_HISTORIES=overwrite does it on purpose).
  if (existsSync(file) && process.env.RECORD_HISTORIES !== 'overwrite') return;
  // A run may still be starting its children when its summary is written: record it closed.
  if (kind === 'workflow') await stack.temporal.workflow.getHandle(paymentId).result();
  const json = execFileSync(process.env.TEMPORAL_CLI_PATH ?? 'temporal', [
    'workflow',
    'show',
    '--workflow-id',
    kind === 'workflow' ? paymentId : `${kind}-${paymentId}`,
    '--address',
    stack.config.TEMPORAL_ADDRESS,
    '--output',
    'json',
  ]);
  writeFileSync(file, json);
}
