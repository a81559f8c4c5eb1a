import express, { Router } from 'express';
import type { Client } from '@temporalio/client';
import { paymentOfThreeDS } from '../db/card-processor.js';
import type { Pool } from '../db/pool.js';
import type { Config } from '../lib/config.js';
import { errorSummary } from '../lib/logger.js';
import { payinWorkflowId } from '../lib/payment-workflows.js';
import { RRES_RECEIVED, parseRreq, verifyResultsSignature } from '../operators/registry.js';
import { threeDSResultSignal } from '../workflows/card-processor-payin.js';
import { Problem } from './problems.js';

/**
 * `POST /v1/callbacks/processor/3ds`: the processor's RReq when an issuer's challenge ends
 * (docs/card-processor.md). Authentic only with the processor's HMAC signature over the raw body
 * and a fresh timestamp; even then a hint: the workflow asks the processor for the result
 * (DESIGN.md rules 1 and 11). Answered RRes once the hint is delivered, so that a lost signal is
 * sent again by the processor's retries (and the workflow looks every 30 s anyway).
 */
export function threeDSResultRoutes(deps: { config: Config; pool: Pool; temporal: Client }): Router {
  const router = Router();
  router.post('/3ds', express.text({ type: () => true, limit: '16kb' }), async (req, res) => {
    const raw = typeof req.body === 'string' ? req.body : '';
    const signed = verifyResultsSignature(
      raw,
      req.header('x-processor-signature'),
      deps.config.PROCESSOR_WEBHOOK_SECRET,
      Math.floor(Date.now() / 1000),
    );
    if (!signed) throw new Problem('unauthenticated', 'The 3-D Secure result is not signed by the processor');
    const rreq = parseRreq(raw);
    if (!rreq) throw new Problem('validation-error', 'Not an RReq');
    const paymentId = await paymentOfThreeDS(deps.pool, rreq.threeDSServerTransID);
    if (!paymentId) throw new Problem('not-found', 'No card payment has this 3-D Secure transaction');
    try {
      await deps.temporal.workflow.getHandle(payinWorkflowId(paymentId)).signal(threeDSResultSignal);
    } catch (err) {
      req.log.warn({ paymentId, err: errorSummary(err) }, '3-D Secure result not delivered to the workflow');
      throw new Problem('service-unavailable', 'Try again');
    }
    req.log.info({ paymentId, transStatus: rreq.transStatus }, '3-D Secure result received');
    res.json(RRES_RECEIVED);
  });
  return router;
}
