import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/** Keys whose values are secrets: never logged, whatever object they sit in. */
const SECRET_KEYS = [
  'authorization',
  'apikey',
  'api_key',
  'apiKey',
  'token',
  'apiToken',
  'api_token',
  'password',
  'secret',
  'otp',
  'pin',
  'hash',
];
/** Keys that carry phone numbers: logged masked, never in full. */
const PHONE_KEYS = ['phone', 'customer', 'msisdn', 'mobile', 'phone_number', 'customer_phone'];

function pathsFor(keys: string[]): string[] {
  return keys.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`]);
}

/** Keeps the country code and the last two digits: enough to tell numbers apart in a log. */
export function maskPhone(value: string): string {
  const digits = value.replace(/\D/g, '');
  if (digits.length < 6) return '***';
  const plus = value.trim().startsWith('+') ? '+' : '';
  return `${plus}${digits.slice(0, 3)}${'*'.repeat(digits.length - 5)}${digits.slice(-2)}`;
}

export const redaction: NonNullable<LoggerOptions['redact']> = {
  paths: [
    ...pathsFor(SECRET_KEYS),
    ...pathsFor(PHONE_KEYS),
    'req.headers.authorization',
    'req.headers.apikey',
    'req.headers.cookie',
  ],
  censor: (value: unknown, path: string[]) => {
    const key = path[path.length - 1] ?? '';
    if (!PHONE_KEYS.includes(key)) return '[REDACTED]';
    return maskPhonesDeep(value);
  },
};

/** Masks phone numbers in a value found under a phone key (LigdiCash's `customer` is a number; ours an object). */
function maskPhonesDeep(value: unknown): unknown {
  if (typeof value === 'string') return maskPhone(value);
  if (Array.isArray(value)) return value.map(maskPhonesDeep);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => {
        if (SECRET_KEYS.includes(k)) return [k, '[REDACTED]'];
        return [k, PHONE_KEYS.includes(k) ? maskPhonesDeep(v) : v];
      }),
    );
  }
  return value;
}

export function createLogger(
  options: { level?: string; name?: string; destination?: DestinationStream } = {},
): Logger {
  const settings: LoggerOptions = {
    level: options.level ?? process.env.LOG_LEVEL ?? 'info',
    base: { service: options.name ?? 'passerelle' },
    redact: redaction,
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return options.destination ? pino(settings, options.destination) : pino(settings);
}

/** Query parameters whose values may be logged: nothing personal, nothing secret. */
const LOGGABLE_QUERY_KEYS = new Set([
  'purchaseref',
  'status',
  'error',
  'limit',
  'cursor',
  'type',
  'kind',
  'class',
]);

/**
 * A request URL fit for a log line: the path (with any callback token segment hidden) and the
 * query's keys, with the values of all but a few harmless keys replaced. TMoney notifies by GET,
 * so its query string carries the payer's number and name.
 */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  const path = (q === -1 ? url : url.slice(0, q))
    .replace(/^(\/v1\/callbacks\/[a-z0-9_-]+\/)[^/?]+/i, '$1[REDACTED]')
    // A hosted checkout's token opens its page (docs/checkout.md): whoever reads logs must not.
    .replace(/^(\/pay\/)(?!assets\/)[^/?]+/, '$1[REDACTED]');
  if (q === -1) return path;
  const params = new URLSearchParams(url.slice(q + 1));
  const shown = [...params.keys()].map((k) =>
    LOGGABLE_QUERY_KEYS.has(k) ? `${k}=${params.get(k) ?? ''}` : `${k}=[REDACTED]`,
  );
  return `${path}?${shown.join('&')}`;
}

/**
 * An error fit for a log line: its type, code and a bounded message with long digit runs (phone
 * numbers, card numbers) masked, without the database driver's `detail`, `where` or parameters,
 * which quote the values of the row.
 */
export function errorSummary(err: unknown): { type: string; code?: string; message: string; stack?: string } {
  const e = err instanceof Error ? err : new Error(String(err));
  const code = (err as { code?: unknown }).code;
  const mask = (text: string) => text.replace(/\d{6,}/g, (d) => maskPhone(d)).slice(0, 300);
  return {
    type: e.name,
    ...(typeof code === 'string' ? { code } : {}),
    message: mask(e.message),
    ...(e.stack
      ? {
          stack: e.stack
            .split('\n')
            .slice(1, 6)
            .map((line) => line.trim())
            .join(' | '),
        }
      : {}),
  };
}
