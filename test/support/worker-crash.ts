import type { ChildProcess } from 'node:child_process';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { createLogger } from '../../lib/logger.js';
import { startGimSwitch } from '../../sandbox/gim/switch.js';
import { startStack, type TestStack } from './stack.js';

/**
 * The system of the worker-crash tests (DESIGN.md rule 7: kill the worker at any moment and every
 * payment still reaches a final state), split in two files so that they run side by side: a stack
 * with no in-process worker (the real entry point runs as a child process that a test can
 * SIGKILL), and the card switch the worker keeps its connection to (docs/gim-uemoa.md).
 */
export interface CrashStack {
  stack: TestStack;
  gim: Awaited<ReturnType<typeof startGimSwitch>>;
  /** The worker process the running test spawned, killed after each test. */
  worker: ChildProcess | undefined;
}

const GIM_MAC_KEY = '0123456789ABCDEFFEDCBA9876543210';

/** Registers the file's set-up and tear-down; the returned object is filled before the first test. */
export function useCrashStack(): CrashStack {
  const crash = {} as CrashStack;
  beforeAll(async () => {
    crash.gim = await startGimSwitch({
      host: '127.0.0.1',
      port: 0,
      macKeyHex: GIM_MAC_KEY,
      lateMs: 4_000,
      logger: createLogger({ level: 'silent' }),
    });
    crash.stack = await startStack({
      worker: false,
      // A killed worker's sticky tasks go back to the shared queue after 1 s instead of 10.
      env: {
        LIGDICASH_PAYIN_DEADLINE_SECONDS: '60',
        INITIATION_WAIT_SECONDS: '3',
        WORKER_STICKY_QUEUE_TIMEOUT_SECONDS: '1',
        // A re-run after a kill mid-send waits for the send lease: three of the operator's worst
        // cases (MTN's is four calls: token, call, new token, call) plus the margin, which covers
        // the database and the process around the calls (10 s by default; all local here).
        MTN_HTTP_TIMEOUT_MS: '1500',
        LIGDICASH_HTTP_TIMEOUT_MS: '2500',
        SEND_LEASE_MARGIN_MS: '2000',
        GIM_HOST: '127.0.0.1',
        GIM_PORT: String(crash.gim.port),
        GIM_MAC_KEY,
        GIM_TIMEOUT_MS: '1500',
      },
      // The card processor's slow authorisation (its test amount 8006) answers after 4 s.
      sandboxEnv: { SANDBOX_PROCESSOR_SLOW_MS: '4000' },
    });
  });
  afterEach(() => {
    crash.worker?.kill('SIGKILL');
  });
  afterAll(async () => {
    await crash.stack?.stop();
    await crash.gim?.close();
  });
  return crash;
}

/** Kills a worker process and waits until it is gone. */
export function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}
