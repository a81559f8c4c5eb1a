import { httpStream } from './http.js';

/**
 * An OAuth-style bearer token (Orange, MTN): fetched once, shared by concurrent calls, kept until
 * shortly before it expires, and dropped when the operator answers 401 so that the next call
 * fetches a new one.
 */
export class BearerToken {
  private token: { value: string; expiresAt: number } | undefined;
  private pending: Promise<string> | undefined;

  constructor(
    private readonly fetchToken: () => Promise<{ value: string; expiresInSeconds: number }>,
    private readonly renewMarginMs = 60_000,
  ) {}

  async get(): Promise<string> {
    if (this.token && this.token.expiresAt - this.renewMarginMs > Date.now()) return this.token.value;
    // Concurrent calls share one token request.
    this.pending ??= this.fetchToken()
      .then(({ value, expiresInSeconds }) => {
        this.token = { value, expiresAt: Date.now() + expiresInSeconds * 1000 };
        return value;
      })
      .finally(() => {
        this.pending = undefined;
      });
    return this.pending;
  }

  /** The operator refused it (401): the next call fetches a new one. */
  invalidate(refused: string): void {
    if (this.token?.value === refused) this.token = undefined;
  }
}

/** A report streamed with the operator's bearer token (unavailable without a token). */
export async function streamWithBearer(
  token: BearerToken,
  operator: string,
  url: string,
  init: { headers?: Record<string, string>; timeoutMs: number },
): ReturnType<typeof httpStream> {
  let value: string;
  try {
    value = await token.get();
  } catch (err) {
    return { kind: 'unavailable', detail: `no ${operator} token: ${(err as Error).message}` };
  }
  return httpStream(url, {
    method: 'GET',
    headers: { ...init.headers, Authorization: `Bearer ${value}` },
    timeoutMs: init.timeoutMs,
  });
}
