import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode } from '@temporalio/worker';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// Beside this file: the TypeScript sources (tsx), or their compiled form in dist/ (node).
const compiled = import.meta.url.endsWith('.js');
export const WORKFLOWS_PATH = path.join(root, 'workflows', compiled ? 'index.js' : 'index.ts');
export const DEFAULT_BUNDLE_PATH = path.join(root, '.data', 'workflow-bundle.js');

/**
 * Bundles the workflow code ahead of time so that workers start without running webpack.
 *
 * Our workflow modules are preloaded: evaluated once when the worker's (reused) V8 context starts,
 * and shared by every workflow, instead of evaluated again for each workflow the worker runs or
 * replays (the SDK's per-workflow module cache). They hold no state of their own: every
 * workflow's state lives in its function's closures (a test runs many payins at once on one
 * worker; the replay tests run recorded histories one after another in one context).
 */
export async function bundleWorkflows(outputPath = DEFAULT_BUNDLE_PATH): Promise<string> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    preloadModules: [WORKFLOWS_PATH],
    logger: quietLogger,
  });
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
