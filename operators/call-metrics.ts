/**
 * What an operator call cost, for monitoring: the process that makes the calls (the worker)
 * installs an observer that turns each into a metric; without one, nothing is recorded. Kept
 * free of any metrics library so that adapters stay plain protocol code.
 */
export interface OperatorCall {
  operator: string;
  /** The protocol operation (`redirect/checkout-invoice/create`, `paiement`...): a constant, never an id. */
  operation: string;
  /** `2xx`, `3xx`, `4xx`, `5xx` (answered), `unreachable` (never sent) or `ambiguous` (sent, no answer). */
  outcome: string;
  seconds: number;
}

export type OperatorCallObserver = (call: OperatorCall) => void;

let observer: OperatorCallObserver | undefined;

export function observeOperatorCalls(next: OperatorCallObserver | undefined): void {
  observer = next;
}

export function recordOperatorCall(call: OperatorCall): void {
  try {
    observer?.(call);
  } catch {
    // Monitoring never fails a payment.
  }
}

/** The label of a call: the operator's own path, without query string or anything variable after it. */
export function operationOf(url: string, base?: string): string {
  let path = url.split('?')[0]!;
  if (base && path.startsWith(base)) path = path.slice(base.length);
  else {
    try {
      path = new URL(path).pathname;
    } catch {
      // a relative path already
    }
  }
  return (
    path
      .replace(/^\/+|\/+$/g, '')
      // Ids and tokens in a path become one label value.
      .split('/')
      .map((segment) => (/\d{4,}|[0-9a-f]{16,}|^[\w-]{24,}$/i.test(segment) ? ':id' : segment))
      .join('/') || '/'
  );
}
