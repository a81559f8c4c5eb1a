import { MockActivityEnvironment } from '@temporalio/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { withHeartbeats } from '../../activities/index.js';

/** Runs a wrapped activity that stays busy for 3.5 s of (fake) time; answers how often it heartbeat. */
async function heartbeatsOf(isLocal: boolean): Promise<number> {
  const env = new MockActivityEnvironment({ isLocal });
  let beats = 0;
  env.on('heartbeat', () => (beats += 1));
  let finish: (() => void) | undefined;
  const { waitForOperator } = withHeartbeats({
    waitForOperator: () =>
      new Promise<string>((resolve) => {
        finish = () => resolve('answered');
      }),
  });
  const running = env.run(waitForOperator);
  await vi.advanceTimersByTimeAsync(3_500);
  finish!();
  expect(await running).toBe('answered');
  return beats;
}

describe('activity heartbeats', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a queued activity heartbeats every second while it runs; a local activity, which cannot, never tries', async () => {
    vi.useFakeTimers();
    expect(await heartbeatsOf(false)).toBe(3);
    expect(await heartbeatsOf(true)).toBe(0);
  });
});
