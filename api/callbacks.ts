import { timingSafeEqual } from 'node:crypto';
import { PerAddressRateLimit } from '../lib/address-rate-limit.js';
import { BlockList, isIP } from 'node:net';
import express, { Router, type Request } from 'express';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { OperatorRules } from '../operators/registry.js';
import { claimCallbackEvent, insertRawCallback, setCallbackVerdict } from '../db/callbacks.js';
import { callbackSecretMatches, getPayment } from '../db/payments.js';
import type { Pool } from '../db/pool.js';
import { cardVaultRing, type Config } from '../lib/config.js';
import { OPERATORS, OPERATOR_TABLE } from '../lib/operators.js';
import { errorSummary } from '../lib/logger.js';
import { operatorCallbackSignal } from '../workflows/shared.js';
import { workflowIdFor } from '../lib/payment-workflows.js';
import { Problem } from './problems.js';

export interface CallbackRouteDeps {
  config: Config;
  pool: Pool;
  temporal: Client;
  operators: OperatorRules;
}

/** Headers worth keeping with a callback; secrets never go to the inbox. */
function keptHeaders(req: Request): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (name === 'authorization' || name === 'cookie' || value === undefined) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** The query string as single values (TMoney notifies by GET). */
function queryOf(req: Request): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.query)) {
    const first = Array.isArray(v) ? v[0] : v;
    if (typeof first === 'string') out[k] = first;
  }
  return out;
}

function normaliseIp(ip: string | undefined): string | undefined {
  return ip?.replace(/^::ffff:/, '');
}

/** An allow-list of addresses and subnets (`10.1.2.3`, `172.16.0.0/12`, `::1`). */
function allowListOf(entries: string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address, prefix] = entry.split('/');
    const type = isIP(address ?? '') === 6 ? 'ipv6' : 'ipv4';
    if (prefix !== undefined) list.addSubnet(address!, Number(prefix), type);
    else list.addAddress(address!, type);
  }
  return list;
}

function isAllowed(list: BlockList, ip: string): boolean {
  return list.check(ip, isIP(ip) === 6 ? 'ipv6' : 'ipv4');
}

/** Equal strings, compared in constant time (a notification token). */
function sameSecret(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * A fixed window per source address: an endpoint anyone can reach stores at most this many
 * callbacks a minute from one address; the rest are answered 429 and not stored.
 */
/**
 * Operator callbacks (DESIGN.md rule 1): stored raw before anything else, then verified (source,
 * known payment, reference, amount, currency), then handed to the payment's workflow as a hint.
 * The workflow confirms with the operator's status API before it believes it.
 */
export function callbackRoutes(deps: CallbackRouteDeps): Router {
  const { config, pool, temporal, operators } = deps;
  const vault = cardVaultRing(config);
  const router = Router();
  const rateLimit = new PerAddressRateLimit(config.CALLBACK_RATE_LIMIT_PER_MINUTE);
  // Each mode authenticates its callbacks with its own settings: live ones with the operators'
  // configured secrets and addresses, test ones with the sandbox's (public) defaults.
  const modes = [
    { livemode: true, settings: config.operators },
    { livemode: false, settings: config.testOperators },
  ].map(({ livemode, settings }) => ({
    livemode,
    settings,
    allowLists: new Map(
      OPERATORS.flatMap((op) => {
        const entries = settings[op].callback.allowedIps;
        return entries.length ? [[op, allowListOf(entries)] as const] : [];
      }),
    ),
  }));

  // `/:operator` or `/:operator/:token` (TMoney's notification URL carries our secret token).
  router.all('/:operator{/:token}', express.raw({ type: () => true, limit: '16kb' }), async (req, res) => {
    const operator = req.params.operator ?? '';
    if (!operators.isOperator(operator))
      throw new Problem('not-found', `No callback endpoint for ${operator}`);
    // Only the methods the operator calls with: a TRACE or DELETE stores nothing.
    const methods = OPERATOR_TABLE[operator].callbackMethods;
    if (!(methods as readonly string[]).includes(req.method)) {
      res.setHeader('Allow', methods.join(', '));
      throw new Problem(
        'method-not-allowed',
        `${OPERATOR_TABLE[operator].label} calls back with ${methods.join(' or ')}`,
      );
    }
    // Behind a trusted proxy (TRUST_PROXY), the caller's address as the proxy saw it.
    const sourceIp = normaliseIp(req.ip ?? req.socket.remoteAddress);
    if (!rateLimit.allow(sourceIp ?? '?')) {
      throw new Problem('rate-limited', 'Too many callbacks from this address; retry later');
    }
    const rawBytes = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const rawBody = rawBytes.toString('utf8');
    const token = req.params.token;
    // The query string goes to the vault with the body (TMoney's carries the payer's number).
    const [pathOnly, ...query] = req.originalUrl.split('?');
    const id = await insertRawCallback(pool, vault, {
      operator,
      httpMethod: req.method,
      // The token is a secret: the inbox keeps the path without it.
      path: token ? pathOnly!.replace(`/${token}`, '/[token]') : pathOnly!,
      rawQuery: query.join('?'),
      contentType: req.header('content-type'),
      headers: keptHeaders(req),
      rawBody: rawBytes,
      sourceIp,
    });
    const log = req.log.child({ callbackId: id, operator });
    const answer = (verdict: string) => res.status(200).json({ received: true, id, verdict });
    const reject = async (reason: string, extra: { paymentId?: string; parsed?: unknown } = {}) => {
      await setCallbackVerdict(pool, id, { verdict: 'rejected', reason, ...extra });
      log.warn({ reason, paymentId: extra.paymentId }, 'callback rejected');
      answer('rejected');
    };

    // The modes whose settings this callback satisfies: its source address, and something a
    // forger cannot know (DESIGN.md rule 11): for TMoney, whose notification has no signature,
    // the secret token in the URL registered in its back office.
    const refusals = new Map<boolean, string>();
    const authenticated = modes.filter((m) => {
      const allowed = m.allowLists.get(operator);
      if (allowed && !(sourceIp && isAllowed(allowed, sourceIp))) {
        refusals.set(m.livemode, `source address ${sourceIp ?? '?'} not allowed`);
        return false;
      }
      const expectedToken = m.settings[operator].callback.token;
      if (expectedToken !== undefined ? !sameSecret(token, expectedToken) : token !== undefined) {
        refusals.set(
          m.livemode,
          token === undefined ? 'notification token missing' : 'notification token wrong',
        );
        return false;
      }
      return true;
    });
    // The live refusal: it is the one an operator's misconfiguration shows.
    if (!authenticated.length) return reject(refusals.get(true)!);
    const input = {
      method: req.method,
      query: queryOf(req),
      contentType: req.header('content-type'),
      rawBody,
    };
    const first = operators.parseCallback(operator, input, undefined, authenticated[0]!.livemode);
    if (!first.ok) return reject(first.reason);
    const payment = first.callback.paymentId ? await getPayment(pool, first.callback.paymentId) : undefined;
    if (!payment || payment.operator !== operator)
      return reject('unknown payment reference', { parsed: first.callback });
    // A callback authenticated only by the sandbox's public credentials never touches a live
    // payment (nor the reverse).
    if (!authenticated.some((m) => m.livemode === payment.livemode)) {
      return reject(
        `${refusals.get(payment.livemode)!} for a ${payment.livemode ? 'live' : 'test'} payment ` +
          `(only the ${payment.livemode ? "sandbox's test-mode" : 'live'} settings accept it)`,
        { paymentId: payment.id },
      );
    }
    // Read again in the payment's mode and with its kind: a payout's callback words are not a payin's.
    const parsed = operators.parseCallback(
      operator,
      input,
      payment.kind === 'payin' ? undefined : { kind: payment.kind, mode: payment.mode },
      payment.livemode,
    );
    if (!parsed.ok) return reject(parsed.reason, { paymentId: payment.id });
    const cb = parsed.callback;
    // A per-payment secret (Orange's notif_token) is compared, never kept in the parsed record.
    const { paymentSecret: _secret, ...kept } = cb;
    const context = { paymentId: payment.id, parsed: kept };
    if (
      !operators.callbackReferenceMatches(
        operator,
        {
          paymentId: payment.id,
          operatorReference: payment.operatorReference,
          kind: payment.kind,
          livemode: payment.livemode,
        },
        cb,
      )
    ) {
      return reject('operator reference differs from ours', context);
    }
    // Rule 1: whatever a forger could have written is checked against the payment. An operator
    // whose notification states no amount (Orange) is confirmed by the status call about the
    // transaction our own request created at our amount.
    if (OPERATOR_TABLE[operator].callbackCarriesPaymentSecret) {
      const secret = await callbackSecretMatches(pool, payment.id, cb.paymentSecret);
      if (secret !== 'matches') {
        return reject(
          secret === 'missing'
            ? 'no notification token was recorded for this payment'
            : 'notification token differs from the one given for this payment',
          { paymentId: payment.id },
        );
      }
    }
    if (
      cb.amountNotStated ? cb.amount !== undefined : cb.amount === undefined || cb.amount !== payment.amount
    ) {
      return reject(`amount ${cb.amount ?? 'missing'} differs from ours (${payment.amount})`, context);
    }
    if (cb.currency && cb.currency !== payment.currency) {
      return reject(`currency ${cb.currency} differs from ours (${payment.currency})`, context);
    }

    const claim = await claimCallbackEvent(pool, id, {
      paymentId: payment.id,
      eventKey: cb.eventKey,
      parsed: kept,
    });
    if (claim === 'duplicate') return answer('duplicate');
    try {
      await temporal.workflow
        .getHandle(workflowIdFor(payment.kind, payment.id))
        .signal(operatorCallbackSignal, {
          callbackId: id,
          reportedStatus: cb.reportedStatus,
          amount: cb.amount,
        });
      log.info({ paymentId: payment.id, reported: cb.reportedStatus }, 'callback signalled');
      return answer('signalled');
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) {
        // The payment already ended (e.g. expired): reconciliation settles a late outcome.
        await setCallbackVerdict(pool, id, { verdict: 'late', reason: 'payment workflow already closed' });
        log.warn({ paymentId: payment.id }, 'late callback kept for reconciliation');
        return answer('late');
      }
      // Stored and verified: it stays usable. The workflow reads verified callbacks when it next
      // checks (and the sweep after it), so nothing waits for the operator to repeat it.
      await setCallbackVerdict(pool, id, {
        verdict: 'signalled',
        reason: 'verified; the signal to the workflow failed, which finds it at its next check',
      });
      log.warn({ paymentId: payment.id, err: errorSummary(err) }, 'callback stored; signal failed');
      return answer('stored');
    }
  });
  // Anything else under /v1/callbacks is no callback endpoint (and never a merchant route).
  router.all('/{*rest}', () => {
    throw new Problem('not-found', 'No such callback endpoint');
  });
  return router;
}
