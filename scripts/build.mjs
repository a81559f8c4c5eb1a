#!/usr/bin/env node
// `npm run build`: the runtime code compiled to dist/ by tsc (tsconfig.build.json), the SQL
// migrations beside it, and the workflow bundle made from the compiled workflows. Production runs
// `node dist/api/server.js`, `node dist/workers/main.js`, `node dist/cli/passerelle.js`: no
// TypeScript loader at run time.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');

function run(cmd, args) {
  const result = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

rmSync(dist, { recursive: true, force: true });
console.log('• compiling (tsc -p tsconfig.build.json)');
run(process.execPath, [
  path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
  '-p',
  'tsconfig.build.json',
]);
console.log('• copying the migrations');
mkdirSync(path.join(dist, 'db', 'migrations'), { recursive: true });
cpSync(path.join(root, 'db', 'migrations'), path.join(dist, 'db', 'migrations'), { recursive: true });
console.log('• bundling the workflow code');
run(process.execPath, [path.join(dist, 'workers', 'bundle.js'), path.join(dist, 'workflow-bundle.js')]);
console.log('• dist/ ready');
