import { BlockList, isIP } from 'node:net';

/**
 * The version of the API's resource shapes that events carry (`api_version`). The discrepancy
 * trigger of migration 1733150000000 writes the same value.
 */
export const API_VERSION = '2026-12-01';

export const PAYMENT_EVENT_STATUSES = [
  'created',
  'pending',
  'action_required',
  'succeeded',
  'failed',
  'expired',
  'cancelled',
  'unknown',
  'refunded',
  'partially_refunded',
] as const;
export const TRANSFER_EVENT_STATUSES = [
  'created',
  'collecting',
  'disbursing',
  'awaiting_resolution',
  'refunding',
  'completed',
  'refunded',
  'failed',
  'needs_review',
] as const;

/** Every event type a merchant can subscribe to (a webhook endpoint's `event_types`). */
export const EVENT_TYPES: readonly string[] = [
  ...PAYMENT_EVENT_STATUSES.map((s) => `payin.${s}`),
  ...PAYMENT_EVENT_STATUSES.filter((s) => s !== 'refunded' && s !== 'partially_refunded').map(
    (s) => `payout.${s}`,
  ),
  ...PAYMENT_EVENT_STATUSES.filter((s) => s !== 'refunded' && s !== 'partially_refunded').map(
    (s) => `refund.${s}`,
  ),
  ...TRANSFER_EVENT_STATUSES.map((s) => `transfer.${s}`),
  // Each attempt of a hosted payin (docs/checkout.md); the payin's own events say how it ends.
  ...PAYMENT_EVENT_STATUSES.filter((s) => s !== 'partially_refunded').map((s) => `payin_attempt.${s}`),
  'webhook_endpoint.disabled',
  'api_key.expiring',
];

/** Operations events (no merchant): listed by the operations key only. */
export const OPERATIONS_EVENT_TYPES: readonly string[] = ['reconciliation.discrepancy_found'];

// ------------------------------------------------------------------ delivery schedule

/**
 * When failed deliveries are tried again: `delaysMs[n-1]` after failed attempt n, the last delay
 * repeated, until an attempt comes after `windowMs` from the first.
 */
export interface RetrySchedule {
  delaysMs: readonly number[];
  windowMs: number;
}

/**
 * Immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, then every 10 h, until at least three
 * days have passed since the first attempt (the Standard Webhooks / Svix schedule).
 */
export const DEFAULT_RETRY_SCHEDULE: RetrySchedule = {
  delaysMs: [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000],
  windowMs: 3 * 24 * 3_600_000,
};
export const DELIVERY_WINDOW_MS = DEFAULT_RETRY_SCHEDULE.windowMs;

/** Nominal delay after failed attempt `attempt` (1-based), or undefined when that attempt was the last. */
export function nominalRetryDelayMs(
  attempt: number,
  schedule: RetrySchedule = DEFAULT_RETRY_SCHEDULE,
): number | undefined {
  const delayAfter = (a: number) => schedule.delaysMs[Math.min(a, schedule.delaysMs.length) - 1]!;
  let elapsed = 0;
  for (let a = 1; a < attempt; a++) elapsed += delayAfter(a);
  if (elapsed >= schedule.windowMs) return undefined;
  return delayAfter(attempt);
}

/** The last attempt of a schedule (13 for the default: the first at 0, the last past 72 h). */
export function lastDeliveryAttempt(schedule: RetrySchedule = DEFAULT_RETRY_SCHEDULE): number {
  let attempt = 1;
  while (nominalRetryDelayMs(attempt, schedule) !== undefined) attempt++;
  return attempt;
}
export const LAST_DELIVERY_ATTEMPT = lastDeliveryAttempt();

/**
 * The delay with up to 10 % jitter (`random` in [0, 1)): receivers that came back from an outage
 * are not hit by every pending retry in the same second. Jitter only lengthens a delay, so the
 * schedule always spans at least its window.
 */
export function jitteredRetryDelayMs(
  attempt: number,
  random: number,
  schedule: RetrySchedule = DEFAULT_RETRY_SCHEDULE,
): number | undefined {
  const nominal = nominalRetryDelayMs(attempt, schedule);
  if (nominal === undefined) return undefined;
  return Math.round(nominal * (1 + 0.1 * random));
}

// ------------------------------------------------------------------ endpoint addresses

const NOT_PUBLIC = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  NOT_PUBLIC.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const)
  NOT_PUBLIC.addSubnet(net, prefix, 'ipv6');

/**
 * Whether an address is loopback, private, link-local, shared, documentation or multicast:
 * somewhere a live webhook must never be sent (SSRF into our own network). IPv4-mapped IPv6
 * addresses are judged by their IPv4 address.
 */
export function isNonPublicAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return isNonPublicAddress(mapped[1]!);
  const family = isIP(address);
  if (family === 0) return true;
  return NOT_PUBLIC.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** Why a webhook URL is refused before any address is looked up, or undefined when it is acceptable. */
export function webhookUrlProblem(text: string, livemode: boolean): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'is not an absolute URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must use https (or http in test mode)';
  if (livemode && url.protocol !== 'https:') return 'must use https in live mode';
  if (url.username || url.password) return 'must not carry credentials';
  if (url.hash) return 'must not carry a fragment';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (livemode) {
    if (isIP(host) && isNonPublicAddress(host))
      return 'points to a private, loopback or link-local address (refused in live mode)';
    if (
      host === 'localhost' ||
      host.endsWith('.localhost') ||
      host.endsWith('.internal') ||
      host.endsWith('.local')
    )
      return 'names a local host (refused in live mode)';
  }
  return undefined;
}

/** A signing secret in the Standard Webhooks format: `whsec_` + base64 of 32 random bytes. */
export function webhookSecretFrom(randomBytes: Buffer): string {
  return `whsec_${randomBytes.toString('base64')}`;
}
