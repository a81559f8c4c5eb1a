/**
 * What the benchmarks and the crash test share: the whole system started as separate processes
 * (PostgreSQL, Temporal dev server, sandbox, worker, API) on ports of their own, so that each
 * process's memory can be read and any of them killed; plus small measuring helpers.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
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
import { temporalDataConverter } from '../lib/payload-codec.js';
import { bundleWorkflows } from '../workers/bundle.js';
import { WORKER_V8_FLAGS } from '../workers/heap.js';

export type ServiceName = 'api' | 'worker' | 'sandbox';
/**
 * One process of a service: `api`, `worker` and `sandbox` name the first; `api#2`, `worker#2`…
 * the others when the system runs several (`apis`, `workers`).
 */
export type ServiceInstance = ServiceName | `${'api' | 'worker'}#${number}`;

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
  /** Extra environment for the workers only. */
  workerEnv?: Record<string, string>;
  /**
   * How many worker and API processes (1 each unless said). With several APIs, `apiUrl` is a
   * round-robin TCP balancer of this process in front of them (as a load balancer is in
   * production): merchants' calls and the sandbox's callbacks reach every API through it.
   */
  workers?: number;
  apis?: number;
  /** Worker n serves its Prometheus metrics on this port + n - 1 (`workerMetricsUrls`); none when unset. */
  workerMetricsPort?: number;
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
  /** The processes of the system's own services, e.g. ['sandbox', 'worker', 'worker#2', 'api', 'api#2']. */
  instances: ServiceInstance[];
  /** Each worker's metrics (workerMetricsPort), in the order of `instances`. */
  workerMetricsUrls: string[];
  pid(name: ServiceInstance | 'temporal'): number | undefined;
  /** Starts a service again (after a kill), and waits until it answers. */
  start(name: ServiceInstance): Promise<void>;
  kill(name: ServiceInstance, signal?: NodeJS.Signals): Promise<void>;
  /** Exits that nobody asked for (crashes), per process; restarted when supervised. */
  unexpectedExits: Partial<Record<ServiceInstance, number>>;
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

/**
 * CPU time of every PostgreSQL server process on this machine, in seconds: the live ones' own,
 * plus what the backends that ended meanwhile used (the postmaster's reaped children), so that
 * the figure only grows while connections come and go.
 */
export function postgresCpuSeconds(): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'postgres')
        total += cpuSecondsOf(Number(entry)) + reapedChildrenCpuSecondsOf(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

/** CPU time of a process's children that ended and were waited for (cutime + cstime), in seconds. */
function reapedChildrenCpuSecondsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    return 0;
  }
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

/**
 * Services run as production runs them: the built code in dist/ with plain node (`npm run build`
 * at the start of every benchmark), or the TypeScript sources through tsx with BENCH_FROM_SOURCE=1.
 */
const FROM_SOURCE = process.env.BENCH_FROM_SOURCE === '1';

function buildOnce(): void {
  if (FROM_SOURCE || built) return;
  const result = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs')], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (result.status !== 0) throw new Error('npm run build failed');
  built = true;
}
let built = false;

function spawnService(
  entry: string,
  env: NodeJS.ProcessEnv,
  logFile: string,
  nodeFlags: readonly string[] = [],
): ChildProcess {
  const log = createWriteStream(logFile, { flags: 'a' });
  const command = FROM_SOURCE
    ? [...nodeFlags, '--import', 'tsx', entry]
    : [...nodeFlags, path.join('dist', entry.replace(/\.ts$/, '.js'))];
  const child = spawn(process.execPath, command, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  return child;
}

/**
 * The keys the benchmark's production-mode processes run with (the development defaults are
 * refused in production): the card vault's and the card switch's MAC. A client of the benchmark
 * that touches the vault uses the same.
 */
export const BENCH_KEYS = {
  CARD_VAULT_KEYS: `bench:${Buffer.from('passerelle-bench-card-vault-key!').toString('base64')}`,
  CARD_VAULT_FINGERPRINT_KEY: Buffer.from('passerelle-bench-fingerprint-key').toString('base64'),
  GIM_MAC_KEY: '0F1E2D3C4B5A69788796A5B4C3D2E1F0',
  TEMPORAL_PAYLOAD_KEYS: `bench:${Buffer.from('passerelle-bench-payload-codec!!').toString('base64')}`,
  OPERATIONS_CODEC_KEY: 'passerelle-bench-operations-codec-key',
} as const;

export async function startBenchSystem(opts: BenchSystemOptions): Promise<BenchSystem> {
  const dir = path.join(DATA_DIR, 'bench', opts.name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const host = '127.0.0.1';
  const temporalAddress = `${host}:${opts.temporalPort}`;
  const apiCount = opts.apis ?? 1;
  const workerCount = opts.workers ?? 1;
  // API n listens on apiPort + n - 1; with several, the balancer takes apiPort + apiCount.
  const apiPorts = Array.from({ length: apiCount }, (_, i) => opts.apiPort + i);
  const balancerPort = apiCount > 1 ? opts.apiPort + apiCount : undefined;
  for (const [what, port] of [
    ...apiPorts.map((p) => ['API', p] as const),
    ...(balancerPort ? [['API balancer', balancerPort] as const] : []),
    ['sandbox', opts.sandboxPort],
    ['Temporal', opts.temporalPort],
  ] as const) {
    if (await portAnswers(host, port))
      throw new Error(`port ${port} (${what}) is taken: stop what listens there, or choose other ports`);
  }
  buildOnce();

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
  const bundlePath = FROM_SOURCE
    ? await bundleWorkflows(path.join(dir, 'workflow-bundle.js'))
    : path.join(ROOT, 'dist', 'workflow-bundle.js');

  const balancer = balancerPort
    ? await startBalancer(
        host,
        balancerPort,
        apiPorts.map((port) => ({ host, port })),
      )
    : undefined;
  const apiUrl = `http://${host}:${balancerPort ?? opts.apiPort}`;
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
    // Production refuses the development keys of the card vault and the card switch's MAC.
    ...BENCH_KEYS,
    SANDBOX_GIM_MAC_KEY: BENCH_KEYS.GIM_MAC_KEY,
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
  const kindOf = (name: ServiceInstance): ServiceName => name.split('#')[0] as ServiceName;
  const numberOf = (name: ServiceInstance): number => Number(name.split('#')[1] ?? 1);
  const instances: ServiceInstance[] = [
    'sandbox',
    ...Array.from({ length: workerCount }, (_, i): ServiceInstance => (i ? `worker#${i + 1}` : 'worker')),
    ...Array.from({ length: apiCount }, (_, i): ServiceInstance => (i ? `api#${i + 1}` : 'api')),
  ];
  /** Each process's own settings: its API port; a worker's metrics port (none for the others). */
  const envOf = (name: ServiceInstance): Record<string, string> => {
    const kind = kindOf(name);
    if (kind === 'sandbox') return { ...env, ...opts.sandboxEnv };
    if (kind === 'api') return { ...env, PORT: String(apiPorts[numberOf(name) - 1]) };
    return {
      ...env,
      ...opts.workerEnv,
      ...(opts.workerMetricsPort
        ? { WORKER_METRICS_ADDRESS: `${host}:${opts.workerMetricsPort + numberOf(name) - 1}` }
        : {}),
    };
  };
  const children: Partial<Record<ServiceInstance, ChildProcess>> = {};
  const ready = async (name: ServiceInstance): Promise<boolean> => {
    const kind = kindOf(name);
    if (kind === 'sandbox') return portAnswers(host, opts.sandboxPort);
    if (kind === 'api') {
      const url = `http://${host}:${apiPorts[numberOf(name) - 1]}/healthz`;
      return (await fetch(url).catch(() => undefined))?.ok === true;
    }
    // A worker is ready when this very process polls the workflow task queue (its identity is pid@host).
    const pid = children[name]?.pid;
    const res = await temporal.workflowService
      .describeTaskQueue({
        namespace: 'default',
        taskQueue: { name: env.TEMPORAL_TASK_QUEUE ?? 'passerelle-payments' },
        taskQueueType: proto.temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
      })
      .catch(() => undefined);
    return (res?.pollers ?? []).some((p) => pid !== undefined && (p.identity ?? '').startsWith(`${pid}@`));
  };
  const unexpectedExits: Partial<Record<ServiceInstance, number>> = {};
  const expectedExit = new Set<ChildProcess>();
  let stopping = false;
  const start = async (name: ServiceInstance): Promise<void> => {
    const ownHeapOptions = opts.workerEnv?.NODE_OPTIONS !== undefined;
    const logFile = path.join(dir, `${name.replace('#', '-')}.log`);
    const child = spawnService(entries[kindOf(name)], envOf(name), logFile, [
      ...profileFlags(kindOf(name), dir),
      // A worker as production starts it, unless the benchmark compares other heap settings.
      ...(kindOf(name) === 'worker' && !ownHeapOptions ? WORKER_V8_FLAGS : []),
    ]);
    children[name] = child;
    child.once('exit', () => {
      if (stopping || expectedExit.has(child)) return;
      unexpectedExits[name] = (unexpectedExits[name] ?? 0) + 1;
      if (opts.supervise && name !== 'sandbox')
        setTimeout(() => void start(name).catch(() => undefined), 1_000);
    });
    await waitFor(name, () => ready(name), 60_000, child).catch((err: unknown) => {
      throw new Error(`${err instanceof Error ? err.message : String(err)} (its log: ${logFile})`);
    });
  };
  const connection = await Connection.connect({ address: temporalAddress });
  const temporal = new Client({ connection, dataConverter: temporalDataConverter(BENCH_KEYS) });
  // Connects on first use, after the services are up.
  const pool = createPool(opts.databaseUrl, 8);
  const stopAll = async () => {
    stopping = true;
    for (const name of [...instances].reverse()) {
      const child = children[name];
      if (child) await stopChild(child, 'SIGTERM', 15_000);
    }
    await balancer?.close();
    await connection.close().catch(() => undefined);
    await pool.end().catch(() => undefined);
    await temporalServer.stop();
    if (opts.postgresClusterDir) await postgres.stop();
  };
  try {
    for (const name of instances) await start(name);
  } catch (err) {
    // A service that refuses to start (a setting out of range, say) must not leave the others
    // holding their ports for the next run.
    await stopAll();
    throw err;
  }

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
    instances,
    workerMetricsUrls: opts.workerMetricsPort
      ? Array.from({ length: workerCount }, (_, i) => `http://${host}:${opts.workerMetricsPort! + i}/metrics`)
      : [],
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
    stop: stopAll,
  };
}

/**
 * A round-robin TCP balancer in front of several API processes (what a load balancer does in
 * production): each connection goes to the next API, or past one that refuses it (killed).
 */
async function startBalancer(
  host: string,
  port: number,
  backends: { host: string; port: number }[],
): Promise<{ close(): Promise<void> }> {
  let next = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.once('close', () => sockets.delete(client));
    client.pause();
    // From the next backend in turn, then each following one until one accepts.
    const tryBackend = (index: number, left: number) => {
      const target = backends[index % backends.length]!;
      const upstream = net.connect(target.port, target.host);
      let connected = false;
      upstream.once('connect', () => {
        connected = true;
        sockets.add(upstream);
        upstream.once('close', () => sockets.delete(upstream));
        client.pipe(upstream).pipe(client);
        client.resume();
        const end = () => {
          client.destroy();
          upstream.destroy();
        };
        client.once('error', end);
        upstream.once('error', end);
      });
      upstream.once('error', () => {
        if (!connected && left > 1) tryBackend(index + 1, left - 1);
        else client.destroy();
      });
    };
    tryBackend(next++, backends.length);
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return {
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
