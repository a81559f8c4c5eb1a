import { Runtime, type TelemetryOptions } from '@temporalio/worker';
import { observeOperatorCalls } from '../operators/call-metrics.js';

/** Seconds: operator calls and webhook attempts take from tens of milliseconds to a timeout. */
const SECONDS_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60];
/** Delivery lag: from seconds to the three days of retries. */
const LAG_BUCKETS = [1, 5, 15, 60, 300, 1800, 7200, 21_600, 86_400, 259_200];

/**
 * The worker's metrics (docs/operations.md): the Temporal SDK's own (task slots, poll and
 * schedule-to-start latencies, sticky cache, workflow and activity outcomes) and ours, recorded
 * through the same meter and served by the SDK's Prometheus exporter at `bindAddress`
 * (WORKER_METRICS_ADDRESS): a port of its own, apart from the API.
 */
export function metricsTelemetry(bindAddress: string | undefined): TelemetryOptions['metrics'] {
  if (!bindAddress) return undefined;
  return {
    prometheus: {
      bindAddress,
      countersTotalSuffix: true,
      useSecondsForDurations: true,
      histogramBucketOverrides: {
        passerelle_operator_request_seconds: SECONDS_BUCKETS,
        passerelle_webhook_attempt_seconds: SECONDS_BUCKETS,
        passerelle_webhook_delivery_lag_seconds: LAG_BUCKETS,
      },
    },
  };
}

/** Every operator call this process makes is recorded: latency by operator, operation and outcome. */
export function recordOperatorCallMetrics(): void {
  const latency = Runtime.instance().metricMeter.createHistogram(
    'passerelle_operator_request_seconds',
    'float',
    's',
    'Operator HTTP calls: latency by operator, operation and outcome (2xx, 4xx, 5xx, unreachable, ambiguous)',
  );
  observeOperatorCalls((call) =>
    latency.record(call.seconds, {
      operator: call.operator,
      operation: call.operation,
      outcome: call.outcome,
    }),
  );
}

/**
 * The worker process's memory every 15 s (operations watch it; bench:idle reads it): resident set
 * (every thread: the workflow thread's V8 heap and the SDK's core included) and the main
 * thread's V8 heap, where activities and their database and HTTP clients live.
 */
export function recordProcessMemoryMetrics(): () => void {
  const gauge = Runtime.instance().metricMeter.createGauge(
    'passerelle_worker_memory_bytes',
    'int',
    'By',
    'Worker process memory: rss (whole process), heap_used and heap_total (main thread V8 heap), external, array_buffers',
  );
  const sample = () => {
    const m = process.memoryUsage();
    gauge.set(m.rss, { area: 'rss' });
    gauge.set(m.heapUsed, { area: 'heap_used' });
    gauge.set(m.heapTotal, { area: 'heap_total' });
    gauge.set(m.external, { area: 'external' });
    gauge.set(m.arrayBuffers, { area: 'array_buffers' });
  };
  sample();
  const timer = setInterval(sample, 15_000);
  timer.unref();
  return () => clearInterval(timer);
}
