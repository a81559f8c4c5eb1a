import { callDeadline } from '../lib/cancellation.js';
import { operationOf, recordOperatorCall } from './call-metrics.js';

/**
 * Small HTTP helper for adapters: it tells apart "nothing was sent" from "sent, outcome unknown",
 * which decides whether a request may be sent again (DESIGN.md, rule 2).
 */
export type HttpOutcome =
  | { kind: 'answered'; status: number; body: unknown; text: string }
  | { kind: 'unreachable'; detail: string }
  | { kind: 'ambiguous'; detail: string };

/** Connection errors raised before any byte of the request could reach the peer. */
export const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/** The system error code of a failed call (`ECONNREFUSED`…), looked for in its causes too. */
export function errorCode(err: unknown): string | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 4 && current && typeof current === 'object'; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** A URL without its query string, for details that end up in histories and logs (tokens ride in queries). */
function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : `${url.slice(0, q)}?…`;
}

/** Which operator a call is to, for its latency metric (`operation` defaults to the URL's path). */
export interface CallLabel {
  operator: string;
  operation?: string;
}

export async function httpRequest(
  url: string,
  init: {
    method: 'GET' | 'POST';
    headers?: Record<string, string>;
    body?: string;
    timeoutMs: number;
    label?: CallLabel;
  },
): Promise<HttpOutcome> {
  const started = performance.now();
  const outcome = await sendRequest(url, init);
  if (init.label) {
    recordOperatorCall({
      operator: init.label.operator,
      operation: init.label.operation ?? operationOf(url),
      outcome: outcome.kind === 'answered' ? `${Math.floor(outcome.status / 100)}xx` : outcome.kind,
      seconds: (performance.now() - started) / 1000,
    });
  }
  return outcome;
}

async function sendRequest(
  url: string,
  init: { method: 'GET' | 'POST'; headers?: Record<string, string>; body?: string; timeoutMs: number },
): Promise<HttpOutcome> {
  // Aborted at the timeout, or when the activity making the call is cancelled (lib/cancellation.ts).
  const deadline = callDeadline(init.timeoutMs);
  try {
    let response: Response;
    try {
      response = await fetch(url, {
        method: init.method,
        headers: init.headers,
        body: init.body,
        signal: deadline.signal,
      });
    } catch (err) {
      const code = errorCode(err);
      if (code && NOT_SENT_CODES.has(code)) return { kind: 'unreachable', detail: `${code} ${pathOf(url)}` };
      const name = err instanceof Error ? err.name : 'Error';
      const why = name === 'TimeoutError' ? 'timeout' : name === 'AbortError' ? 'cancelled' : (code ?? name);
      return { kind: 'ambiguous', detail: `${why} ${pathOf(url)}` };
    }
    let text: string;
    try {
      text = await response.text();
    } catch (err) {
      return { kind: 'ambiguous', detail: `answer cut off: ${errorCode(err) ?? String(err)}` };
    }
    let body: unknown = undefined;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    return { kind: 'answered', status: response.status, body, text };
  } finally {
    deadline.release();
  }
}

/** A GET or POST whose answer body is streamed (settlement reports): the caller reads it line by line. */
export async function httpStream(
  url: string,
  init: { method: 'GET' | 'POST'; headers?: Record<string, string>; body?: string; timeoutMs: number },
): Promise<{ kind: 'ok'; body: import('node:stream').Readable } | { kind: 'unavailable'; detail: string }> {
  const { Readable } = await import('node:stream');
  try {
    // The timeout covers the answer's start; the body may take longer to stream.
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), init.timeoutMs);
    const response = await fetch(url, {
      method: init.method,
      headers: init.headers,
      body: init.body,
      signal: controller.signal,
    });
    clearTimeout(timer);
    if (!response.ok || !response.body) {
      await response.body?.cancel();
      return { kind: 'unavailable', detail: `HTTP ${response.status}` };
    }
    return {
      kind: 'ok',
      body: Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>),
    };
  } catch (err) {
    return { kind: 'unavailable', detail: errorCode(err) ?? (err as Error).message };
  }
}

/** `from=…&to=…` (ISO 8601) for a report period. */
export function reportQuery(period: { from: Date; to: Date }): string {
  return `from=${encodeURIComponent(period.from.toISOString())}&to=${encodeURIComponent(period.to.toISOString())}`;
}
