import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { migrateUp } from '../db/migrate.js';
import { bundleWorkflows } from '../workers/bundle.js';
import {
  DATA_DIR,
  ROOT,
  ensurePostgres,
  prepareTemplateDatabase,
  recreateDatabase,
  say,
  startTemporal,
} from './infra.js';

/**
 * `npm test`: checks (types, lint, format), then the whole suite against a real Temporal dev
 * server (in memory, its own port) and a fresh PostgreSQL database. Extra arguments go to vitest.
 */
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const vitestArgs = args.filter((a) => a !== '--quick');
const databaseUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/passerelle_test';
const temporalAddress = process.env.TEST_TEMPORAL_ADDRESS ?? '127.0.0.1:7299';
const started = Date.now();

function step(name: string, cmd: string, cmdArgs: string[]): void {
  say(`• ${name}`);
  const result = spawnSync(cmd, cmdArgs, { cwd: ROOT, stdio: 'inherit' });
  if (result.status !== 0) {
    say(`✗ ${name} failed`);
    process.exit(result.status ?? 1);
  }
}

/**
 * A check that runs while the suite runs (the suite mostly waits on timers and callbacks): its
 * output is kept and shown at the end, and its failure fails `npm test` like a test's.
 */
function backgroundCheck(
  name: string,
  cmd: string,
  cmdArgs: string[],
): Promise<{ name: string; ok: boolean; output: string }> {
  return new Promise((resolve) => {
    let output = '';
    const child = spawn(cmd, cmdArgs, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', (err) => resolve({ name, ok: false, output: `${output}${String(err)}` }));
    child.on('close', (code) => resolve({ name, ok: code === 0, output }));
  });
}

const bin = (name: string) => path.join(ROOT, 'node_modules', '.bin', name);
const checks: Promise<{ name: string; ok: boolean; output: string }>[] = [];
if (!quick) {
  say('• type check, lint and format (tsc --noEmit, eslint, prettier --check), beside the suite');
  checks.push(
    backgroundCheck('type check (tsc --noEmit)', bin('tsc'), ['--noEmit', '-p', '.']),
    backgroundCheck('lint (eslint)', bin('eslint'), ['--max-warnings=0', '.']),
    backgroundCheck('format (prettier --check)', bin('prettier'), ['--check', '--log-level=warn', '.']),
  );
  // What production runs: dist/ (its workflow bundle serves the suite too).
  step('build (npm run build: dist/)', process.execPath, [path.join(ROOT, 'scripts', 'build.mjs')]);
}

say('• PostgreSQL (fresh test database)');
const postgres = await ensurePostgres(databaseUrl);
await recreateDatabase(databaseUrl);
await migrateUp(databaseUrl);
// Copied before any test connects to the database: the files with a database of their own start from it.
const templateDatabase = await prepareTemplateDatabase(databaseUrl);

say(`• Temporal dev server for tests (${temporalAddress}, in memory)`);
const temporal = await startTemporal({
  address: temporalAddress,
  logFile: path.join(DATA_DIR, 'temporal-test.log'),
});

let bundlePath = path.join(ROOT, 'dist', 'workflow-bundle.js');
if (quick) {
  say('• bundling workflow code');
  bundlePath = await bundleWorkflows(path.join(DATA_DIR, 'test-workflow-bundle.js'));
}

say('• vitest');
const result = spawnSync(bin('vitest'), ['run', ...vitestArgs], {
  cwd: ROOT,
  stdio: 'inherit',
  env: {
    ...process.env,
    DATABASE_URL: databaseUrl,
    TEST_DATABASE_TEMPLATE: templateDatabase,
    TEMPORAL_ADDRESS: temporalAddress,
    WORKFLOW_BUNDLE_PATH: bundlePath,
    // The built-code test uses this build instead of making its own.
    ...(quick ? {} : { PASSERELLE_DIST_BUILT: 'true' }),
  },
});
await temporal.stop();
await postgres.stop();
let failedChecks = 0;
for (const check of await Promise.all(checks)) {
  if (check.ok) say(`✓ ${check.name}`);
  else {
    failedChecks++;
    say(`✗ ${check.name} failed:\n${check.output}`);
  }
}
const exitCode = failedChecks ? 1 : (result.status ?? 1);
say(`• npm test finished in ${Math.round((Date.now() - started) / 1000)} s (exit ${exitCode})`);
process.exit(exitCode);
