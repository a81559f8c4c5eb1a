import express, { Router, type Request } from 'express';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { OperatorRules } from '../activities/index.js';
import { claimCallbackEvent, insertRawCallback, setCallbackVerdict } from '../db/callbacks.js';
import { getPayment } from '../db/payments.js';
import type { Pool } from '../db/pool.js';
import { callbackAllowedIps, type Config } from '../lib/config.js';
import { operatorCallbackSignal, workflowIdFor } from '../workflows/shared.js';
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

/**
 * Operator callbacks (DESIGN.md rule 1): stored raw before anything else, then verified (source,
 * known payment, reference, amount, currency), then handed to the payment's workflow as a hint.
 * The workflow confirms with the operator's status API before it believes it.
 */
export function callbackRoutes(deps: CallbackRouteDeps): Router {
  const { config, pool, temporal, operators } = deps;
  const router = Router();

  router.all('/:operator', express.raw({ type: () => true, limit: '64kb' }), async (req, res) => {
    const operator = req.params.operator ?? '';
    if (!operators.isOperator(operator))
      throw new Problem('not-found', `No callback endpoint for ${operator}`);
    const rawBytes = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const rawBody = rawBytes.toString('utf8');
    const sourceIp = normaliseIp(req.socket.remoteAddress);
    const id = await insertRawCallback(pool, {
      operator,
      httpMethod: req.method,
      path: req.originalUrl,
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

    const allowed = callbackAllowedIps(config, operator);
    if (allowed.length > 0 && !(sourceIp && allowed.includes(sourceIp))) {
      return reject(`source address ${sourceIp ?? '?'} not allowed`);
    }
    const parsed = operators.parseCallback(operator, {
      method: req.method,
      query: queryOf(req),
      contentType: req.header('content-type'),
      rawBody,
    });
    if (!parsed.ok) return reject(parsed.reason);
    const cb = parsed.callback;
    const payment = cb.paymentId ? await getPayment(pool, cb.paymentId) : undefined;
    if (!payment || payment.operator !== operator) return reject('unknown payment reference', { parsed: cb });
    const context = { paymentId: payment.id, parsed: cb };
    if (
      !operators.callbackReferenceMatches(
        operator,
        { paymentId: payment.id, operatorReference: payment.operatorReference, kind: payment.kind },
        cb,
      )
    ) {
      return reject('operator reference differs from ours', context);
    }
    if (cb.amount === undefined || cb.amount !== payment.amount) {
      return reject(`amount ${cb.amount ?? 'missing'} differs from ours (${payment.amount})`, context);
    }
    if (cb.currency && cb.currency !== payment.currency) {
      return reject(`currency ${cb.currency} differs from ours (${payment.currency})`, context);
    }

    const claim = await claimCallbackEvent(pool, id, {
      paymentId: payment.id,
      eventKey: cb.eventKey,
      parsed: cb,
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
      // Let a repeat of this event be signalled later; the operator retries on a 5xx.
      await setCallbackVerdict(pool, id, { verdict: 'received', reason: 'signal failed; awaiting a repeat' });
      throw new Problem('service-unavailable', 'Callback stored; it could not be processed now');
    }
  });
  return router;
}
