/**
 * Crash test: a mixed stream of payins, payouts and refunds through the API while the worker, the
 * API, the Temporal dev server (restarted on the same SQLite file) and PostgreSQL (a cluster of its
 * own, restarted) are killed with SIGKILL at random moments. Loopback only, bounded in time.
 *
 * Beside ordinary traffic it plays the attacks and outages of docs/RELIABILITY.md ("Attacks
 * closed"), each a traffic kind counted in the summary: payers who change the amount on
 * PayGateGlobal's page (opted into for this run), notifications forged from an allowed address,
 * PayGateGlobal payouts whose look-up answers "absent" while they executed, sweeps that run while
 * Temporal cannot be reached, and (at the end) a settlement report that lags by a day.
 *
 * At the end, with everything up again and after one reconciliation (sweep, then the day's
 * settlement), it checks and prints:
 *   - every payment in a final state;
 *   - the ledger balanced, every hold captured or released, every succeeded payin credited once;
 *   - the sandbox's executed payouts equal to ours: none twice, none missing, none extra;
 *   - every callback the sandbox delivered (answered 2xx) present in our inbox;
 *   - no payin credited for more than its operator collected, none on a forged notification;
 *   - no disbursement executed twice anywhere, none released while executed;
 *   - every event delivered to the merchant's webhook endpoint (a receiver of this process that
 *     fails at random, answers too slowly, and disappears for a while), each verified with the
 *     endpoint's secret, none with a bad signature.
 * Exit code 1 if any check fails.
 *
 *   npm run chaos                              # 120 s of traffic and kills
 *   npm run chaos -- --seconds 60 --seed 7 --json
 *   npm run chaos -- --workers 2 --apis 2        # every process of each killed in turn
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createReconciliationActivities } from '../activities/reconciliation/index.js';
import { createOperators } from '../operators/registry.js';
import { checkLedger } from '../db/ledger.js';
import { cardVaultRing, loadConfig } from '../lib/config.js';
import { openCallbackRequest } from '../db/callbacks.js';
import { openPhone } from '../db/personal-vault.js';
import { OPERATORS, modesAtLiveEndpoint, operatorTiming } from '../lib/operators.js';
import { insertCardPayin } from '../db/card-authorisations.js';
import { insertProcessorCardPayinRows } from '../db/card-processor.js';
import { inTransaction } from '../db/pool.js';
import { vaultCard } from '../db/card-vault.js';
import { newId } from '../lib/ids.js';
import { createLogger } from '../lib/logger.js';
import { FINAL_STATUSES, type PaymentStatus } from '../lib/payments.js';
import { DATA_DIR, stopLocalPostgres } from '../scripts/infra.js';
import { BENCH_KEYS, markdownTable, runConcurrently, startBenchSystem, type BenchSystem } from './harness.js';
import { WebhookReceiver } from './webhook-receiver.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '120' },
    concurrency: { type: 'string', default: '6' },
    seed: { type: 'string' },
    workers: { type: 'string', default: '1' },
    apis: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
  },
});
const SECONDS = Number(values.seconds);
const CLIENTS = Number(values.concurrency);
const WORKERS = Number(values.workers);
const APIS = Number(values.apis);
if (!(SECONDS > 0) || ![CLIENTS, WORKERS, APIS].every((n) => Number.isInteger(n) && n >= 1)) {
  process.stderr.write(
    '--seconds is a positive number; --concurrency, --workers and --apis positive integers\n',
  );
  process.exit(64);
}
const seed = values.seed ? Number(values.seed) : Date.now() % 1_000_000;
const say = (s: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`);

/** Deterministic randomness from --seed (mulberry32), so that a failing run can be replayed. */
function mulberry32(from: number): () => number {
  let state = from >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
const random = mulberry32(seed);
const between = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Kind =
  | 'payin'
  | 'payout'
  | 'refund'
  /** A PayGateGlobal page payin whose payer pays a tenth of the amount (URL edited). */
  | 'tampered_page_payin'
  /** A TMoney online payin the payer never pays, with "OK" notifications forged from loopback. */
  | 'forged_notification'
  /** A PayGateGlobal payout that executes while its look-up answers "absent" (4108). */
  | 'lagging_lookup_payout'
  /** An MTN MoMo request to pay (Côte d'Ivoire): mostly approved, some declined, silent, repeated. */
  | 'mtn_payin'
  /** An MTN MoMo transfer (Bénin): mostly executed, some declined, ambiguous or lost. */
  | 'mtn_payout'
  /** An Orange Money WebPay payin (Côte d'Ivoire): a notification forged without its notif_token, then mostly paid. */
  | 'orange_payin'
  /** A card payin on GIM-UEMOA (made as the hosted checkout makes one, then its workflow started): some declined, lost, late, dropped. */
  | 'card_payin'
  /**
   * A Visa/Mastercard card payin at the processor, 3-D Secure frictionless (tokenised and recorded
   * as the hosted checkout does, then its workflow started): some declined, ambiguous (a 502 after
   * authorising, a slow answer), capture declined then voided.
   */
  | 'processor_card_payin';
interface Operation {
  kind: Kind;
  key: string;
  httpStatus?: number;
  id?: string;
  status?: string;
  retries: number;
  error?: string;
  /** The problem type of a 4xx answer. */
  problem?: string;
}

/** A merchant's client: the same Idempotency-Key until it hears an answer that is not 5xx. */
async function callApi(
  sys: BenchSystem,
  op: Operation,
  pathname: string,
  body: unknown,
): Promise<{ status: number; body: Record<string, unknown> } | undefined> {
  const giveUp = Date.now() + 180_000;
  for (;;) {
    try {
      const res = await fetch(`${sys.apiUrl}${pathname}`, {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${sys.merchant.apiKey}`,
          'Content-Type': 'application/json',
          'Idempotency-Key': op.key,
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(45_000),
      });
      const answer = (await res.json().catch(() => ({}))) as Record<string, unknown>;
      if (res.status < 500 && res.status !== 409) return { status: res.status, body: answer };
      op.error = `${res.status} ${typeof answer.type === 'string' ? answer.type : ''}`;
    } catch (err) {
      op.error = (err as Error).message;
    }
    if (Date.now() > giveUp) return undefined;
    op.retries++;
    await sleep(between(300, 1500));
  }
}

/** The payins a refund may be drawn from: LigdiCash's, MTN's and Orange's. */
const PAYIN_KINDS = new Set<Kind>(['payin', 'mtn_payin', 'orange_payin']);

/** The vault's keys and the acquirer's ids, as the benchmark's processes have them (loaded once). */
let cardConfig: ReturnType<typeof loadConfig> | undefined;

/** The chaos run's card switch port (the sandbox's; the workers connect to it). */
const GIM_PORT = 8683;

/**
 * A GIM-UEMOA card payin as the hosted checkout makes one: the card vaulted, the payment recorded, its
 * `cardPayin` workflow started (retried while PostgreSQL or Temporal is being killed).
 */
async function startCardPayin(sys: BenchSystem, amount: number): Promise<string> {
  const config = (cardConfig ??= loadConfig({
    ...BENCH_KEYS,
    DATABASE_URL: sys.databaseUrl,
    LOG_LEVEL: 'silent',
  }));
  const giveUp = Date.now() + 120_000;
  for (;;) {
    try {
      const card = await vaultCard(sys.pool, cardVaultRing(config), {
        pan: '4970100000000014',
        expiry: '2812',
      });
      const id = newId('pay');
      await insertCardPayin(sys.pool, {
        id,
        merchantId: sys.merchant.id,
        livemode: false,
        amount,
        currency: 'XOF',
        card,
        deadlineAt: new Date(Date.now() + 600_000),
        acquirer: config.GIM_ACQUIRER_ID,
      });
      for (;;) {
        try {
          await sys.temporal.workflow.start('cardPayin', {
            taskQueue: 'passerelle-payments',
            workflowId: `payin-${id}`,
            args: [{ paymentId: id }],
          });
          return id;
        } catch (err) {
          if (Date.now() > giveUp) throw err;
          await sleep(1_000);
        }
      }
    } catch (err) {
      if (Date.now() > giveUp) throw err;
      await sleep(1_000);
    }
  }
}

/**
 * A Visa/Mastercard card payin as the hosted checkout makes one: the card tokenised at the
 * processor (with its security code), vaulted, the payment and its 3-D Secure identity recorded,
 * its `cardProcessorPayin` workflow started (retried while PostgreSQL or Temporal is being killed).
 */
async function startProcessorCardPayin(sys: BenchSystem, amount: number, n: number): Promise<string> {
  const config = (cardConfig ??= loadConfig({
    ...BENCH_KEYS,
    DATABASE_URL: sys.databaseUrl,
    LOG_LEVEL: 'silent',
  }));
  const giveUp = Date.now() + 120_000;
  const pan = n % 2 ? '4000000000000101' : '5200000000000106';
  for (;;) {
    try {
      const tokenised = await fetch(`${sys.sandboxUrl}/processor/v1/tokens`, {
        method: 'POST',
        headers: { Authorization: 'Bearer sandbox-processor-key', 'Content-Type': 'application/json' },
        body: JSON.stringify({
          card: { number: pan, expiryMonth: '12', expiryYear: '2030', securityCode: '737' },
        }),
        signal: AbortSignal.timeout(5_000),
      });
      const { id: processorToken } = (await tokenised.json()) as { id: string };
      const card = await vaultCard(sys.pool, cardVaultRing(config), { pan, expiry: '3012' });
      const id = newId('pay');
      await inTransaction(sys.pool, (client) =>
        insertProcessorCardPayinRows(client, {
          id,
          merchantId: sys.merchant.id,
          livemode: false,
          amount,
          currency: 'XOF',
          card,
          processorToken,
          threeDSServerTransID: randomUUID(),
          browser: { acceptHeader: 'text/html', userAgent: 'chaos', language: 'fr' },
          deadlineAt: new Date(Date.now() + 600_000),
          returnUrl: `${sys.apiUrl}/pay/chaos-${id}`,
        }),
      );
      for (;;) {
        try {
          await sys.temporal.workflow.start('cardProcessorPayin', {
            taskQueue: 'passerelle-payments',
            workflowId: `payin-${id}`,
            args: [{ paymentId: id, challengeSeconds: 600 }],
          });
          return id;
        } catch (err) {
          if (Date.now() > giveUp) throw err;
          await sleep(1_000);
        }
      }
    } catch (err) {
      if (Date.now() > giveUp) throw err;
      await sleep(1_000);
    }
  }
}

const payerNumber = (n: number) => `+22670${String(100_000 + n).padStart(6, '0')}`;
const recipientNumber = (n: number) => `+22676${String(100_000 + n).padStart(6, '0')}`;

async function main() {
  const clusterDir = path.join(DATA_DIR, 'chaos-postgres');
  stopLocalPostgres(clusterDir);
  say(
    `• seed ${seed}; starting the system (own PostgreSQL cluster on :5499, Temporal on SQLite, ` +
      `${WORKERS} worker(s), ${APIS} API(s))`,
  );
  const sys = await startBenchSystem({
    name: 'chaos',
    workers: WORKERS,
    apis: APIS,
    apiPort: 3200,
    sandboxPort: 4200,
    temporalPort: 7499,
    databaseUrl: 'postgres://postgres@127.0.0.1:5499/passerelle_chaos',
    postgresClusterDir: clusterDir,
    supervise: true,
    env: {
      LIGDICASH_PAYIN_DEADLINE_SECONDS: '60',
      LIGDICASH_PAYOUT_DEADLINE_SECONDS: '60',
      LIGDICASH_HTTP_TIMEOUT_MS: '3000',
      LIGDICASH_POLL_MAX_SECONDS: '15',
      // Opted into for this run only: payers attack PayGateGlobal's page (tampered_page_payin).
      PAYGATE_UNSAFE_HOSTED_PAGE: 'true',
      PAYGATE_PAYIN_DEADLINE_SECONDS: '60',
      PAYGATE_PAYOUT_DEADLINE_SECONDS: '60',
      ORANGE_PAYIN_DEADLINE_SECONDS: '60',
      ORANGE_PAYOUT_DEADLINE_SECONDS: '60',
      ORANGE_HTTP_TIMEOUT_MS: '3000',
      ORANGE_POLL_MAX_SECONDS: '15',
      MTN_PAYIN_DEADLINE_SECONDS: '60',
      MTN_PAYOUT_DEADLINE_SECONDS: '60',
      MTN_HTTP_TIMEOUT_MS: '3000',
      MTN_POLL_MAX_SECONDS: '15',
      TMONEY_SESSION_SECONDS: '20',
      TMONEY_NOTIFICATION_GRACE_SECONDS: '5',
      SWEEP_RECHECK_MINUTES: '0',
      INITIATION_WAIT_SECONDS: '10',
      // Webhooks: a receiver slower than 2 s has failed; retries within seconds, for 10 minutes.
      WEBHOOK_TIMEOUT_MS: '2000',
      WEBHOOK_RETRY_SECONDS: '1,2,4,8',
      WEBHOOK_RETRY_WINDOW_SECONDS: '600',
      // The card switch of the sandbox, on a port of this run's own (docs/gim-uemoa.md).
      GIM_HOST: '127.0.0.1',
      GIM_PORT: String(GIM_PORT),
      GIM_TIMEOUT_MS: '3000',
    },
    sandboxEnv: {
      SANDBOX_GIM_PORT: String(GIM_PORT),
      SANDBOX_GIM_LATE_MS: '6000',
      SANDBOX_APPROVAL_DELAY_MS: '300',
      SANDBOX_PROCESSING_DELAY_MS: '200',
      SANDBOX_AMBIGUOUS_DELAY_MS: '5000',
      SANDBOX_CALLBACK_RETRIES: '10',
    },
  });
  const ops: Operation[] = [];
  const blind = { runs: 0, failed: 0 };
  const lagging = { omitted: 0, releasedWhileOmitted: 0 };
  const kills: { at: string; victim: string; downMs: number; upMs: number }[] = [];
  let counter = 0;
  // The merchant's webhook receiver: its own randomness, so that the traffic stays the seed's.
  const receiver = new WebhookReceiver({
    random: mulberry32(seed + 1),
    failRate: 0.15,
    slowRate: 0.05,
    slowMs: 3_000,
  });
  const outages: number[] = [];
  try {
    await receiver.start();
    const endpoint = await fetch(`${sys.apiUrl}/v1/webhook-endpoints`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${sys.merchant.apiKey}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ url: receiver.url, description: 'chaos receiver' }),
    });
    if (endpoint.status !== 201) throw new Error(`webhook endpoint not created: HTTP ${endpoint.status}`);
    const created = (await endpoint.json()) as { id: string; secret: string };
    receiver.secret = created.secret;
    say(`• webhook endpoint ${created.id} → ${receiver.url} (fails 15 %, slow 5 %, disappears twice)`);
    // Money to pay out: a few payins before the storm.
    say('• funding the merchant');
    await runConcurrently(8, 4, async (i) => {
      const op: Operation = { kind: 'payin', key: `fund-${i}`, retries: 0 };
      ops.push(op);
      const answer = await callApi(sys, op, '/v1/payins', {
        amount: 200_000,
        currency: 'XOF',
        mode: 'direct',
        customer: { phone: payerNumber(799_000 + i) },
      });
      op.httpStatus = answer?.status;
      op.id = answer?.body.id as string | undefined;
    });
    await waitUntil(sys, 'funding payins final', 120_000, async () => (await nonFinal(sys)).length === 0);

    const until = Date.now() + SECONDS * 1000;
    say(`• ${SECONDS} s of traffic (${CLIENTS} clients) and kills`);
    const traffic = Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (Date.now() < until) {
          const n = counter++;
          const roll = random();
          const kinds: [number, Kind][] = [
            [0.33, 'payin'],
            [0.53, 'payout'],
            [0.64, 'refund'],
            [0.71, 'mtn_payin'],
            [0.78, 'mtn_payout'],
            [0.85, 'orange_payin'],
            [0.88, 'card_payin'],
            [0.91, 'processor_card_payin'],
            [0.93, 'tampered_page_payin'],
            [0.96, 'forged_notification'],
            [1, 'lagging_lookup_payout'],
          ];
          const kind: Kind = kinds.find(([upTo]) => roll < upTo)![1];
          const op: Operation = { kind, key: `chaos-${seed}-${n}`, retries: 0 };
          let answer;
          if (kind !== 'refund') ops.push(op);
          if (kind === 'payin') {
            // Mostly ordinary payers; some decline, stay silent (polling only) or call back three times.
            const amount = random() < 0.8 ? between(1_100, 9_000) : pick([1_001, 1_003, 1_005]);
            answer = await callApi(sys, op, '/v1/payins', {
              amount,
              currency: 'XOF',
              mode: 'direct',
              customer: { phone: payerNumber(n) },
            });
          } else if (kind === 'payout') {
            // Mostly executed; some declined, ambiguous (timeout or 5xx after executing), lost, or called back three times.
            const amount = random() < 0.75 ? between(500, 3_000) : pick([2_001, 2_002, 2_003, 2_005, 2_009]);
            answer = await callApi(sys, op, '/v1/payouts', {
              amount,
              currency: 'XOF',
              recipient: { phone: recipientNumber(n) },
            });
          } else if (kind === 'mtn_payin') {
            const amount = random() < 0.8 ? between(1_100, 9_000) : pick([6_001, 6_002, 6_003, 6_005]);
            answer = await callApi(sys, op, '/v1/payins', {
              amount,
              currency: 'XOF',
              mode: 'direct',
              customer: { phone: `+225050${String(1_000_000 + n).padStart(7, '0')}` },
            });
          } else if (kind === 'mtn_payout') {
            const amount = random() < 0.7 ? between(500, 3_000) : pick([6_101, 6_102, 6_103, 6_106]);
            answer = await callApi(sys, op, '/v1/payouts', {
              amount,
              currency: 'XOF',
              recipient: { phone: `+2290196${String(100_000 + n).padStart(6, '0')}` },
            });
          } else if (kind === 'orange_payin') {
            answer = await callApi(sys, op, '/v1/payins', {
              amount: between(1_100, 9_000),
              currency: 'XOF',
              customer: { phone: `+225070${String(1_000_000 + n).padStart(7, '0')}` },
            });
            const id = answer?.body.id as string | undefined;
            if (id) await forgeOrangeNotification(sys, id);
            if (id && random() < 0.8)
              await payOnOrangePage(sys, id).catch((err: Error) => (op.error = err.message));
          } else if (kind === 'card_payin') {
            const amount = random() < 0.7 ? between(1_000, 9_000) : pick([7_002, 7_005, 7_006, 7_008, 7_009]);
            const id = await startCardPayin(sys, amount).catch((err: Error) => {
              op.error = err.message;
              return undefined;
            });
            answer = id ? { status: 201, body: { id } } : undefined;
          } else if (kind === 'processor_card_payin') {
            const amount = random() < 0.7 ? between(1_000, 9_000) : pick([8_001, 8_002, 8_003, 8_004, 8_006]);
            const id = await startProcessorCardPayin(sys, amount, n).catch((err: Error) => {
              op.error = err.message;
              return undefined;
            });
            answer = id ? { status: 201, body: { id } } : undefined;
          } else if (kind === 'tampered_page_payin') {
            answer = await callApi(sys, op, '/v1/payins', {
              amount: between(50, 200) * 100,
              currency: 'XOF',
              operator: 'paygate',
              mode: 'redirect',
            });
            const url = (answer?.body.next_action as { url?: string } | undefined)?.url;
            if (url) await payLessOnThePage(url).catch((err: Error) => (op.error = err.message));
          } else if (kind === 'forged_notification') {
            answer = await callApi(sys, op, '/v1/payins', {
              amount: 3_009, // the payer never pays
              currency: 'XOF',
              customer: { phone: `+22890${String(100_000 + n).padStart(6, '0')}` },
            });
            const id = answer?.body.id as string | undefined;
            if (id) await forgeNotifications(sys, id, 3_009);
          } else if (kind === 'lagging_lookup_payout') {
            answer = await callApi(sys, op, '/v1/payouts', {
              amount: 4_108,
              currency: 'XOF',
              recipient: { phone: `+22896${String(100_000 + n).padStart(6, '0')}` },
            });
          } else {
            const paid = ops.filter((o) => PAYIN_KINDS.has(o.kind) && o.id && o.status === 'succeeded');
            if (paid.length === 0) continue;
            ops.push(op);
            const payin = pick(paid);
            answer = await callApi(sys, op, `/v1/payins/${payin.id}/refunds`, {
              amount: between(500, 1_500),
            });
          }
          op.httpStatus = answer?.status;
          op.id = answer?.body.id as string | undefined;
          op.status = answer?.body.status as string | undefined;
          if (answer && answer.status >= 400) op.problem = String(answer.body.type);
          // Payins are looked at again later to know which can be refunded.
          if (PAYIN_KINDS.has(kind) && op.id) void refreshLater(sys, op);
        }
      }),
    );

    const monkey = (async () => {
      // Every worker and API process, Temporal and PostgreSQL, each once per cycle in random order.
      const victims = [
        ...sys.instances.filter((name) => name !== 'sandbox'),
        'temporal',
        'postgres',
      ] as const;
      let cycle: (typeof victims)[number][] = [];
      while (Date.now() < until - 5_000) {
        await sleep(between(6_000, 14_000));
        if (Date.now() >= until - 5_000) break;
        if (cycle.length === 0) cycle = [...victims].sort(() => random() - 0.5);
        const victim = cycle.pop()!;
        const downMs = between(500, 4_000);
        const at = new Date().toISOString();
        say(`  ✗ SIGKILL ${victim}; back in ${downMs} ms`);
        if (victim === 'temporal') await sys.killTemporal();
        else if (victim === 'postgres') {
          const pid = sys.postgres.postmasterPid?.();
          if (pid) process.kill(pid, 'SIGKILL');
        } else await sys.kill(victim, 'SIGKILL');
        await sleep(downMs);
        const restarting = Date.now();
        if (victim === 'temporal') await sys.startTemporal();
        else if (victim === 'postgres') await sys.postgres.start!();
        else await sys.start(victim);
        kills.push({ at, victim, downMs, upMs: Date.now() - restarting });
      }
    })();
    // Sweeps that cannot see Temporal (its connection closed): they must leave open payments alone.
    const blindSweeps = (async () => {
      while (Date.now() < until - 5_000) {
        await sleep(between(5_000, 10_000));
        for (const operator of ['ligdicash', 'tmoney'] as const) {
          await blindSweep(sys, operator, `chaos-blind-${seed}-${blind.runs}`)
            .then(() => blind.runs++)
            .catch(() => blind.failed++);
        }
      }
    })();
    // The merchant's server disappears twice for a while (connections refused), then comes back.
    const receiverOutages = (async () => {
      for (let i = 0; i < 2 && Date.now() < until - 20_000; i++) {
        await sleep(between(5_000, Math.max(5_000, (until - Date.now()) / 2 - 15_000)));
        const ms = between(8_000, 15_000);
        say(`  ✗ webhook receiver gone for ${ms} ms`);
        outages.push(ms);
        await receiver.disappear(ms);
      }
    })();
    await Promise.all([traffic, monkey, blindSweeps, receiverOutages]);

    say('• storm over; waiting for open payments to end');
    await waitUntil(sys, 'payments final or unknown', 300_000, async () =>
      (await nonFinal(sys)).every((p) => p.status === 'unknown'),
    ).catch((err: Error) => say(`  ${err.message}`));
    // Sessions and pages still open end by their deadlines (TMoney 25 s, PayGateGlobal 60 s).
    const beforeReconciliation = await nonFinal(sys);

    say(
      '• reconciliation: sweeps, a day’s report that lags (payouts of unknown outcome missing), then the full report',
    );
    const today = new Date().toISOString().slice(0, 10);
    const reconcile = async (
      type: 'sweep' | 'settlementReconciliation',
      operator: string,
      tag: string,
    ): Promise<void> => {
      await sys.temporal.workflow.execute(type, {
        taskQueue: 'passerelle-payments',
        workflowId: `chaos-${type}-${operator}-${tag}-${seed}`,
        args: [
          type === 'sweep'
            ? { operator, triggeredBy: 'chaos' }
            : { operator, day: today, triggeredBy: 'chaos' },
        ],
      });
    };
    for (const operator of OPERATORS) await reconcile('sweep', operator, 'end');
    // The operator's first report lags: the payouts we do not know the outcome of are not on it.
    const { rows: unknownPayouts } = await sys.pool.query<{ id: string }>(
      "SELECT id FROM payments WHERE kind IN ('payout', 'refund') AND status = 'unknown' AND operator = 'ligdicash'",
    );
    lagging.omitted = unknownPayouts.length;
    await fetch(`${sys.sandboxUrl}/ligdicash/_sandbox/report-adjustments`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(unknownPayouts.map((p) => ({ type: 'omit', reference: p.id }))),
    });
    await reconcile('settlementReconciliation', 'ligdicash', 'lagging');
    const { rows: released } = await sys.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM payments WHERE id = ANY($1::text[]) AND status = 'failed'",
      [unknownPayouts.map((p) => p.id)],
    );
    lagging.releasedWhileOmitted = released[0]!.n;
    await fetch(`${sys.sandboxUrl}/ligdicash/_sandbox/report-adjustments`, { method: 'DELETE' });
    for (const operator of OPERATORS) await reconcile('settlementReconciliation', operator, 'full');
    await waitUntil(sys, 'payments final', 120_000, async () => (await nonFinal(sys)).every(forReview)).catch(
      (err: Error) => say(`  ${err.message}`),
    );

    say('• waiting for every event to reach the webhook receiver');
    const undelivered = async () => {
      const { rows } = await sys.pool.query<{ id: string }>('SELECT id FROM events WHERE merchant_id = $1', [
        sys.merchant.id,
      ]);
      return rows.filter((r) => !receiver.delivered.has(r.id)).map((r) => r.id);
    };
    await waitUntil(
      sys,
      'every event delivered',
      240_000,
      async () => (await undelivered()).length === 0,
    ).catch((err: Error) => say(`  ${err.message}`));
    const checks = await verify(sys);
    const missing = await undelivered();
    const eventCount = await sys.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM events WHERE merchant_id = $1',
      [sys.merchant.id],
    );
    const attempts = await sys.pool.query<{ n: number; deliveries: number }>(
      'SELECT count(*)::int AS n, count(DISTINCT delivery_id)::int AS deliveries FROM webhook_attempts',
    );
    checks.results.push({
      name: 'every event delivered to the webhook endpoint, each verified with its secret',
      ok: missing.length === 0 && eventCount.rows[0]!.n > 0,
      detail:
        `${eventCount.rows[0]!.n} events, ${receiver.delivered.size} verified and acknowledged; ` +
        `${attempts.rows[0]!.n} attempts for ${attempts.rows[0]!.deliveries} deliveries; receiver answers ${JSON.stringify(receiver.answers)}; ` +
        `outages ${JSON.stringify(outages)} ms` +
        (missing.length
          ? `; missing: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? '…' : ''}`
          : ''),
    });
    checks.results.push({
      name: 'no webhook with a bad signature',
      ok: receiver.badSignatures === 0,
      detail: `${receiver.badSignatures} deliveries failed verification`,
    });
    checks.results.push({
      name: 'a report that lags by a day releases no hold',
      ok: lagging.releasedWhileOmitted === 0,
      detail: `${lagging.omitted} payouts of unknown outcome missing from the first report; released on it: ${lagging.releasedWhileOmitted}`,
    });
    checks.results.push({
      name: 'sweeps ran while Temporal could not be reached',
      ok: blind.runs > 0,
      detail: `${blind.runs} blind sweeps (${blind.failed} failed to run)`,
    });
    const summary = {
      seed,
      seconds: SECONDS,
      clients: CLIENTS,
      requests: ops.length,
      by_kind: countBy(ops, (o) => o.kind),
      answers: countBy(ops, (o) => String(o.httpStatus ?? 'none')),
      refusals: countBy(
        ops.filter((o) => o.problem),
        (o) => `${o.kind} ${o.httpStatus} ${o.problem}`,
      ),
      unanswered: ops.filter((o) => !o.httpStatus).map((o) => ({ kind: o.kind, key: o.key, error: o.error })),
      client_retries: ops.reduce((n, o) => n + o.retries, 0),
      kills: countBy(kills, (k) => k.victim),
      blind_sweeps: blind.runs,
      lagging_report: lagging,
      crashes_restarted_by_supervisor: sys.unexpectedExits,
      kill_log: kills,
      not_final_before_reconciliation: countBy(beforeReconciliation, (p) => `${p.kind}:${p.status}`),
      ...checks.figures,
      checks: checks.results,
      passed: checks.results.every((c) => c.ok),
    };
    if (values.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    process.stdout.write(
      `\nseed ${seed}: ${ops.length} requests (${JSON.stringify(summary.by_kind)}), answers ${JSON.stringify(summary.answers)}, ` +
        `${summary.client_retries} client retries; kills ${JSON.stringify(summary.kills)}; ` +
        `crashes restarted by the supervisor ${JSON.stringify(sys.unexpectedExits)}\n` +
        `refusals (4xx): ${JSON.stringify(summary.refusals)}; unanswered after 180 s of retries: ${summary.unanswered.length}\n` +
        `payments by final state: ${JSON.stringify(checks.figures.payments_by_state)}\n\n` +
        `${markdownTable(checks.results.map((c) => ({ check: c.name, ok: c.ok ? 'yes' : 'NO', detail: c.detail })))}\n`,
    );
    process.exitCode = summary.passed ? 0 : 1;
  } finally {
    await receiver.stop();
    await sys.stop();
  }
}

/** The payer opens PayGateGlobal's page with a tenth of the amount in its URL, and pays that. */
async function payLessOnThePage(url: string): Promise<void> {
  const page = new URL(url);
  page.searchParams.set(
    'amount',
    String(Math.max(1, Math.floor(Number(page.searchParams.get('amount')) / 10))),
  );
  const html = await (await fetch(page, { signal: AbortSignal.timeout(10_000) })).text();
  const fields = Object.fromEntries(
    [...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((f) => [f[1]!, f[2]!]),
  );
  const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
  if (!action) throw new Error('no form on the page');
  await fetch(action.replace(/&amp;/g, '&'), {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ...fields, network: 'TMONEY', phone: '90112233', action: 'pay' }).toString(),
    redirect: 'manual',
    signal: AbortSignal.timeout(10_000),
  });
}

/** "OK" notifications for a payin nobody paid, from this machine (on the allow-list), without our token. */
async function forgeNotifications(sys: BenchSystem, paymentId: string, amount: number): Promise<void> {
  const query = new URLSearchParams({
    purchaseref: paymentId,
    amount: String(amount),
    currency: '952',
    status: 'OK',
    error: '',
    payid: '1',
    paymentref: 'forged',
    mobile: '22890000000',
    clientid: '',
    cname: '',
    timestamp: String(Math.floor(Date.now() / 1000)),
  }).toString();
  for (const path of ['/v1/callbacks/tmoney', '/v1/callbacks/tmoney/guessed-token-0000000000000']) {
    await fetch(`${sys.apiUrl}${path}?${query}`, { signal: AbortSignal.timeout(5_000) }).catch(
      () => undefined,
    );
  }
}

/** A notification for an Orange payin, from this machine, with a notif_token Orange never gave. */
async function forgeOrangeNotification(sys: BenchSystem, paymentId: string): Promise<void> {
  await fetch(`${sys.apiUrl}/v1/callbacks/orange?order_id=${paymentId}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      status: 'SUCCESS',
      notif_token: 'f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0',
      txnid: 'MPforged',
    }),
    signal: AbortSignal.timeout(5_000),
  }).catch(() => undefined);
}

/** The payer pays on Orange's page (the sandbox's control route does what its form does). */
async function payOnOrangePage(sys: BenchSystem, paymentId: string): Promise<void> {
  const giveUp = Date.now() + 60_000;
  // The payin reaches Orange once the worker sends it: wait for its webpayment.
  while (Date.now() < giveUp) {
    const res = await fetch(`${sys.sandboxUrl}/orange/_sandbox/transactions/${paymentId}/pay`, {
      method: 'POST',
      signal: AbortSignal.timeout(5_000),
    }).catch(() => undefined);
    if (res?.ok) return;
    await sleep(500);
  }
  throw new Error(`Orange payin ${paymentId} never reached Orange`);
}

/** A sweep whose Temporal client cannot reach the server (its connection closed). */
async function blindSweep(sys: BenchSystem, operator: 'ligdicash' | 'tmoney', runId: string): Promise<void> {
  const connection = await Connection.connect({ address: sys.temporalAddress });
  const unreachable = new Client({ connection });
  await connection.close();
  const config = loadConfig({
    DATABASE_URL: sys.databaseUrl,
    SANDBOX_URL: sys.sandboxUrl,
    LIGDICASH_HTTP_TIMEOUT_MS: '3000',
    LOG_LEVEL: 'silent',
  });
  const activities = createReconciliationActivities({
    pool: sys.pool,
    operators: createOperators(config),
    vault: cardVaultRing(config),
    logger: createLogger({ level: 'silent' }),
    timingFor: (op) => operatorTiming(config, op),
    settlementModes: (op) => modesAtLiveEndpoint(config, op),
    sweep: { lookbackDays: 1, batch: 200, recheckMinutes: 0 },
  });
  // The activity's context gives it the unreachable client, as a worker gives its own.
  await new MockActivityEnvironment({}, { client: unreachable }).run(activities.sweepOperator, {
    runId,
    operator,
    triggeredBy: 'chaos',
  });
}

/**
 * Left for a person, on purpose: a disbursement the operator cannot confirm (kept on hold), or a
 * payin whose amount the operator never stated as ours (never credited).
 */
function forReview(p: { kind: string; status: string; failure_code: string | null }): boolean {
  return (
    p.status === 'unknown' &&
    (p.kind !== 'payin' ||
      ['amount_unconfirmed', 'amount_mismatch', 'amount_unreadable'].includes(p.failure_code ?? ''))
  );
}

async function refreshLater(sys: BenchSystem, op: Operation): Promise<void> {
  await sleep(5_000);
  const res = await fetch(`${sys.apiUrl}/v1/payins/${op.id}`, {
    headers: { Authorization: `Bearer ${sys.merchant.apiKey}` },
  }).catch(() => undefined);
  if (res?.ok) op.status = ((await res.json()) as { status: string }).status;
}

function countBy<T>(xs: T[], key: (x: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[key(x)] = (out[key(x)] ?? 0) + 1;
  return out;
}

async function nonFinal(
  sys: BenchSystem,
): Promise<{ id: string; kind: string; status: string; failure_code: string | null }[]> {
  const { rows } = await sys.pool
    .query<{ id: string; kind: string; status: string; failure_code: string | null }>(
      'SELECT id, kind, status, failure_code FROM payments WHERE NOT (status = ANY($1))',
      [[...FINAL_STATUSES]],
    )
    .catch(() => ({ rows: [{ id: '?', kind: '?', status: 'database unavailable', failure_code: null }] }));
  return rows;
}

async function waitUntil(sys: BenchSystem, what: string, ms: number, done: () => Promise<boolean>) {
  const deadline = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > deadline) {
      const left = await nonFinal(sys);
      throw new Error(
        `${what}: not reached in ${ms / 1000} s (${left.length} left: ${JSON.stringify(countBy(left, (p) => `${p.kind}:${p.status}`))})`,
      );
    }
    await sleep(1_000);
  }
}

interface SandboxDelivery {
  httpStatus: number | null;
}
interface SandboxInvoice {
  customData: { transaction_id?: string };
  callbacks: SandboxDelivery[];
}
interface SandboxWithdrawal {
  transactionId: string;
  executed: boolean;
  callbacks: SandboxDelivery[];
}

async function verify(sys: BenchSystem) {
  const results: { name: string; ok: boolean; detail: string }[] = [];
  const check = (name: string, ok: boolean, detail: string) => results.push({ name, ok, detail });
  const { pool } = sys;

  const { rows: payments } = await pool.query<{
    id: string;
    kind: string;
    status: string;
    operator: string;
    mode: string;
    amount: number;
    failure_code: string | null;
  }>('SELECT id, kind, status, operator, mode, amount, failure_code FROM payments');
  const open = payments.filter((p) => !FINAL_STATUSES.has(p.status as PaymentStatus) && !forReview(p));
  const reviewed = payments.filter(forReview);
  check(
    'every payment final, or left for a person on purpose',
    open.length === 0,
    (open.length
      ? `${open.length} not final: ${JSON.stringify(countBy(open, (p) => `${p.kind}:${p.status}`))}`
      : `${payments.length} payments`) +
      `; for review: ${JSON.stringify(countBy(reviewed, (p) => `${p.kind}:${p.failure_code ?? ''}`))}`,
  );

  const ledger = await checkLedger(pool);
  check(
    'ledger balanced',
    Object.values(ledger).every((n) => n === 0),
    JSON.stringify(ledger),
  );
  const { rows: holds } = await pool.query<{
    open_holds: number;
    wrong_settlement: number;
    payins_wrong: number;
  }>(
    `SELECT
       (SELECT count(*) FROM payments p WHERE p.kind IN ('payout', 'refund') AND p.status <> 'unknown'
          AND EXISTS (SELECT 1 FROM journal_entries e WHERE e.payment_id = p.id AND e.step = 'hold')
          AND NOT EXISTS (SELECT 1 FROM journal_entries e WHERE e.payment_id = p.id AND e.step IN ('capture', 'release')))::int AS open_holds,
       (SELECT count(*) FROM payments p WHERE p.kind IN ('payout', 'refund') AND (
          (p.status = 'succeeded' AND NOT EXISTS (SELECT 1 FROM journal_entries e WHERE e.payment_id = p.id AND e.step = 'capture'))
          OR (p.status = 'failed' AND EXISTS (SELECT 1 FROM journal_entries e WHERE e.payment_id = p.id AND e.step = 'capture'))))::int AS wrong_settlement,
       (SELECT count(*) FROM payments p WHERE p.kind = 'payin' AND
          (CASE WHEN p.status IN ('succeeded', 'partially_refunded', 'refunded') THEN 1 ELSE 0 END) <>
          (SELECT count(*) FROM journal_entries e WHERE e.payment_id = p.id AND e.credits_payment))::int AS payins_wrong`,
  );
  const h = holds[0]!;
  check(
    'every hold captured or released, as its payment ended',
    h.open_holds === 0 && h.wrong_settlement === 0,
    `${h.open_holds} holds open, ${h.wrong_settlement} payouts settled against their status`,
  );
  check(
    'every paid payin credited exactly once, no other',
    h.payins_wrong === 0,
    `${h.payins_wrong} payins credited against their status (or more than once)`,
  );

  // PayGateGlobal: what its payers really paid, and what it really paid out.
  const paygate = (await (await fetch(`${sys.sandboxUrl}/paygate/_sandbox/transactions`)).json()) as {
    identifier: string;
    kind: 'payment' | 'disbursement';
    amount: number;
    status: number;
    executed: boolean;
  }[];
  const paidAtPaygate = new Map(
    paygate.filter((t) => t.kind === 'payment' && t.status === 0).map((t) => [t.identifier, t.amount]),
  );
  const overCredited = payments.filter(
    (p) =>
      p.kind === 'payin' &&
      p.operator === 'paygate' &&
      ['succeeded', 'partially_refunded', 'refunded'].includes(p.status) &&
      paidAtPaygate.get(p.id) !== p.amount,
  );
  const tampered = payments.filter(
    (p) => p.operator === 'paygate' && p.kind === 'payin' && (paidAtPaygate.get(p.id) ?? p.amount) < p.amount,
  );
  check(
    'no payin credited for more than its operator collected',
    overCredited.length === 0,
    `${tampered.length} PayGateGlobal payers paid less than asked; credited anyway: ${overCredited.length}`,
  );
  const disbursedAtPaygate = countBy(
    paygate.filter((t) => t.kind === 'disbursement' && t.executed),
    (t) => t.identifier,
  );
  const paygateTwice = Object.values(disbursedAtPaygate).filter((n) => n > 1).length;
  const releasedButExecuted = payments.filter(
    (p) => p.kind !== 'payin' && p.status === 'failed' && disbursedAtPaygate[p.id],
  );
  check(
    'no PayGateGlobal payout executed twice, none released while executed',
    paygateTwice === 0 && releasedButExecuted.length === 0,
    `${Object.keys(disbursedAtPaygate).length} executed; twice: ${paygateTwice}; released here while executed: ${releasedButExecuted.length}`,
  );

  // TMoney online: a payin credited here was paid on TMoney's page, never on a forged notification.
  const sessions = (await (await fetch(`${sys.sandboxUrl}/tmoney/_sandbox/sessions`)).json()) as {
    status: string;
    order?: { purchaseref: string };
  }[];
  const paidOnline = new Set(sessions.filter((x) => x.status === 'paid').map((x) => x.order?.purchaseref));
  const creditedOnline = payments.filter(
    (p) => p.operator === 'tmoney' && p.kind === 'payin' && p.mode === 'redirect' && p.status === 'succeeded',
  );
  const forgedCredits = creditedOnline.filter((p) => !paidOnline.has(p.id));
  const { rows: forged } = await pool.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM operator_callbacks WHERE operator = 'tmoney' AND reject_reason LIKE 'notification token%'",
  );
  check(
    'no payin credited on a forged notification',
    forgedCredits.length === 0,
    `${forged[0]!.n} forged notifications refused; TMoney online payins credited without a payment: ${forgedCredits.length}`,
  );

  const withdrawals = (await (
    await fetch(`${sys.sandboxUrl}/ligdicash/_sandbox/withdrawals`)
  ).json()) as SandboxWithdrawal[];
  const paygateDisbursements = (
    (await (await fetch(`${sys.sandboxUrl}/paygate/_sandbox/transactions`)).json()) as {
      identifier: string;
      kind: string;
      executed: boolean;
    }[]
  ).filter((t) => t.kind === 'disbursement' && t.executed);
  const mtnTransfers = (
    (await (await fetch(`${sys.sandboxUrl}/mtn/_sandbox/transactions`)).json()) as {
      externalId?: string;
      product: string;
      executed: boolean;
    }[]
  ).filter((t) => t.product === 'disbursement' && t.executed);
  const orangeTransactions = (await (
    await fetch(`${sys.sandboxUrl}/orange/_sandbox/transactions`)
  ).json()) as {
    orderId: string;
    kind: string;
    status: string;
  }[];
  // Payouts and refunds go through LigdiCash, MTN (transfers), Orange (refunds of its payins) and
  // (lagging_lookup_payout) PayGateGlobal.
  const executedTimes = countBy(
    [
      ...withdrawals.filter((w) => w.executed).map((w) => w.transactionId),
      ...paygateDisbursements.map((t) => t.identifier),
      ...mtnTransfers.map((t) => t.externalId ?? '?'),
      ...orangeTransactions
        .filter((t) => t.kind !== 'webpayment' && t.status === 'SUCCESS')
        .map((t) => t.orderId),
    ],
    (id) => id,
  );
  // Cards: at the switch, every authorisation it approved was captured or reversed, never both;
  // here, every card payin credited was captured there.
  const switchTxs = (await (await fetch(`${sys.sandboxUrl}/gim/_sandbox/transactions`)).json()) as {
    rrn: string;
    kind: string;
    responseCode: string | null;
    held: boolean;
    captured: number;
    reversed: boolean;
  }[];
  const approvedAtSwitch = switchTxs.filter(
    (t) => t.kind === 'authorisation' && (t.responseCode === '00' || t.held),
  );
  const unsettled = approvedAtSwitch.filter((t) => t.captured === 0 && !t.reversed);
  const both = approvedAtSwitch.filter((t) => t.captured > 0 && t.reversed);
  const { rows: cardRows } = await pool.query<{ rrn: string; status: string }>(
    `SELECT a.rrn, p.status FROM card_authorisations a JOIN payments p ON p.id = a.payment_id`,
  );
  const byRrn = new Map(switchTxs.map((t) => [t.rrn, t]));
  const creditedNotCaptured = cardRows.filter(
    (r) => r.status === 'succeeded' && !(byRrn.get(r.rrn)?.captured ?? 0),
  );
  check(
    'every card authorisation captured or reversed at the switch, none both; every credited card payin captured',
    unsettled.length === 0 && both.length === 0 && creditedNotCaptured.length === 0,
    `${cardRows.length} card payins, ${approvedAtSwitch.length} approved at the switch; left open: ${unsettled.length}; ` +
      `captured and reversed: ${both.length}; credited here but not captured: ${creditedNotCaptured.length}`,
  );

  // The card processor: no payment left authorised (each captured or voided); every card payin
  // credited here captured there, and none captured there that is not credited here.
  const atProcessor = (await (await fetch(`${sys.sandboxUrl}/processor/_sandbox/payments`)).json()) as {
    reference: string;
    status: string;
  }[];
  const { rows: processorRows } = await pool.query<{ id: string; status: string }>(
    `SELECT p.id, p.status FROM card_processor_payments c JOIN payments p ON p.id = c.payment_id`,
  );
  const ourStatus = new Map(processorRows.map((r) => [r.id, r.status]));
  const leftAuthorised = atProcessor.filter((p) => p.status === 'authorised');
  const capturedNotCredited = atProcessor.filter(
    (p) => p.status === 'captured' && ourStatus.get(p.reference) !== 'succeeded',
  );
  const creditedNotCapturedThere = processorRows.filter(
    (r) =>
      r.status === 'succeeded' && !atProcessor.some((p) => p.reference === r.id && p.status === 'captured'),
  );
  check(
    'every processor card payment captured or voided, none left authorised; credited here if and only if captured there',
    leftAuthorised.length === 0 && capturedNotCredited.length === 0 && creditedNotCapturedThere.length === 0,
    `${processorRows.length} processor card payins, ${atProcessor.length} payments at the processor; left authorised: ` +
      `${leftAuthorised.length}; captured but not credited: ${capturedNotCredited.length}; credited but not captured: ` +
      `${creditedNotCapturedThere.length}`,
  );

  // Orange: a payin credited here was paid on Orange's page, never on a forged notification.
  const paidAtOrange = new Set(
    orangeTransactions.filter((t) => t.kind === 'webpayment' && t.status === 'SUCCESS').map((t) => t.orderId),
  );
  const orangeForged = payments.filter(
    (p) =>
      p.operator === 'orange' &&
      p.kind === 'payin' &&
      ['succeeded', 'partially_refunded', 'refunded'].includes(p.status) &&
      !paidAtOrange.has(p.id),
  );
  const { rows: orangeRefused } = await pool.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM operator_callbacks WHERE operator = 'orange' AND reject_reason LIKE 'notification token%'",
  );
  check(
    'no Orange payin credited on a notification without its notif_token',
    orangeForged.length === 0,
    `${orangeRefused[0]!.n} forged Orange notifications refused; credited without a payment at Orange: ${orangeForged.length}`,
  );
  const twice = Object.entries(executedTimes).filter(([, n]) => n > 1);
  const ours = new Set(
    payments.filter((p) => p.kind !== 'payin' && p.status === 'succeeded').map((p) => p.id),
  );
  const theirs = new Set(Object.keys(executedTimes));
  const missing = [...theirs].filter((id) => !ours.has(id));
  const extra = [...ours].filter((id) => !theirs.has(id));
  check(
    'sandbox executed payouts = our succeeded payouts and refunds',
    twice.length === 0 && missing.length === 0 && extra.length === 0,
    `${theirs.size} executed at the sandbox, ${ours.size} succeeded here; paid twice: ${twice.length}; ` +
      `executed but not succeeded here: ${missing.length}; succeeded here but not executed: ${extra.length}`,
  );

  const invoices = (await (
    await fetch(`${sys.sandboxUrl}/ligdicash/_sandbox/invoices`)
  ).json()) as SandboxInvoice[];
  const delivered = new Map<string, number>();
  for (const item of [
    ...invoices.map((i) => ({ id: i.customData.transaction_id ?? '', callbacks: i.callbacks })),
    ...withdrawals.map((w) => ({ id: w.transactionId, callbacks: w.callbacks })),
  ]) {
    const ok = item.callbacks.filter(
      (c) => c.httpStatus !== null && c.httpStatus >= 200 && c.httpStatus < 300,
    ).length;
    if (ok > 0 && item.id) delivered.set(item.id, (delivered.get(item.id) ?? 0) + ok);
  }
  // Each stored callback's body as it arrived, opened from the vault (it is kept nowhere else).
  const ring = cardVaultRing(
    loadConfig({ ...BENCH_KEYS, DATABASE_URL: sys.databaseUrl, LOG_LEVEL: 'silent' }),
  );
  const { rows: callbackIds } = await pool.query<{ id: number }>('SELECT id FROM operator_callbacks');
  const bodies: string[] = [];
  for (const { id } of callbackIds) {
    const request = await openCallbackRequest(pool, ring, id);
    if (request) bodies.push(`${request.query}\n${request.body.toString('latin1')}`);
  }
  const inbox = [...delivered.keys()].map((id) => ({ id, n: bodies.filter((b) => b.includes(id)).length }));
  const short = inbox.filter((r) => r.n < (delivered.get(r.id) ?? 0));
  const sent = [...delivered.values()].reduce((a, b) => a + b, 0);
  const stored = inbox.reduce((a, r) => a + r.n, 0);
  check(
    'every callback the sandbox delivered is in our inbox',
    short.length === 0,
    `${sent} deliveries answered 2xx, ${stored} rows in our inbox; payments short of callbacks: ${short.length}`,
  );

  // Every payer's and recipient's number in the vault alone (docs/cards.md, "Phone numbers and
  // OTPs"), whatever was killed when: each one opened from the vault, then searched for in every
  // table (as text, bytea as hex), and no row left with a clear number or callback body.
  const { rows: phoneTokens } = await pool.query<{ token: string }>(
    `SELECT DISTINCT customer->>'phoneToken' AS token FROM payments WHERE customer ? 'phoneToken'`,
  );
  const numbers = new Set<string>();
  for (const { token } of phoneTokens) {
    const number = await openPhone(pool, ring, token);
    if (number) numbers.add(number.slice(-8));
  }
  const patterns = [...numbers].flatMap((n) => [`%${n}%`, `%${Buffer.from(n).toString('hex')}%`]);
  const { rows: tables } = await pool.query<{ table_name: string }>(
    // The vault's own tables hold ciphertext, whose hex may spell any digits by chance.
    `SELECT table_name FROM information_schema.tables
      WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name NOT IN ('card_vault', 'personal_vault')`,
  );
  const holding: string[] = [];
  for (const { table_name: table } of tables) {
    const { rows } = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM "${table}" t WHERE t::text LIKE ANY($1::text[])`,
      [patterns],
    );
    if (rows[0]!.n === 0) continue;
    // Where it stands, the number itself masked: what an investigation starts from.
    const { rows: sample } = await pool.query<{ row: string }>(
      `SELECT t::text AS row FROM "${table}" t WHERE t::text LIKE ANY($1::text[]) LIMIT 1`,
      [patterns],
    );
    const text = sample[0]?.row ?? '';
    const number = [...numbers].find((n) => text.includes(n));
    const at = number ? text.indexOf(number) : -1;
    holding.push(
      at < 0
        ? table
        : `${table} (…${text.slice(Math.max(0, at - 60), at)}********${text.slice(at + 8, at + 20)}…)`,
    );
  }
  const { rows: clearRows } = await pool.query<{ n: number }>(
    `SELECT (SELECT count(*) FROM payments WHERE customer ? 'phone')
          + (SELECT count(*) FROM transfers WHERE sender ? 'phone' OR recipient ? 'phone')
          + (SELECT count(*) FROM operator_callbacks WHERE raw_body IS NOT NULL)
          + (SELECT count(*) FROM payin_authorisations WHERE otp IS NOT NULL) AS n`,
  );
  check(
    'every phone number in the vault alone, none in clear in any table',
    numbers.size > 0 && holding.length === 0 && Number(clearRows[0]!.n) === 0,
    `${numbers.size} numbers opened from the vault; tables holding one in clear: ${holding.join(', ') || 'none'}; ` +
      `rows with a clear number, body or OTP: ${clearRows[0]!.n}`,
  );

  return {
    results,
    figures: {
      payments_by_state: countBy(payments, (p) => `${p.kind}:${p.status}`),
      sandbox_payouts_executed: theirs.size,
      callbacks_delivered: sent,
      callbacks_stored: stored,
    },
  };
}

await main();
