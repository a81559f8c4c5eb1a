import { circuitOf, recordOperatorOutcome } from '../db/operator-health.js';
import { ApplicationFailure } from '@temporalio/activity';
import {
  countSend,
  getCardAuthorisation,
  markAcknowledged,
  recordAuthorisationOutcome,
  type CardAuthorisation,
} from '../db/card-authorisations.js';
import { openVaultedCard } from '../db/card-vault.js';
import { payinSucceededPosting, post } from '../db/ledger.js';
import { applyTransition, getPayment, type PaymentRecord } from '../db/payments.js';
import type { Pool } from '../db/pool.js';
import type { KeyRing } from '../lib/card-vault.js';
import type { Logger } from '../lib/logger.js';
import { CURRENCIES } from '../lib/money.js';
import type { PaymentFailure } from '../lib/payments.js';
import type { GimAnswer, GimConnection } from '../operators/gim/connection.js';
import { describeMessage } from '../operators/gim/iso8583.js';
import {
  authorisationRequest,
  completionAdvice,
  refundRequest,
  responseMeaning,
  reversal,
  type CardTransaction,
} from '../operators/gim/messages.js';

/**
 * Card payments on GIM-UEMOA (docs/cards.md): the authorisation, its completion advice, its
 * reversal. Each reads what the payment recorded before anything was sent (STAN, RRN, times), so
 * a re-run after a crash builds the same messages; the switch recognises a repeat by its RRN.
 */
export interface CardActivityDeps {
  pool: Pool;
  logger: Logger;
  ring: KeyRing;
  /** The worker's switch connection; undefined when GIM_HOST is not set. */
  gim: GimConnection | undefined;
  acquirer: { id: string; terminalId: string; merchantId: string };
  /** Route health (db/operator-health.ts): the switch's failures in a row open its circuit. */
  circuit: { threshold: number; cooldownSeconds: number };
}

export type CardAuthorisationResult =
  { outcome: 'approved' } | { outcome: 'declined'; failure: PaymentFailure } | { outcome: 'no_answer' };

export type CardPayinResult =
  | { result: 'approved' }
  | { result: 'declined'; failure: PaymentFailure }
  | { result: 'reversed' }
  /** Approved, but the switch refused its completion advice: nothing credited, for a person. */
  | { result: 'capture_refused'; code: string };

/** How each end of a card payin is recorded. */
const CARD_PAYIN_ENDS: Record<
  CardPayinResult['result'],
  { to: 'succeeded' | 'failed' | 'unknown'; reason: string; failure?: PaymentFailure }
> = {
  approved: { to: 'succeeded', reason: 'card authorisation approved and captured' },
  declined: { to: 'failed', reason: 'card authorisation declined' },
  reversed: {
    to: 'failed',
    reason: 'card authorisation unanswered, reversed',
    failure: {
      code: 'authorisation_reversed',
      message: 'GIM-UEMOA did not answer the authorisation in time: it was reversed, the card is not charged',
    },
  },
  capture_refused: {
    to: 'unknown',
    reason: 'the switch refused the completion advice of an approved authorisation',
    failure: {
      code: 'capture_refused',
      message: 'GIM-UEMOA approved the card but refused its capture: nothing credited, left for review',
    },
  },
};

/**
 * A card payin's end, on either rail: its transition and, when it was captured, the merchant's
 * credit in the same database transaction (credited exactly once: DESIGN.md rule 8).
 */
export async function recordCardPayinEnd(
  pool: Pool,
  paymentId: string,
  end: { to: 'succeeded' | 'failed' | 'unknown'; reason: string; failure?: PaymentFailure | undefined },
  captured: boolean,
): Promise<void> {
  await applyTransition(
    pool,
    {
      paymentId,
      step: 'final',
      to: end.to,
      actor: 'workflow',
      reason: end.reason,
      ...(end.failure ? { failure: end.failure } : {}),
    },
    captured
      ? (client, payment) => post(client, payinSucceededPosting(payment)).then(() => undefined)
      : undefined,
  );
}

export function createCardActivities(deps: CardActivityDeps) {
  const { pool, logger } = deps;

  function connection(): GimConnection {
    if (!deps.gim)
      throw ApplicationFailure.nonRetryable('GIM_HOST is not set: no card switch', 'CardsDisabled');
    return deps.gim;
  }

  async function load(paymentId: string): Promise<{ payment: PaymentRecord; auth: CardAuthorisation }> {
    const payment = await getPayment(pool, paymentId);
    const auth = await getCardAuthorisation(pool, paymentId);
    if (!payment || !auth)
      throw ApplicationFailure.nonRetryable(`card payment ${paymentId} not found`, 'NotFound');
    return { payment, auth };
  }

  /** The message's transaction: the card from the vault, the identity recorded before sending. */
  async function transactionOf(payment: PaymentRecord, auth: CardAuthorisation): Promise<CardTransaction> {
    const card = await openVaultedCard(pool, deps.ring, auth.cardToken);
    if (!card)
      throw ApplicationFailure.nonRetryable(`card ${auth.cardToken} is not in the vault`, 'NotFound');
    return {
      pan: card.pan,
      expiry: card.expiry,
      amount: payment.amount,
      currencyNumeric: CURRENCIES[payment.currency].numeric,
      stan: auth.stan,
      rrn: auth.rrn,
      localDateTime: auth.localAt,
      originalTransmission: auth.transmission,
      acquirerId: deps.acquirer.id,
      terminalId: deps.acquirer.terminalId,
      merchantId: deps.acquirer.merchantId,
    };
  }

  /**
   * The switch's health, counted like an operator's (route health): an authorisation it answered,
   * approved or declined by the issuer, is a success; one it never received or never answered, a
   * failure. Too many in a row and the hosted checkout stops offering its cards for a while.
   */
  async function switchHealth(payment: PaymentRecord, answer: GimAnswer): Promise<void> {
    await recordOperatorOutcome(pool, {
      operator: circuitOf('gim', payment.livemode),
      ok: answer.kind === 'answered',
      ...(answer.kind === 'answered' ? {} : { detail: `authorisation ${answer.kind.replace('_', ' ')}` }),
      ...deps.circuit,
    });
  }

  /** Nothing left the worker: the activity's retry sends it (safe). Anything else is the caller's to read. */
  function unsent(answer: GimAnswer, what: string): void {
    if (answer.kind === 'not_sent')
      throw ApplicationFailure.retryable(`${what} not sent: ${answer.detail}`, 'NotSent');
  }

  return {
    /**
     * Sends the authorisation (0100) once its identity is recorded, and records the switch's
     * answer, or that none came in time (the workflow then reverses it). Re-run, it answers what
     * was recorded.
     */
    async authoriseCard(paymentId: string): Promise<CardAuthorisationResult> {
      const { payment, auth } = await load(paymentId);
      if (auth.outcome === 'approved') return { outcome: 'approved' };
      if (auth.outcome === 'no_answer') return { outcome: 'no_answer' };
      if (auth.outcome === 'declined') {
        const meaning = responseMeaning(auth.responseCode ?? '');
        return meaning.approved ? { outcome: 'approved' } : { outcome: 'declined', failure: meaning.failure };
      }
      if (payment.status === 'created') {
        await applyTransition(pool, {
          paymentId,
          step: 'authorise',
          to: 'pending',
          actor: 'workflow',
          reason: 'card authorisation sent to GIM-UEMOA',
        });
      }
      const message = authorisationRequest(await transactionOf(payment, auth));
      // Field 7 as recorded: a reversal's field 90 names it.
      const answer = await connection().request({
        ...message,
        fields: { ...message.fields, 7: auth.transmission },
      });
      await switchHealth(payment, answer);
      unsent(answer, 'authorisation');
      if (answer.kind !== 'answered') {
        logger.warn(
          { paymentId, rrn: auth.rrn, answer: answer.kind },
          'card authorisation unanswered: to be reversed',
        );
        await recordAuthorisationOutcome(pool, paymentId, { outcome: 'no_answer' });
        return { outcome: 'no_answer' };
      }
      const code = String(answer.message.fields[39] ?? '');
      const meaning = responseMeaning(code);
      logger.info(
        { paymentId, rrn: auth.rrn, answer: describeMessage(answer.message) },
        'card authorisation answered',
      );
      if (meaning.approved) {
        await recordAuthorisationOutcome(pool, paymentId, {
          outcome: 'approved',
          responseCode: code,
          approvalCode: String(answer.message.fields[38] ?? ''),
        });
        return { outcome: 'approved' };
      }
      await recordAuthorisationOutcome(pool, paymentId, { outcome: 'declined', responseCode: code });
      return { outcome: 'declined', failure: meaning.failure };
    },

    /**
     * One reversal send (0400 the first, 0420 the next, 0421 after): acknowledged (00, or 25:
     * the switch holds nothing to reverse) it is recorded; otherwise the activity fails and its
     * retry sends the next repeat, for as long as it takes.
     */
    async reverseCard(paymentId: string, original: '0100' | '0200' = '0100'): Promise<void> {
      const { payment, auth } = await load(paymentId);
      if (auth.reversedAt) return;
      const t = await transactionOf(payment, auth);
      const sends = await countSend(pool, paymentId, 'reversal');
      const answer = await connection().request(
        reversal(t, { mti: original, approvalCode: auth.approvalCode ?? undefined }, sends),
      );
      const code = answer.kind === 'answered' ? String(answer.message.fields[39] ?? '') : undefined;
      if (code === '00' || code === '25') {
        await markAcknowledged(pool, paymentId, 'reversal');
        logger.info({ paymentId, rrn: auth.rrn, sends: sends + 1, code }, 'card authorisation reversed');
        return;
      }
      throw ApplicationFailure.retryable(
        `reversal ${sends + 1} of ${auth.rrn} not acknowledged (${code ?? answer.kind})`,
        'ReversalUnacknowledged',
      );
    },

    /**
     * A card refund (0200, processing code 20) under the refund's own STAN and RRN, recorded before
     * it is sent: answered, recorded; unanswered, recorded so, and the workflow reverses it (0400
     * of the 0200) until the switch acknowledges, so that a refund is never credited unknowingly.
     */
    async refundCard(refundId: string): Promise<CardAuthorisationResult> {
      const { payment, auth } = await load(refundId);
      if (auth.outcome === 'approved') return { outcome: 'approved' };
      if (auth.outcome === 'no_answer') return { outcome: 'no_answer' };
      if (auth.outcome === 'declined') {
        const meaning = responseMeaning(auth.responseCode ?? '');
        return meaning.approved ? { outcome: 'approved' } : { outcome: 'declined', failure: meaning.failure };
      }
      const message = refundRequest(await transactionOf(payment, auth));
      const answer = await connection().request({
        ...message,
        fields: { ...message.fields, 7: auth.transmission },
      });
      unsent(answer, 'refund');
      if (answer.kind !== 'answered') {
        logger.warn(
          { paymentId: refundId, rrn: auth.rrn, answer: answer.kind },
          'card refund unanswered: to be reversed',
        );
        await recordAuthorisationOutcome(pool, refundId, { outcome: 'no_answer' });
        return { outcome: 'no_answer' };
      }
      const code = String(answer.message.fields[39] ?? '');
      const meaning = responseMeaning(code);
      await recordAuthorisationOutcome(pool, refundId, {
        outcome: meaning.approved ? 'approved' : 'declined',
        responseCode: code,
        ...(meaning.approved ? { approvalCode: String(answer.message.fields[38] ?? '') } : {}),
      });
      logger.info({ paymentId: refundId, rrn: auth.rrn, code }, 'card refund answered');
      return meaning.approved ? { outcome: 'approved' } : { outcome: 'declined', failure: meaning.failure };
    },

    /**
     * One completion advice (0220, then 0221 repeats): captures the approved authorisation. Not
     * acknowledged, the activity fails and its retry sends the next repeat.
     */
    async captureCard(paymentId: string): Promise<{ code: string }> {
      const { payment, auth } = await load(paymentId);
      if (auth.capturedAt) return { code: '00' };
      if (auth.outcome !== 'approved' || auth.reversedAt)
        throw ApplicationFailure.nonRetryable(`${paymentId}: nothing approved to capture`, 'NotCapturable');
      const t = await transactionOf(payment, auth);
      const sends = await countSend(pool, paymentId, 'capture');
      const answer = await connection().request(completionAdvice(t, auth.approvalCode ?? '', sends));
      if (answer.kind !== 'answered')
        throw ApplicationFailure.retryable(
          `completion advice ${sends + 1} of ${auth.rrn}: ${answer.kind}`,
          'CaptureUnacknowledged',
        );
      const code = String(answer.message.fields[39] ?? '');
      if (code === '00') await markAcknowledged(pool, paymentId, 'capture');
      else
        logger.error(
          { paymentId, rrn: auth.rrn, code },
          'the switch refused the completion advice: for review',
        );
      return { code };
    },

    /**
     * What a card payin whose workflow is gone needs (workflows/card-recovery.ts), from what its
     * authorisation recorded: captured, or its completion advice already sent, its capture is
     * finished; declined, it fails; anything else (never answered, approved and not captured,
     * perhaps never sent) is reversed: a reversal of what the switch never received is
     * acknowledged all the same (25).
     */
    async planCardRecovery(
      paymentId: string,
    ): Promise<
      { action: 'capture' } | { action: 'reverse' } | { action: 'declined'; failure: PaymentFailure }
    > {
      const { auth } = await load(paymentId);
      if (auth.reversedAt) return { action: 'reverse' };
      const meaning = responseMeaning(auth.responseCode ?? '');
      const approved = auth.outcome === 'approved' || (auth.outcome === 'declined' && meaning.approved);
      if (approved && (auth.capturedAt || auth.captureSends > 0)) return { action: 'capture' };
      if (auth.outcome === 'declined' && !meaning.approved)
        return { action: 'declined', failure: meaning.failure };
      return { action: 'reverse' };
    },

    /** The payin's end, in the books: credited once captured, failed when declined or reversed. */
    async recordCardPayinResult(paymentId: string, outcome: CardPayinResult): Promise<void> {
      const end = CARD_PAYIN_ENDS[outcome.result];
      const failure: PaymentFailure | undefined =
        outcome.result === 'declined'
          ? outcome.failure
          : outcome.result === 'capture_refused' && end.failure
            ? { ...end.failure, message: `${end.failure.message} (${outcome.code})` }
            : end.failure;
      await recordCardPayinEnd(pool, paymentId, { ...end, failure }, outcome.result === 'approved');
    },
  };
}

export type CardActivities = ReturnType<typeof createCardActivities>;
