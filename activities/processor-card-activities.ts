import { circuitOf, recordOperatorOutcome } from '../db/operator-health.js';
import { ApplicationFailure } from '@temporalio/activity';
import {
  getProcessorCardPayment,
  markProcessorSettled,
  recordAuthenticationState,
  recordProcessorAuthorisation,
  type ProcessorCardPayment,
} from '../db/card-processor.js';
import { applyTransition, getPayment, type PaymentRecord } from '../db/payments.js';
import type { Pool } from '../db/pool.js';
import { recordCardPayinEnd } from './card-activities.js';
import type { Logger } from '../lib/logger.js';
import type { PaymentFailure } from '../lib/payments.js';
import type { CardProcessorClient } from '../operators/processor/client.js';
import { isProcessorCurrency, type ProcessorPayment } from '../operators/processor/protocol.js';
import { encodeCreq } from '../operators/processor/three-ds.js';

/**
 * Card payins through the Visa/Mastercard processor with EMV 3-D Secure 2 (docs/cards.md). Every
 * call is idempotent at the processor (the authentication by our threeDSServerTransID; payments,
 * captures and voids by an Idempotency-Key derived from the payment): a re-run after a crash or an
 * ambiguous answer repeats the same request and cannot charge twice.
 */
export interface ProcessorCardActivityDeps {
  pool: Pool;
  logger: Logger;
  processor: CardProcessorClient;
  publicBaseUrl: string;
  merchant: { id: string; mcc: string };
  /** Route health (db/operator-health.ts): the processor's failures in a row open its circuit. */
  circuit: { threshold: number; cooldownSeconds: number };
}

/** The authentication's status, and whether the payer has a challenge to complete. */
export type ThreeDSResult = { transStatus: 'Y' | 'A' | 'C' | 'N' | 'R' | 'U'; reason?: string };

export type ProcessorPayinResult =
  | { result: 'approved' }
  | { result: 'declined'; responseCode: string; declineReason?: string }
  | { result: 'not_authenticated'; transStatus: string; reason?: string }
  | { result: 'challenge_abandoned' }
  | { result: 'capture_declined'; declineReason?: string }
  /** Its workflow ended before it did: the card sweep voided what the processor held (workflows/card-recovery.ts). */
  | { result: 'abandoned' };

/** Our failure codes for the processor's decline reasons (docs/card-processor.md). */
function declineFailure(responseCode: string, declineReason: string | undefined): PaymentFailure {
  const code =
    declineReason === 'insufficient_funds' || responseCode === '51'
      ? 'insufficient_funds'
      : declineReason === 'expired_card' || responseCode === '54'
        ? 'card_expired'
        : declineReason === 'authentication_invalid'
          ? 'authentication_failed'
          : 'card_declined';
  return {
    code,
    message: `The card was declined (${responseCode}${declineReason ? `, ${declineReason}` : ''})`,
  };
}

const ENDS: Record<
  ProcessorPayinResult['result'],
  { to: 'succeeded' | 'failed'; reason: string; failure?: PaymentFailure }
> = {
  approved: { to: 'succeeded', reason: 'card authenticated (3-D Secure), authorised and captured' },
  declined: { to: 'failed', reason: 'card authorisation declined' },
  not_authenticated: {
    to: 'failed',
    reason: 'the issuer did not authenticate the cardholder (3-D Secure)',
    failure: { code: 'authentication_failed', message: 'The card issuer did not authenticate the payer' },
  },
  challenge_abandoned: {
    to: 'failed',
    reason: 'the payer did not complete the issuer’s challenge in time',
    failure: {
      code: 'authentication_abandoned',
      message: 'The payer did not complete the 3-D Secure challenge',
    },
  },
  abandoned: {
    to: 'failed',
    reason: 'its workflow ended before the payin did: the card sweep released what the processor held',
    failure: {
      code: 'payment_abandoned',
      message: 'The card payment was not completed: nothing was charged',
    },
  },
  capture_declined: {
    to: 'failed',
    reason: 'the processor declined the capture; the authorisation was voided',
    failure: {
      code: 'capture_declined',
      message: 'The card was authorised but its capture declined: voided, not charged',
    },
  },
};

export function createProcessorCardActivities(deps: ProcessorCardActivityDeps) {
  const { pool, logger, processor } = deps;

  async function load(paymentId: string): Promise<{ payment: PaymentRecord; card: ProcessorCardPayment }> {
    const payment = await getPayment(pool, paymentId);
    const card = await getProcessorCardPayment(pool, paymentId);
    if (!payment || !card)
      throw ApplicationFailure.nonRetryable(`card payment ${paymentId} not found`, 'NotFound');
    return { payment, card };
  }

  const currencyOf = (payment: PaymentRecord) => {
    if (!isProcessorCurrency(payment.currency))
      throw ApplicationFailure.nonRetryable(
        `${payment.currency} is not a processor currency`,
        'CurrencyNotSupported',
      );
    return payment.currency;
  };

  /** The processor's payment for ours: recorded, or found by our reference after an ambiguous answer. */
  async function recordPayment(paymentId: string, p: ProcessorPayment): Promise<void> {
    await recordProcessorAuthorisation(pool, paymentId, {
      outcome: p.status === 'declined' ? 'declined' : 'authorised',
      processorPaymentId: p.id,
      responseCode: p.responseCode,
      declineReason: p.declineReason,
    });
  }

  return {
    /**
     * The AReq (idempotent by our threeDSServerTransID; same purchase date on every repeat).
     * A challenge puts the issuer's page before the payer: the hosted checkout shows it as the
     * attempt's next action (a form posted to the ACS).
     */
    async authenticateCard3ds(paymentId: string): Promise<ThreeDSResult> {
      const { payment, card } = await load(paymentId);
      if (card.transStatus && card.transStatus !== 'C')
        return { transStatus: card.transStatus as ThreeDSResult['transStatus'] };
      if (!payment.returnUrl)
        throw ApplicationFailure.nonRetryable(`${paymentId}: no page to come back to`, 'NoReturnPage');
      const answer = await processor.authenticate({
        threeDSServerTransID: card.threeDSServerTransID,
        token: card.processorToken,
        amount: payment.amount,
        currency: currencyOf(payment),
        merchantName: deps.merchant.id.slice(0, 40),
        mcc: deps.merchant.mcc,
        acquirerMerchantID: deps.merchant.id,
        notificationURL: `${payment.returnUrl.replace(/\/$/, '')}/3ds`,
        threeDSServerURL: new URL('/v1/callbacks/processor/3ds', deps.publicBaseUrl).toString(),
        browser: card.browser,
        purchaseDate: payment.createdAt,
      });
      if (answer.kind === 'unavailable')
        throw ApplicationFailure.retryable(
          `3-D Secure authentication: ${answer.reason}`,
          'ProcessorUnavailable',
        );
      if (answer.kind === 'refused') {
        logger.warn({ paymentId, code: answer.code }, '3-D Secure authentication refused');
        await recordAuthenticationState(pool, paymentId, {
          transStatus: 'U',
          transStatusReason: answer.code,
        });
        return { transStatus: 'U', reason: answer.code };
      }
      const { ares } = answer;
      if (ares.transStatus === 'C') {
        await recordAuthenticationState(pool, paymentId, { transStatus: 'C', acsUrl: ares.acsURL });
        if (payment.status === 'created' || payment.status === 'pending') {
          await applyTransition(pool, {
            paymentId,
            step: '3ds:challenge',
            to: 'action_required',
            actor: 'workflow',
            reason: 'the issuer asks the payer to complete a 3-D Secure challenge',
            nextAction: {
              type: 'form_post',
              url: ares.acsURL,
              fields: {
                creq: encodeCreq({
                  threeDSServerTransID: ares.threeDSServerTransID,
                  acsTransID: ares.acsTransID,
                  messageVersion: ares.messageVersion,
                  challengeWindowSize: '05',
                }),
                threeDSSessionData: Buffer.from(paymentId).toString('base64url'),
              },
              // The hosted checkout's page shows the form to the payer.
              redirect_url: payment.returnUrl,
            },
          });
        }
        logger.info({ paymentId, transStatus: 'C' }, '3-D Secure: challenge');
        return { transStatus: 'C' };
      }
      const reason = 'transStatusReason' in ares ? ares.transStatusReason : undefined;
      await recordAuthenticationState(pool, paymentId, {
        transStatus: ares.transStatus,
        transStatusReason: reason,
      });
      logger.info({ paymentId, transStatus: ares.transStatus, reason }, '3-D Secure: frictionless answer');
      return { transStatus: ares.transStatus, ...(reason ? { reason } : {}) };
    },

    /** The authentication's result as the processor holds it now (the RReq and CRes are hints). */
    async confirmAuthentication(paymentId: string): Promise<ThreeDSResult> {
      const { card } = await load(paymentId);
      const found = await processor.authentication(card.threeDSServerTransID);
      if (found.kind !== 'found')
        throw ApplicationFailure.retryable(`3-D Secure result: ${found.kind}`, 'ProcessorUnavailable');
      const a = found.authentication;
      const reason = 'transStatusReason' in a ? a.transStatusReason : undefined;
      if (a.transStatus !== 'C')
        await recordAuthenticationState(pool, paymentId, {
          transStatus: a.transStatus,
          transStatusReason: reason,
        });
      return { transStatus: a.transStatus, ...(reason ? { reason } : {}) };
    },

    /**
     * The authorisation, with the authentication's ECI and value read from the processor (never
     * stored). Ambiguous (timeout, 5xx): our reference is looked up; not found, the same request
     * is repeated under the same Idempotency-Key, which cannot authorise twice.
     */
    async authoriseAtProcessor(
      paymentId: string,
    ): Promise<
      { outcome: 'authorised' } | { outcome: 'declined'; responseCode: string; declineReason?: string }
    > {
      const { payment, card } = await load(paymentId);
      if (card.outcome === 'authorised') return { outcome: 'authorised' };
      if (card.outcome === 'declined')
        return {
          outcome: 'declined',
          responseCode: card.responseCode ?? '05',
          ...(card.declineReason ? { declineReason: card.declineReason } : {}),
        };
      const found = await processor.authentication(card.threeDSServerTransID);
      if (found.kind !== 'found')
        throw ApplicationFailure.retryable(`3-D Secure result: ${found.kind}`, 'ProcessorUnavailable');
      const a = found.authentication;
      // Nothing to authorise without an authentication: declined here, nothing sent (the workflow
      // asks only after Y/A; the processor's record is what counts).
      if (a.transStatus !== 'Y' && a.transStatus !== 'A')
        return { outcome: 'declined', responseCode: '05', declineReason: 'authentication_invalid' };
      if (payment.status !== 'pending') {
        await applyTransition(pool, {
          paymentId,
          step: 'authorise',
          to: 'pending',
          actor: 'workflow',
          reason: 'card authenticated; authorisation sent to the processor',
        });
      }
      const answer = await processor.authorise({
        idempotencyKey: `authorise:${paymentId}`,
        reference: paymentId,
        amount: payment.amount,
        currency: currencyOf(payment),
        token: card.processorToken,
        authentication: {
          threeDSServerTransID: a.threeDSServerTransID,
          dsTransID: a.dsTransID,
          transStatus: a.transStatus,
          eci: a.eci,
          authenticationValue: a.authenticationValue,
          messageVersion: a.messageVersion,
        },
      });
      // The processor's health, counted like an operator's: no answer (or a 5xx) is a failure.
      await recordOperatorOutcome(pool, {
        operator: circuitOf('processor', payment.livemode),
        ok: answer.kind !== 'ambiguous',
        ...(answer.kind === 'ambiguous' ? { detail: `authorisation: ${answer.reason}` } : {}),
        ...deps.circuit,
      });
      let result: ProcessorPayment | undefined;
      if (answer.kind === 'payment') result = answer.payment;
      else {
        // Ambiguous, or refused because it exists already: what does the processor hold for us?
        const lookup = await processor.findPaymentsByReference(paymentId);
        result = lookup.kind === 'found' ? lookup.payments[0] : undefined;
        if (!result) {
          // A refusal (4xx) created nothing at the processor: the payin ends declined, never stuck.
          if (answer.kind === 'refused') {
            logger.warn(
              { paymentId, code: answer.code, status: answer.status },
              'card authorisation refused',
            );
            return { outcome: 'declined', responseCode: '05', declineReason: answer.code };
          }
          throw ApplicationFailure.retryable(
            `authorisation ${answer.kind}: ${answer.reason}`,
            'AuthorisationAmbiguous',
          );
        }
      }
      await recordPayment(paymentId, result);
      logger.info(
        {
          paymentId,
          processorPaymentId: result.id,
          status: result.status,
          responseCode: result.responseCode,
        },
        'card authorisation answered',
      );
      return result.status === 'declined'
        ? {
            outcome: 'declined',
            responseCode: result.responseCode,
            ...(result.declineReason ? { declineReason: result.declineReason } : {}),
          }
        : { outcome: 'authorised' };
    },

    /** Captures the authorised amount (once, by its Idempotency-Key); ambiguous, repeated. */
    async captureAtProcessor(paymentId: string): Promise<{ captured: boolean; declineReason?: string }> {
      const { payment, card } = await load(paymentId);
      if (card.capturedAt) return { captured: true };
      if (!card.processorPaymentId || card.outcome !== 'authorised' || card.voidedAt)
        throw ApplicationFailure.nonRetryable(`${paymentId}: nothing authorised to capture`, 'NotCapturable');
      const answer = await processor.capture(card.processorPaymentId, payment.amount, `capture:${paymentId}`);
      if (answer.kind === 'capture' && answer.capture.status === 'succeeded') {
        await markProcessorSettled(pool, paymentId, 'captured');
        return { captured: true };
      }
      if (answer.kind === 'capture')
        return {
          captured: false,
          ...(answer.capture.declineReason ? { declineReason: answer.capture.declineReason } : {}),
        };
      if (answer.kind === 'refused' && answer.code === 'payment_captured') {
        await markProcessorSettled(pool, paymentId, 'captured');
        return { captured: true };
      }
      // Refused otherwise (voided meanwhile…): not captured; the workflow voids what may remain.
      if (answer.kind === 'refused') return { captured: false, declineReason: answer.code };
      throw ApplicationFailure.retryable(`capture ambiguous: ${answer.reason}`, 'CaptureAmbiguous');
    },

    /**
     * Releases an authorisation that will not be captured (once, by its Idempotency-Key). A
     * payment the processor has captured meanwhile cannot be voided: that is recorded and
     * answered (`captured`), never retried for ever.
     */
    async voidAtProcessor(paymentId: string): Promise<{ outcome: 'voided' | 'captured' }> {
      const { card } = await load(paymentId);
      if (card.capturedAt) return { outcome: 'captured' };
      if (card.voidedAt || !card.processorPaymentId) return { outcome: 'voided' };
      const answer = await processor.void(card.processorPaymentId, `void:${paymentId}`);
      if (answer.kind === 'void' || (answer.kind === 'refused' && answer.code === 'payment_voided')) {
        await markProcessorSettled(pool, paymentId, 'voided');
        return { outcome: 'voided' };
      }
      if (answer.kind === 'refused' && answer.code === 'payment_captured') {
        await markProcessorSettled(pool, paymentId, 'captured');
        logger.warn({ paymentId }, 'void refused: the processor had captured the payment');
        return { outcome: 'captured' };
      }
      throw ApplicationFailure.retryable(
        `void ${answer.kind}: ${answer.kind === 'refused' ? answer.code : answer.reason}`,
        'VoidUnacknowledged',
      );
    },

    /**
     * A refund of a captured card payin, under its own Idempotency-Key (the refund's id): answered,
     * its outcome; ambiguous, our reference is looked up, and the same request repeated when the
     * processor holds none (it cannot refund twice under one key).
     */
    async refundAtProcessor(
      refundId: string,
    ): Promise<{ outcome: 'succeeded' } | { outcome: 'declined'; failure: PaymentFailure }> {
      const refund = await getPayment(pool, refundId);
      const payin = refund?.parentPaymentId
        ? await getProcessorCardPayment(pool, refund.parentPaymentId)
        : undefined;
      if (!refund) throw ApplicationFailure.nonRetryable(`refund ${refundId} not found`, 'NotFound');
      // The API refuses these; should one get here, it fails (its hold released), never stuck.
      if (!payin?.processorPaymentId || !payin.capturedAt)
        return {
          outcome: 'declined',
          failure: { code: 'payin_not_refundable', message: 'No captured card payment to refund' },
        };
      const answer = await processor.refund(
        payin.processorPaymentId,
        { amount: refund.amount, reference: refundId },
        `refund:${refundId}`,
      );
      let result = answer.kind === 'refund' ? answer.refund : undefined;
      if (!result) {
        const lookup = await processor.findRefundsByReference(refundId);
        result = lookup.kind === 'found' ? lookup.refunds[0] : undefined;
      }
      if (!result) {
        if (answer.kind === 'refused')
          return {
            outcome: 'declined',
            failure: { code: 'refund_refused', message: `The processor refused the refund: ${answer.code}` },
          };
        throw ApplicationFailure.retryable(`refund ${answer.kind}`, 'RefundAmbiguous');
      }
      logger.info(
        { paymentId: refundId, processorRefundId: result.id, status: result.status },
        'card refund answered',
      );
      return result.status === 'succeeded'
        ? { outcome: 'succeeded' }
        : {
            outcome: 'declined',
            failure: {
              code: 'refund_declined',
              message: `The processor declined the refund${result.declineReason ? ` (${result.declineReason})` : ''}`,
            },
          };
    },

    /**
     * What a card payin whose workflow is gone needs (workflows/card-recovery.ts), from what the
     * processor holds under our reference (its record, not ours, which may lag an answer that was
     * lost): captured, credited; authorised, voided; declined or nothing, the payin fails.
     */
    async planProcessorRecovery(
      paymentId: string,
    ): Promise<
      | { action: 'credit' }
      | { action: 'void' }
      | { action: 'declined'; responseCode: string; declineReason?: string }
      | { action: 'nothing_held' }
    > {
      const { card } = await load(paymentId);
      if (card.capturedAt) return { action: 'credit' };
      const lookup = await processor.findPaymentsByReference(paymentId);
      if (lookup.kind !== 'found')
        throw ApplicationFailure.retryable(`payments by reference: ${lookup.reason}`, 'ProcessorUnavailable');
      const held = lookup.payments[0];
      if (!held) return { action: 'nothing_held' };
      await recordPayment(paymentId, held);
      switch (held.status) {
        case 'captured':
          await markProcessorSettled(pool, paymentId, 'captured');
          return { action: 'credit' };
        case 'authorised':
          return { action: 'void' };
        case 'voided':
          await markProcessorSettled(pool, paymentId, 'voided');
          return { action: 'nothing_held' };
        case 'declined':
          return {
            action: 'declined',
            responseCode: held.responseCode,
            ...(held.declineReason ? { declineReason: held.declineReason } : {}),
          };
      }
    },

    /** The payin's end, in the books: credited once captured, failed otherwise. */
    async recordProcessorPayinResult(paymentId: string, outcome: ProcessorPayinResult): Promise<void> {
      const end = ENDS[outcome.result];
      const failure =
        outcome.result === 'declined'
          ? declineFailure(outcome.responseCode, outcome.declineReason)
          : end.failure;
      await recordCardPayinEnd(pool, paymentId, { ...end, failure }, outcome.result === 'approved');
    },
  };
}

export type ProcessorCardActivities = ReturnType<typeof createProcessorCardActivities>;
