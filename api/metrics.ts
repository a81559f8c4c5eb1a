import { Router } from 'express';
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Pool } from '../db/pool.js';

/**
 * `GET /metrics` (Prometheus): process metrics, and payments and transfers by status read from
 * PostgreSQL at each scrape, so that every API replica reports the same truth. Alert on
 * `passerelle_transfers{status="needs_review"} > 0` and on `passerelle_payments{status="unknown"}`.
 */
export function metricsRoutes(pool: Pool): Router {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'passerelle_api_' });
  new Gauge({
    name: 'passerelle_payments',
    help: 'Payments by kind and status',
    labelNames: ['kind', 'status'],
    registers: [registry],
    async collect() {
      const { rows } = await pool.query<{ kind: string; status: string; n: number }>(
        'SELECT kind, status, count(*)::int AS n FROM payments GROUP BY kind, status',
      );
      this.reset();
      for (const r of rows) this.set({ kind: r.kind, status: r.status }, r.n);
    },
  });
  new Gauge({
    name: 'passerelle_transfers',
    help: 'Transfers by status (needs_review: money held in transit, to be reviewed)',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      const { rows } = await pool.query<{ status: string; n: number }>(
        'SELECT status, count(*)::int AS n FROM transfers GROUP BY status',
      );
      this.reset();
      for (const r of rows) this.set({ status: r.status }, r.n);
    },
  });
  const router = Router();
  router.get('/', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  return router;
}
