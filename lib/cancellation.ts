import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The cancellation of the work in progress (a Temporal activity's), made available to code
 * that must not know about Temporal (operator adapters): an HTTP call to an operator is aborted
 * when the activity that made it is cancelled or timed out, so that a retry of the activity never
 * runs beside a forgotten call still in flight (DESIGN.md rule 2).
 */
const current = new AsyncLocalStorage<AbortSignal>();

export function runWithCancellation<T>(signal: AbortSignal, work: () => Promise<T>): Promise<T> {
  return current.run(signal, work);
}

/** The signal of the work in progress, if any. */
export function currentCancellation(): AbortSignal | undefined {
  return current.getStore();
}

/** A timeout combined with the current work's cancellation. */
export function timeoutSignal(timeoutMs: number): AbortSignal {
  const timeout = AbortSignal.timeout(timeoutMs);
  const cancelled = currentCancellation();
  return cancelled ? AbortSignal.any([timeout, cancelled]) : timeout;
}
