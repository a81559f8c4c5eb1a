import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync, createWriteStream } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { searchAttributeFlags } from '../workers/search-attributes.js';

/** Local infrastructure for `npm start` and `npm test`: Temporal dev server, PostgreSQL, child processes. */

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const DATA_DIR = path.join(ROOT, '.data');

export function say(message: string): void {
  process.stdout.write(`${message}\n`);
}

export function portAnswers(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  child?: ChildProcess,
) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return;
    if (child && child.exitCode !== null) throw new Error(`${what} exited with code ${child.exitCode}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} did not come up within ${timeoutMs / 1000} s`);
}

export function splitAddress(address: string): { host: string; port: number } {
  const [host = '127.0.0.1', port = '7233'] = address.split(':');
  return { host, port: Number(port) };
}

export interface TemporalDevServer {
  child?: ChildProcess;
  address: string;
  uiUrl?: string;
  stop(): Promise<void>;
}

/**
 * Starts `temporal server start-dev` (SQLite file when given, in memory otherwise) with our search
 * attributes, unless a server already answers at the address, which is then used as it is.
 */
export async function startTemporal(opts: {
  address: string;
  uiPort?: number;
  /** The codec server the UI asks to decode payloads (an operations person's codec proxy). */
  uiCodecEndpoint?: string;
  dbFile?: string;
  logFile: string;
}): Promise<TemporalDevServer> {
  const { host, port } = splitAddress(opts.address);
  if (await portAnswers(host, port)) {
    return { address: opts.address, stop: () => Promise.resolve() };
  }
  const cli = process.env.TEMPORAL_CLI_PATH || 'temporal';
  const args = [
    'server',
    'start-dev',
    '--ip',
    host,
    '--port',
    String(port),
    '--log-level',
    'warn',
    '--sqlite-pragma',
    'journal_mode=WAL',
    '--sqlite-pragma',
    'synchronous=OFF',
    ...searchAttributeFlags(),
  ];
  if (opts.dbFile) args.push('--db-filename', opts.dbFile);
  if (opts.uiPort) args.push('--ui-port', String(opts.uiPort));
  else args.push('--headless');
  if (opts.uiPort && opts.uiCodecEndpoint) args.push('--ui-codec-endpoint', opts.uiCodecEndpoint);
  mkdirSync(path.dirname(opts.logFile), { recursive: true });
  const log = createWriteStream(opts.logFile, { flags: 'a' });
  const child = spawn(cli, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: false });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  await waitFor(
    `Temporal dev server (log: ${path.relative(ROOT, opts.logFile)})`,
    () => portAnswers(host, port),
    60_000,
    child,
  );
  return {
    child,
    address: opts.address,
    uiUrl: opts.uiPort ? `http://${host}:${opts.uiPort}` : undefined,
    stop: () => stopChild(child, 'SIGTERM', 10_000),
  };
}

export function stopChild(
  child: ChildProcess,
  signal: NodeJS.Signals = 'SIGTERM',
  graceMs = 10_000,
): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}

// ---------------------------------------------------------------- PostgreSQL

export interface PostgresHandle {
  databaseUrl: string;
  startedLocally: boolean;
  stop(): Promise<void>;
  /** Local cluster only: start it again (after a crash), and the postmaster's pid. */
  start?(): Promise<void>;
  postmasterPid?(): number | undefined;
}

async function serverAnswers(databaseUrl: string): Promise<boolean> {
  const admin = new URL(databaseUrl);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString(), connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function findPgBin(name: string): string | undefined {
  const fromPath = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).stdout.trim();
  if (fromPath) return fromPath;
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const candidate = path.join(base, v, 'bin', name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Uses the PostgreSQL server at `databaseUrl`; when none answers and the URL points at this machine,
 * starts a project-local cluster under .data/postgres with the installed initdb/pg_ctl.
 */
export async function ensurePostgres(
  databaseUrl: string,
  opts: { clusterDir?: string } = {},
): Promise<PostgresHandle> {
  if (await serverAnswers(databaseUrl))
    return { databaseUrl, startedLocally: false, stop: () => Promise.resolve() };
  const url = new URL(databaseUrl);
  if (!['127.0.0.1', 'localhost', '::1'].includes(url.hostname)) {
    throw new Error(`No PostgreSQL answers at ${url.host}; start it or set DATABASE_URL.`);
  }
  const initdb = findPgBin('initdb');
  const pgCtl = findPgBin('pg_ctl');
  if (!initdb || !pgCtl) {
    throw new Error(
      `No PostgreSQL answers at ${url.host} and initdb/pg_ctl are not installed.\n` +
        '  Install PostgreSQL 15 (Debian: apt-get install postgresql) or set DATABASE_URL to a server.',
    );
  }
  const dataDir = path.join(opts.clusterDir ?? DATA_DIR, 'postgres');
  const socketDir = path.join(opts.clusterDir ?? DATA_DIR, 'postgres-run');
  mkdirSync(socketDir, { recursive: true });
  const user = url.username || 'postgres';
  // initdb refuses to run as root: run the cluster as the `postgres` system user then.
  const asRoot = os.userInfo().uid === 0;
  const wrap = (cmd: string, args: string[]): [string, string[]] =>
    asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  if (asRoot) spawnSync('chown', ['-R', 'postgres', socketDir]);
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    mkdirSync(dataDir, { recursive: true });
    if (asRoot) spawnSync('chown', ['-R', 'postgres', dataDir]);
    const [cmd, args] = wrap(initdb, ['-D', dataDir, '-U', user, '--auth=trust', '-E', 'UTF8', '--locale=C']);
    const init = spawnSync(cmd, args, { encoding: 'utf8' });
    if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.stdout}`);
  }
  const port = url.port || '5432';
  const logFile = path.join(socketDir, 'postgres.log');
  writeFileSync(logFile, '', { flag: 'a' });
  if (asRoot) spawnSync('chown', ['postgres', logFile]);
  const [cmd, args] = wrap(pgCtl, [
    '-D',
    dataDir,
    '-l',
    logFile,
    '-w',
    '-o',
    `-p ${port} -k ${socketDir} -c listen_addresses=${url.hostname === 'localhost' ? '127.0.0.1' : url.hostname}`,
    'start',
  ]);
  const start = async () => {
    // After a crash the old postmaster's children may linger a moment: try again for a while.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const started = spawnSync(cmd, args, { encoding: 'utf8' });
      if (started.status === 0) break;
      if (Date.now() > deadline)
        throw new Error(`pg_ctl start failed: ${started.stderr || started.stdout} (log: ${logFile})`);
      await new Promise((r) => setTimeout(r, 500));
    }
    await waitFor('local PostgreSQL', () => serverAnswers(databaseUrl), 30_000);
  };
  await start();
  return {
    databaseUrl,
    startedLocally: true,
    start,
    postmasterPid: () => {
      const pidFile = path.join(dataDir, 'postmaster.pid');
      if (!existsSync(pidFile)) return undefined;
      const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    },
    stop: () => {
      const [c, a] = wrap(pgCtl, ['-D', dataDir, '-m', 'fast', 'stop']);
      spawnSync(c, a, { encoding: 'utf8' });
      return Promise.resolve();
    },
  };
}

/** Stops a project-local cluster left running (e.g. by an interrupted chaos run); no-op otherwise. */
export function stopLocalPostgres(clusterDir: string): void {
  const dataDir = path.join(clusterDir, 'postgres');
  const pgCtl = findPgBin('pg_ctl');
  if (!pgCtl || !existsSync(path.join(dataDir, 'postmaster.pid'))) return;
  const args = ['-D', dataDir, '-m', 'immediate', 'stop'];
  if (os.userInfo().uid === 0) spawnSync('runuser', ['-u', 'postgres', '--', pgCtl, ...args]);
  else spawnSync(pgCtl, args);
}

/** Drops and recreates a database (tests start from an empty schema). */
export async function recreateDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  const admin = new URL(databaseUrl);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
}

/**
 * Copies a migrated database as the template of the test files that need a database of their own
 * (test/support/own-database.ts), and drops the copies an interrupted run left. Returns its name.
 */
export async function prepareTemplateDatabase(databaseUrl: string): Promise<string> {
  const source = decodeURIComponent(new URL(databaseUrl).pathname.slice(1));
  const template = `${source}_template`;
  const admin = new URL(databaseUrl);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string }>(
      "SELECT datname FROM pg_database WHERE datname LIKE $1 || '\\_%'",
      [template],
    );
    for (const { datname } of rows)
      await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(datname)} WITH (FORCE)`);
    await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(template)} WITH (FORCE)`);
    await client.query(
      `CREATE DATABASE ${pg.escapeIdentifier(template)} TEMPLATE ${pg.escapeIdentifier(source)}`,
    );
  } finally {
    await client.end();
  }
  return template;
}

// ---------------------------------------------------------------- child processes

export interface ServiceProcess {
  name: string;
  child: ChildProcess;
}

/** Starts a TypeScript entry point with tsx, prefixing each output line with the service name. */
export function startService(
  name: string,
  entry: string,
  env: NodeJS.ProcessEnv,
  nodeFlags: readonly string[] = [],
): ServiceProcess {
  const child = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', entry], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const prefix = `[${name}]`.padEnd(10);
  const forward = (stream: NodeJS.ReadableStream | null, out: NodeJS.WriteStream) => {
    let buffered = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) out.write(`${prefix} ${line}\n`);
    });
  };
  forward(child.stdout, process.stdout);
  forward(child.stderr, process.stderr);
  return { name, child };
}
