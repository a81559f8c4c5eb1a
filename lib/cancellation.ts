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

/**
 * A deadline for one call, combined with the current work's cancellation: aborted after
 * `timeoutMs` or as soon as the work is cancelled. Built on a plain timer rather than
 * `AbortSignal.any([AbortSignal.timeout(...)])`: on Node.js 20 the combined signal sometimes
 * never fired (seen here: a 5 s timeout that let a call wait 20 s, now and then, as if the timeout
 * signal had been collected). `release()` when the call is over.
 */
export function callDeadline(timeoutMs: number): { signal: AbortSignal; release: () => void } {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new DOMException(`no answer in ${timeoutMs} ms`, 'TimeoutError')),
    timeoutMs,
  );
  const cancelled = currentCancellation();
  const onCancel = () => controller.abort(new DOMException('the activity was cancelled', 'AbortError'));
  if (cancelled?.aborted) onCancel();
  else cancelled?.addEventListener('abort', onCancel, { once: true });
  return {
    signal: controller.signal,
    release: () => {
      clearTimeout(timer);
      cancelled?.removeEventListener('abort', onCancel);
    },
  };
}
