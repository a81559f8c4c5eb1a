#!/usr/bin/env node
// `npx passerelle ...`: from a clone, the TypeScript CLI through tsx; from a built image (no
// sources, dist/ only), the compiled CLI with plain node.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const source = path.join(root, 'cli', 'passerelle.ts');
const entry = existsSync(source)
  ? ['--import', 'tsx', source]
  : [path.join(root, 'dist', 'cli', 'passerelle.js')];
const child = spawn(process.execPath, [...entry, ...process.argv.slice(2)], {
  stdio: 'inherit',
  cwd: root,
  env: { ...process.env, NODE_OPTIONS: process.env.NODE_OPTIONS ?? '' },
});
// Ctrl-C and stop requests reach the CLI itself (`webhooks listen` cleans up before it exits).
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
