#!/usr/bin/env node
// `npx passerelle ...` from the clone: runs the TypeScript CLI through tsx.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const child = spawn(
  process.execPath,
  ['--import', 'tsx', path.join(root, 'cli', 'passerelle.ts'), ...process.argv.slice(2)],
  {
    stdio: 'inherit',
    cwd: root,
    env: { ...process.env, NODE_OPTIONS: process.env.NODE_OPTIONS ?? '' },
  },
);
// Ctrl-C and stop requests reach the CLI itself (`webhooks listen` cleans up before it exits).
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
