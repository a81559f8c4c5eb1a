import { pino, type Logger, type LoggerOptions } from 'pino';

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

export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  return pino({
    level: options.level ?? process.env.LOG_LEVEL ?? 'info',
    base: { service: options.name ?? 'passerelle' },
    redact: redaction,
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
