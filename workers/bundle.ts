import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode } from '@temporalio/worker';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// Beside this file: the TypeScript sources (tsx), or their compiled form in dist/ (node).
const compiled = import.meta.url.endsWith('.js');
export const WORKFLOWS_PATH = path.join(root, 'workflows', compiled ? 'index.js' : 'index.ts');
export const DEFAULT_BUNDLE_PATH = path.join(root, '.data', 'workflow-bundle.js');

/** Bundles the workflow code ahead of time so that workers start without running webpack. */
export async function bundleWorkflows(outputPath = DEFAULT_BUNDLE_PATH): Promise<string> {
  const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietLogger });
  await mkdir(path.dirname(outputPath), { recursive: true });
  await writeFile(outputPath, code);
  return outputPath;
}

const noop = (): void => undefined;
const quietLogger = { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: console.error };

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const out = await bundleWorkflows(process.argv[2] ?? DEFAULT_BUNDLE_PATH);
  console.log(`workflow bundle written to ${path.relative(process.cwd(), out)}`);
}
