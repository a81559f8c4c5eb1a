import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ROOT,
  TEST_ADMIN_KEY,
  api,
  eventually,
  freePort,
  ligdicashControl,
  payinReaches,
  startStack,
  type PayinBody,
  type TestStack,
} from '../support/stack.js';
import { useOwnDatabase } from '../support/own-database.js';

/**
 * Monitoring: the worker serves the Temporal SDK's metrics and ours on a port of its own, the
 * API's /metrics the database-wide gauges, and the alert rules and dashboard read only metrics
 * that exist (promtool checks and unit-tests the rules).
 */
const PROMETHEUS_DIR = path.join(ROOT, 'deploy', 'prometheus');
const promtool = process.env.PROMTOOL_PATH ?? 'promtool';

let stack: TestStack;
let workerMetricsUrl: string;
// Its checks read what every file's stack writes: a database of its own (test/support/own-database.ts).
useOwnDatabase();
beforeAll(async () => {
  const port = await freePort();
  workerMetricsUrl = `http://127.0.0.1:${port}/metrics`;
  stack = await startStack({ env: { WORKER_METRICS_ADDRESS: `127.0.0.1:${port}` } });
});
afterAll(async () => {
  await stack?.stop();
});

/** Every series name in a Prometheus text exposition. */
function seriesNames(text: string): Set<string> {
  return new Set(
    text
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(l)![0]),
  );
}

const scraped = new Set<string>();

describe('metrics', () => {
  it("records each operator call in the worker's metrics, beside the Temporal SDK's own", async () => {
    const created = await api<PayinBody>(stack, 'POST', '/v1/payins', {
      key: stack.merchant.apiKey,
      body: { amount: 3100, currency: 'XOF' },
    });
    const payin = await payinReaches(stack, created.body.id, ['action_required']);
    await ligdicashControl(stack, payin.operator_reference!, 'pay', '22676000001');
    await payinReaches(stack, payin.id, ['succeeded']);

    const text = await eventually('the operator call in the worker metrics', async () => {
      const body = await (await fetch(workerMetricsUrl)).text();
      return /passerelle_operator_request_seconds_count\{[^}]*operator="ligdicash"[^}]*\} [1-9]/.test(body)
        ? body
        : undefined;
    });
    expect(text).toMatch(
      /passerelle_operator_request_seconds_bucket\{[^}]*operation="redirect\/checkout-invoice\/create"[^}]*outcome="2xx"/,
    );
    // The SDK's own worker metrics come through the same exporter.
    expect(text).toMatch(/^temporal_worker_task_slots_available\{/m);
    for (const name of seriesNames(text)) scraped.add(name);
  });

  it('serves the database-wide gauges on the API, behind credentials', async () => {
    expect((await fetch(`${stack.apiUrl}/metrics`)).status).toBe(401);
    const text = await eventually('the finished payin in /metrics', async () => {
      const res = await fetch(`${stack.apiUrl}/metrics`, {
        headers: { Authorization: `Bearer ${TEST_ADMIN_KEY}` },
      });
      const body = await res.text();
      return /passerelle_payments_finished_last_hour\{kind="payin",operator="ligdicash",status="succeeded",livemode="false"\} [1-9]/.test(
        body,
      )
        ? body
        : undefined;
    });
    expect(text).toMatch(/passerelle_callbacks_last_hour\{operator="ligdicash",verdict="[a-z]+"\} [1-9]/);
    expect(text).toMatch(/^passerelle_webhooks\{state="endpoints_disabled"\} \d+/m);
    for (const name of seriesNames(text)) scraped.add(name);
  });
});

describe('alert rules and dashboard', () => {
  it('are valid, and the rules fire on the series their unit tests give (promtool)', () => {
    const run = (...args: string[]) =>
      execFileSync(promtool, args, { cwd: PROMETHEUS_DIR, encoding: 'utf8', stdio: 'pipe' });
    expect(run('check', 'rules', 'rules.yml')).toContain('SUCCESS');
    expect(run('test', 'rules', 'rules.test.yml')).toContain('SUCCESS');
    expect(run('check', 'config', '--syntax-only', 'prometheus.yml')).toContain('SUCCESS');
  });

  it('read only metrics the system exports (or that the rules record)', () => {
    const rules = readFileSync(path.join(PROMETHEUS_DIR, 'rules.yml'), 'utf8');
    const dashboard = readFileSync(path.join(ROOT, 'deploy', 'grafana', 'passerelle.json'), 'utf8');
    const recorded = new Set([...rules.matchAll(/record: ([\w:]+)/g)].map((m) => m[1]!));
    // Series of a histogram or counter that the scrape above may not have produced yet.
    const exported = (name: string) =>
      scraped.has(name) ||
      recorded.has(name) ||
      [...scraped].some(
        (s) => s.startsWith(`${name}_`) || name.startsWith(s.replace(/_(bucket|count|sum)$/, '')),
      );
    const read = new Set(
      [...`${rules}\n${dashboard}`.matchAll(/\b((?:passerelle|temporal)[a-z0-9_:]*)/g)]
        .map((m) => m[1]!)
        .filter((n) => !n.startsWith('passerelle-') && n !== 'passerelle'),
    );
    // Metrics only a rare event produces (a disabled endpoint, a webhook delivered, an open
    // discrepancy, a reconciliation run) are named in the code instead.
    const source = ['api/metrics.ts', 'activities/webhook-activities.ts', 'workers/telemetry.ts']
      .map((f) => readFileSync(path.join(ROOT, f), 'utf8'))
      .join('\n');
    const missing = [...read].filter(
      (n) => !exported(n) && !source.includes(`'${n.replace(/_(bucket|count|sum|total)$/, '')}'`),
    );
    expect(missing).toEqual([]);
  });
});
