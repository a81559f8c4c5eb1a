import { timingSafeEqual } from 'node:crypto';
import { Router } from 'express';
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import {
  countOpenTransfers,
  countWatchedPayments,
  reconciliationState,
  recentCallbacks,
  recentOutcomes,
  webhookBacklog,
} from '../db/metrics.js';
import type { Pool } from '../db/pool.js';
import type { Config } from '../lib/config.js';
import { Problem } from './problems.js';

/** How long one reading of the database serves scrapes (every replica, every Prometheus). */
const SNAPSHOT_MS = 15_000;

/**
 * `GET /metrics` (Prometheus), behind `Authorization: Bearer <METRICS_TOKEN>` (or the operations
 * key): process metrics, payments still open or unknown by kind, status and operator, and
 * transfers by status. Counts come from PostgreSQL (every API replica reports the same truth),
 * read at most every 15 s and only over the open statuses (a partial index), never whole tables.
 * Alert on `passerelle_transfers{status="needs_review"} > 0` and on
 * `passerelle_payments{status="unknown"}`.
 */
export function metricsRoutes(pool: Pool, config: Config): Router {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'passerelle_api_' });
  let snapshot:
    | {
        at: number;
        payments: { kind: string; status: string; operator: string; n: number }[];
        transfers: { status: string; n: number }[];
        webhooks: Awaited<ReturnType<typeof webhookBacklog>>;
        outcomes: Awaited<ReturnType<typeof recentOutcomes>>;
        callbacks: Awaited<ReturnType<typeof recentCallbacks>>;
        reconciliation: Awaited<ReturnType<typeof reconciliationState>>;
      }
    | undefined;
  let reading: Promise<NonNullable<typeof snapshot>> | undefined;
  const read = async () => {
    if (snapshot && Date.now() - snapshot.at < SNAPSHOT_MS) return snapshot;
    reading ??= (async () => {
      const [payments, transfers, webhooks, outcomes, callbacks, reconciliation] = await Promise.all([
        countWatchedPayments(pool),
        countOpenTransfers(pool),
        webhookBacklog(pool),
        recentOutcomes(pool),
        recentCallbacks(pool),
        reconciliationState(pool),
      ]);
      snapshot = { at: Date.now(), payments, transfers, webhooks, outcomes, callbacks, reconciliation };
      return snapshot;
    })().finally(() => {
      reading = undefined;
    });
    return reading;
  };
  new Gauge({
    name: 'passerelle_payments',
    help: 'Payments still open or of unknown outcome, by kind, status and operator',
    labelNames: ['kind', 'status', 'operator'],
    registers: [registry],
    async collect() {
      const { payments } = await read();
      this.reset();
      for (const r of payments) this.set({ kind: r.kind, status: r.status, operator: r.operator }, r.n);
    },
  });
  new Gauge({
    name: 'passerelle_transfers',
    help: 'Transfers not yet ended, by status (needs_review: money held in transit, to be reviewed)',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      const { transfers } = await read();
      this.reset();
      for (const r of transfers) this.set({ status: r.status }, r.n);
    },
  });

  new Gauge({
    name: 'passerelle_webhooks',
    help:
      'The outbox and webhook deliveries: events not yet published, deliveries pending (waiting for an ' +
      'attempt), deliveries whose workflow is not started yet, endpoints disabled',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const { webhooks } = await read();
      this.set({ state: 'events_unpublished' }, webhooks.unpublished);
      this.set({ state: 'deliveries_pending' }, webhooks.pending);
      this.set({ state: 'deliveries_undispatched' }, webhooks.undispatched);
      this.set({ state: 'endpoints_disabled' }, webhooks.disabledEndpoints);
    },
  });

  new Gauge({
    name: 'passerelle_payments_finished_last_hour',
    help:
      'Payments that reached a final status in the last hour, by kind, operator, status and mode: ' +
      "an operator's success rate is succeeded over the sum",
    labelNames: ['kind', 'operator', 'status', 'livemode'],
    registers: [registry],
    async collect() {
      const { outcomes } = await read();
      this.reset();
      for (const r of outcomes) {
        this.set({ kind: r.kind, operator: r.operator, status: r.status, livemode: String(r.livemode) }, r.n);
      }
    },
  });
  new Gauge({
    name: 'passerelle_callbacks_last_hour',
    help: 'Operator callbacks received in the last hour, by operator and verdict (rejected: forged or unreadable)',
    labelNames: ['operator', 'verdict'],
    registers: [registry],
    async collect() {
      const { callbacks } = await read();
      this.reset();
      for (const r of callbacks) this.set({ operator: r.operator, verdict: r.verdict }, r.n);
    },
  });
  new Gauge({
    name: 'passerelle_reconciliation_discrepancies_open',
    help: 'Reconciliation discrepancies waiting for a person, by operator and class',
    labelNames: ['operator', 'class'],
    registers: [registry],
    async collect() {
      const { reconciliation } = await read();
      this.reset();
      for (const r of reconciliation.open) this.set({ operator: r.operator, class: r.class }, r.n);
    },
  });
  new Gauge({
    name: 'passerelle_reconciliation_last_run_timestamp_seconds',
    help: "When each operator's last sweep and settlement run ended (or started, while running), by status",
    labelNames: ['operator', 'kind', 'status'],
    registers: [registry],
    async collect() {
      const { reconciliation } = await read();
      this.reset();
      for (const r of reconciliation.lastRuns) {
        const at = r.finishedAt ?? r.startedAt;
        this.set({ operator: r.operator, kind: r.kind, status: r.status }, Math.floor(at.getTime() / 1000));
      }
    },
  });

  const tokens = [config.METRICS_TOKEN, config.ADMIN_API_KEY]
    .filter((t): t is string => Boolean(t))
    .map((t) => Buffer.from(t));
  const router = Router();
  router.get('/', async (req, res) => {
    const given = Buffer.from(/^Bearer\s+(\S+)\s*$/i.exec(req.header('authorization') ?? '')?.[1] ?? '');
    if (!tokens.some((t) => t.length === given.length && timingSafeEqual(t, given))) {
      throw new Problem(
        'unauthenticated',
        tokens.length
          ? 'Send the metrics token as "Authorization: Bearer <METRICS_TOKEN>"'
          : 'Metrics are off: set METRICS_TOKEN (or ADMIN_API_KEY)',
      );
    }
    res.type(registry.contentType).send(await registry.metrics());
  });
  return router;
}
