import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../lib/config.js';
import { temporalDataConverter } from '../lib/payload-codec.js';
import { ROOT } from './support/stack.js';

/**
 * Workflow code changes must not break running payments: every recorded history (one per payin
 * path) is replayed through the current workflow code; a non-deterministic change fails here.
 * Record new ones with `RECORD_HISTORIES=1 npm test -- --quick test/integration/payin-flows.test.ts
 * test/integration/payouts.test.ts test/integration/refunds.test.ts`.
 */
Runtime.install({ logger: new DefaultLogger('WARN') });
const dir = path.join(ROOT, 'test', 'fixtures', 'histories');
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

describe('replay of recorded payment histories', () => {
  it('has recorded histories to replay', () => {
    expect(files.length).toBeGreaterThanOrEqual(8);
  });

  it.each(files)('%s replays on the current workflow code', async (file) => {
    const history: unknown = JSON.parse(readFileSync(path.join(dir, file), 'utf8'));
    const bundlePath = process.env.WORKFLOW_BUNDLE_PATH;
    await Worker.runReplayHistory(
      {
        ...(bundlePath
          ? { workflowBundle: { codePath: bundlePath } }
          : { workflowsPath: path.join(ROOT, 'workflows', 'index.ts') }),
        // Histories recorded since payloads are encrypted need the key (the development one here).
        dataConverter: temporalDataConverter(loadConfig({})),
      },
      history,
      file.replace(/\.json$/, ''),
    );
  });
});
