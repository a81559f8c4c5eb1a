/**
 * What the benchmarks and the crash test share: the whole system started as separate processes
 * (PostgreSQL, Temporal dev server, sandbox, worker, API) on ports of their own, so that each
 * process's memory can be read and any of them killed; plus small measuring helpers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { DEV_TMONEY_NOTIFICATION_TOKEN } from '../lib/operator-settings/tmoney.js';
import { createMerchant, setMerchantRateLimit } from '../db/merchants.js';
import { migrateUp } from '../db/migrate.js';
import { createPool, type Pool } from '../db/pool.js';
import {
  DATA_DIR,
  ROOT,
  ensurePostgres,
  portAnswers,
  recreateDatabase,
  startTemporal,
  stopChild,
  waitFor,
  type PostgresHandle,
  type TemporalDevServer,
} from '../scripts/infra.js';
import { bundleWorkflows } from '../workers/bundle.js';

export type ServiceName = 'api' | 'worker' | 'sandbox';

export interface BenchSystemOptions {
  /** Names the run's directory under .data/bench and its Temporal SQLite file. */
  name: string;
  apiPort: number;
  sandboxPort: number;
  temporalPort: number;
  databaseUrl: string;
  /** Start a project-local PostgreSQL cluster here (so that it can be killed), instead of the server at databaseUrl. */
  postgresClusterDir?: string;
  /** Restart the worker or the API when it exits by itself, as a process supervisor would. */
  supervise?: boolean;
  /** Extra environment for the worker and the API, and for the sandbox. */
  env?: Record<string, string>;
  sandboxEnv?: Record<string, string>;
}

export interface BenchSystem {
  apiUrl: string;
  sandboxUrl: string;
  databaseUrl: string;
  temporalAddress: string;
  dir: string;
  pool: Pool;
  temporal: Client;
  merchant: { id: string; apiKey: string };
  postgres: PostgresHandle;
  temporalServer(): TemporalDevServer;
  pid(name: ServiceName | 'temporal'): number | undefined;
  /** Starts a service again (after a kill), and waits until it answers. */
  start(name: ServiceName): Promise<void>;
  kill(name: ServiceName, signal?: NodeJS.Signals): Promise<void>;
  /** Exits that nobody asked for (crashes), per service; restarted when supervised. */
  unexpectedExits: Record<ServiceName, number>;
  killTemporal(): Promise<void>;
  startTemporal(): Promise<void>;
  stop(): Promise<void>;
}

/** Peak (VmHWM) and current (VmRSS) resident memory of a process, in MiB, from /proc. */
export function memoryOf(pid: number | undefined): { peakMb: number; currentMb: number } | undefined {
  if (!pid) return undefined;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    return { peakMb: Math.round(kb('VmHWM') / 1024), currentMb: Math.round(kb('VmRSS') / 1024) };
  } catch {
    return undefined;
  }
}

/** CPU time (user + system) a process has used so far, in seconds, from /proc (clock ticks of 1/100 s). */
export function cpuSecondsOf(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** CPU time of every PostgreSQL server process on this machine (postmaster and backends), in seconds. */
export function postgresCpuSeconds(): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'postgres')
        total += cpuSecondsOf(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

/** The p-th percentile (0–100) of the values, nearest rank. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Runs `task(i)` for i in [0, n) with at most `concurrency` at a time. */
export async function runConcurrently(
  n: number,
  concurrency: number,
  task: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (next < n) await task(next++);
    }),
  );
}

export const round = (x: number, digits = 1) => Number(x.toFixed(digits));

/** A Markdown table from rows of the same shape. */
export function markdownTable(rows: Record<string, string | number | boolean>[]): string {
  if (rows.length === 0) return '';
  const keys = Object.keys(rows[0]!);
  return [
    `| ${keys.join(' | ')} |`,
    `|${keys.map(() => '---:').join('|')}|`,
    ...rows.map((r) => `| ${keys.map((k) => String(r[k])).join(' | ')} |`),
  ].join('\n');
}

/**
 * `BENCH_PROFILE=worker,api` writes a V8 CPU profile of those services (`<run dir>/profiles`,
 * open it in Chrome DevTools or speedscope) when they stop.
 */
function profileFlags(name: ServiceName, dir: string): string[] {
  const wanted = (process.env.BENCH_PROFILE ?? '').split(',').map((s) => s.trim());
  return wanted.includes(name) ? ['--cpu-prof', `--cpu-prof-dir=${path.join(dir, 'profiles')}`] : [];
}

function spawnService(
  entry: string,
  env: NodeJS.ProcessEnv,
  logFile: string,
  nodeFlags: string[] = [],
): ChildProcess {
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', entry], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  return child;
}

export async function startBenchSystem(opts: BenchSystemOptions): Promise<BenchSystem> {
  const dir = path.join(DATA_DIR, 'bench', opts.name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const host = '127.0.0.1';
  const temporalAddress = `${host}:${opts.temporalPort}`;
  for (const [what, port] of [
    ['API', opts.apiPort],
    ['sandbox', opts.sandboxPort],
    ['Temporal', opts.temporalPort],
  ] as const) {
    if (await portAnswers(host, port))
      throw new Error(`port ${port} (${what}) is taken: stop what listens there, or choose other ports`);
  }

  const postgres = await ensurePostgres(opts.databaseUrl, { clusterDir: opts.postgresClusterDir });
  if (opts.postgresClusterDir && !postgres.startedLocally)
    throw new Error(`a server already answers at ${opts.databaseUrl}: the crash test needs its own cluster`);
  await recreateDatabase(opts.databaseUrl);
  await migrateUp(opts.databaseUrl);

  const temporalDb = path.join(dir, 'temporal.sqlite');
  let temporalServer = await startTemporal({
    address: temporalAddress,
    dbFile: temporalDb,
    logFile: path.join(dir, 'temporal.log'),
  });
  const bundlePath = await bundleWorkflows(path.join(dir, 'workflow-bundle.js'));

  const apiUrl = `http://${host}:${opts.apiPort}`;
  const sandboxUrl = `http://${host}:${opts.sandboxPort}`;
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    HOST: host,
    PORT: String(opts.apiPort),
    SANDBOX_PORT: String(opts.sandboxPort),
    DATABASE_URL: opts.databaseUrl,
    TEMPORAL_ADDRESS: temporalAddress,
    WORKFLOW_BUNDLE_PATH: bundlePath,
    SCHEDULES_ENABLED: 'false',
    ADMIN_API_KEY: 'bench-operations-key-0123456789',
    // Production fails closed without them: the sandbox notifies from this machine, with this token.
    TMONEY_CALLBACK_ALLOWED_IPS: '127.0.0.1,::1',
    TMONEY_NOTIFICATION_TOKEN: DEV_TMONEY_NOTIFICATION_TOKEN,
    // Every simulated operator calls back from this one address: no per-address limit here.
    CALLBACK_RATE_LIMIT_PER_MINUTE: '100000000',
    SANDBOX_CALLBACK_BASE_URL: apiUrl,
    ...opts.env,
  };
  const entries: Record<ServiceName, string> = {
    sandbox: 'sandbox/server.ts',
    worker: 'workers/main.ts',
    api: 'api/server.ts',
  };
  const children: Partial<Record<ServiceName, ChildProcess>> = {};
  const ready: Record<ServiceName, () => Promise<boolean>> = {
    sandbox: () => portAnswers(host, opts.sandboxPort),
    api: async () => (await fetch(`${apiUrl}/healthz`).catch(() => undefined))?.ok === true,
    // The worker is ready when it polls its task queue (a poll newer than its start).
    worker: async () => {
      const res = await temporal.workflowService
        .describeTaskQueue({
          namespace: 'default',
          taskQueue: { name: env.TEMPORAL_TASK_QUEUE ?? 'passerelle-payments' },
          taskQueueType: proto.temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        })
        .catch(() => undefined);
      return (res?.pollers ?? []).some(
        (p) => Number(p.lastAccessTime?.seconds ?? 0) * 1000 >= startedAt[`worker`] - 1000,
      );
    },
  };
  const startedAt: Record<ServiceName, number> = { api: 0, worker: 0, sandbox: 0 };
  const unexpectedExits: Record<ServiceName, number> = { api: 0, worker: 0, sandbox: 0 };
  const expectedExit = new Set<ChildProcess>();
  let stopping = false;
  const start = async (name: ServiceName): Promise<void> => {
    startedAt[name] = Date.now();
    const child = spawnService(
      entries[name],
      name === 'sandbox' ? { ...env, ...opts.sandboxEnv } : env,
      path.join(dir, `${name}.log`),
      profileFlags(name, dir),
    );
    children[name] = child;
    child.once('exit', () => {
      if (stopping || expectedExit.has(child)) return;
      unexpectedExits[name]++;
      if (opts.supervise && name !== 'sandbox')
        setTimeout(() => void start(name).catch(() => undefined), 1_000);
    });
    await waitFor(name, ready[name], 60_000, child);
  };
  const connection = await Connection.connect({ address: temporalAddress });
  const temporal = new Client({ connection });
  await start('sandbox');
  await start('worker');
  await start('api');

  const pool = createPool(opts.databaseUrl, 8);
  const created = await createMerchant(pool, `bench ${opts.name}`);
  // A test-mode key (createMerchant's): the benchmarks' webhook receivers listen on 127.0.0.1,
  // refused to live keys. The benchmarks measure the engine, not the per-key rate limit.
  await setMerchantRateLimit(pool, created.merchant.id, 100_000);
  const testKey = { apiKey: created.apiKey };

  return {
    apiUrl,
    sandboxUrl,
    databaseUrl: opts.databaseUrl,
    temporalAddress,
    dir,
    pool,
    temporal,
    merchant: { id: created.merchant.id, apiKey: testKey.apiKey },
    postgres,
    temporalServer: () => temporalServer,
    pid: (name) => (name === 'temporal' ? temporalServer.child?.pid : children[name]?.pid),
    start,
    kill: async (name, signal = 'SIGKILL') => {
      const child = children[name];
      if (!child) return;
      expectedExit.add(child);
      await stopChild(child, signal, 10_000);
    },
    unexpectedExits,
    killTemporal: async () => {
      if (temporalServer.child) await stopChild(temporalServer.child, 'SIGKILL', 5_000);
    },
    startTemporal: async () => {
      temporalServer = await startTemporal({
        address: temporalAddress,
        dbFile: temporalDb,
        logFile: path.join(dir, 'temporal.log'),
      });
    },
    stop: async () => {
      stopping = true;
      for (const name of ['api', 'worker', 'sandbox'] as const) {
        const child = children[name];
        if (child) await stopChild(child, 'SIGTERM', 15_000);
      }
      await connection.close().catch(() => undefined);
      await pool.end().catch(() => undefined);
      await temporalServer.stop();
      if (opts.postgresClusterDir) await postgres.stop();
    },
  };
}
