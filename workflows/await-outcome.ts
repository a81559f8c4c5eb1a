import {
  CancellationScope,
  condition,
  isCancellation,
  patched,
  proxyActivities,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { CallbackActivities } from '../activities/callback-activities.js';
import type { Confirmation, Ending, StatusCheck } from '../activities/status-checks.js';
import { nextPollDelay, weighCallbacks, type OutcomeDecision } from '../lib/payment-decisions.js';
import { ACTIVITY_OPTIONS, type CallbackHint } from './shared.js';

const callbackActivities = proxyActivities<CallbackActivities>(ACTIVITY_OPTIONS);

/**
 * Marks callbacks as confirmed or contradicted by the status API. The activity was named
 * `settleCallbacks` before: histories recorded then replay with that name.
 */
export function settleOperatorCallbacks(
  ids: number[],
  verdict: 'confirmed' | 'rejected',
  reason?: string,
): Promise<void> {
  return patched('settle-operator-callbacks')
    ? callbackActivities.settleOperatorCallbacks(ids, verdict, reason)
    : callbackActivities.settleCallbacks(ids, verdict, reason);
}

/**
 * The waiting part shared by every payment workflow: wake on a callback hint or at the next poll
 * (backoff), ask the status API, weigh the callbacks against its answer, until a definite answer
 * or the deadline; then one last check and a definite decision.
 */
export interface AwaitOutcomeOptions {
  deadlineAt: string;
  poll: { initialSeconds: number; maxSeconds: number };
  amount: number;
  /** Filled by the workflow's callback signal handler. */
  hints: CallbackHint[];
  check: () => Promise<StatusCheck>;
  decide: (obs: StatusCheck, amount: number) => OutcomeDecision;
  decideAtDeadline: (obs: StatusCheck, amount: number) => Extract<OutcomeDecision, { final: true }>;
  onCheck: () => void;
  /**
   * Polls on the server's retry backoff until the operator's answer is definite, within
   * `timeoutMs`: no workflow task and no history event per poll. Without it, polls use timers.
   */
  pollUntilDefinite?: (schedule: PollSchedule) => Promise<StatusCheck>;
}

export interface PollSchedule {
  initialSeconds: number;
  maxSeconds: number;
  timeoutMs: number;
}

/**
 * Options for a polling activity: retried by the server on the backoff until it answers, or
 * until the deadline (its schedule-to-close timeout).
 */
export function pollingActivityOptions(
  base: ActivityOptions,
  schedule: PollSchedule,
  taskQueue?: string,
): ActivityOptions {
  return {
    ...base,
    ...(taskQueue ? { taskQueue } : {}),
    scheduleToCloseTimeout: schedule.timeoutMs,
    retry: {
      initialInterval: `${schedule.initialSeconds} seconds`,
      backoffCoefficient: 2,
      maximumInterval: `${schedule.maxSeconds} seconds`,
    },
  };
}

type PollOutcome =
  { kind: 'hint' } | { kind: 'answer'; observation: StatusCheck } | { kind: 'gave_up'; error: unknown };

/**
 * Waits for whichever comes first: a callback hint, or a definite answer from the polling
 * activity. On a hint the polling activity is cancelled (the hint is confirmed by a check of its
 * own); if the activity gives up (the deadline passed), the caller takes its last look.
 */
async function pollOrHint(
  o: AwaitOutcomeOptions,
  poll: NonNullable<AwaitOutcomeOptions['pollUntilDefinite']>,
  initialSeconds: number,
  timeoutMs: number,
): Promise<PollOutcome> {
  const scope = new CancellationScope();
  const polling = scope
    .run(() => poll({ initialSeconds, maxSeconds: o.poll.maxSeconds, timeoutMs }))
    .then(
      (observation): PollOutcome => ({ kind: 'answer', observation }),
      (error: unknown): PollOutcome => ({ kind: 'gave_up', error }),
    );
  const hinted = condition(() => o.hints.length > 0).then((): PollOutcome => ({ kind: 'hint' }));
  const first = await Promise.race([polling, hinted]);
  if (first.kind === 'hint') scope.cancel();
  return first;
}

/**
 * Weighs callback hints against a status answer and records the verdicts (confirmed, then
 * rejected); returns those it cannot decide (the status API did not answer).
 */
export async function settleHints(
  hints: CallbackHint[],
  observation: StatusCheck,
  amount: number,
  /** Workflows whose end is recorded by one activity never ran the activity under its old name. */
  settle: typeof settleOperatorCallbacks = settleOperatorCallbacks,
): Promise<CallbackHint[]> {
  if (hints.length === 0) return [];
  const { confirmed, rejected, undecided } = weighCallbacks(hints, observation, amount);
  if (confirmed.length) await settle(confirmed, 'confirmed');
  if (rejected.length) await settle(rejected, 'rejected', 'not confirmed by the operator status API');
  return undecided;
}

/** Settles hints weighed by the workflow itself (those that came after the end was recorded). */
export const settleLateHints = (hints: CallbackHint[], observation: StatusCheck, amount: number) =>
  settleHints(hints, observation, amount, callbackActivities.settleOperatorCallbacks);

/**
 * The waiting part of a payment whose end is recorded by the activity that learns it: wake on a
 * callback hint or poll on the server's backoff, until an activity answers with the recorded end
 * or the deadline passes; then one last confirmation, which always ends the payment.
 */
export interface AwaitEndOptions {
  deadlineAt: string;
  poll: { initialSeconds: number; maxSeconds: number };
  /** Filled by the workflow's callback signal handler. */
  hints: CallbackHint[];
  /** Asks the operator now, weighs the hints, records the end if definite (always, at the deadline). */
  confirm: (hints: CallbackHint[], atDeadline: boolean) => Promise<Confirmation>;
  /** Polls on the server's retry backoff until the answer is definite, and records the end. */
  pollUntilEnded: (schedule: PollSchedule) => Promise<Confirmation>;
  onCheck: () => void;
}

export async function awaitEnd(o: AwaitEndOptions): Promise<Ending> {
  const deadline = Date.parse(o.deadlineAt);
  const left = () => deadline - Date.now();
  let pollDelay = o.poll.initialSeconds;
  // Hints the operator's silence left unweighed: weighed again at the next confirmation.
  let undecided: CallbackHint[] = [];
  const takeHints = () => [...undecided.splice(0), ...o.hints.splice(0)];
  const ending = (c: Confirmation): Ending | undefined => (c.ended ? { ...c, ended: c.ended } : undefined);

  // Most payers answer within seconds: a timer first, so that a quick payment costs no poll.
  if (o.hints.length === 0 && left() > 0) {
    const hinted = await condition(() => o.hints.length > 0, Math.min(pollDelay * 1000, left()));
    // The first poll runs at once, the next ones on the backoff after it.
    if (!hinted) pollDelay = nextPollDelay(pollDelay, o.poll.maxSeconds);
  }
  while (left() > 0) {
    if (o.hints.length === 0) {
      const outcome = await hintOrAnswer(o.hints, () =>
        o.pollUntilEnded({ initialSeconds: pollDelay, maxSeconds: o.poll.maxSeconds, timeoutMs: left() }),
      );
      if (outcome.kind === 'answer') {
        o.onCheck();
        const ended = ending(outcome.value);
        if (ended) return ended;
        continue;
      }
      if (outcome.kind === 'gave_up') {
        if (isCancellation(outcome.error)) throw outcome.error;
        // The server stops retrying when its next backoff would cross the deadline: the time
        // left is still the payer's. Wait for a hint until the deadline, then take the last look.
        if (left() <= 0 || !(await condition(() => o.hints.length > 0, left()))) break;
      } else {
        // A callback hint: confirmed at once below; the polling resumes where its backoff was.
        pollDelay = nextPollDelay(pollDelay, o.poll.maxSeconds);
      }
    }
    const confirmation = await o.confirm(takeHints(), false);
    o.onCheck();
    const ended = ending(confirmation);
    if (ended) return ended;
    undecided = confirmation.undecided;
  }
  // Deadline: one last look, which ends the payment whatever it finds.
  const last = await o.confirm(takeHints(), true);
  o.onCheck();
  const ended = ending(last);
  if (!ended) throw new Error('the confirmation at the deadline recorded no end');
  return ended;
}

/** Waits for a callback hint or the polling activity's answer, whichever comes first. */
async function hintOrAnswer<T>(
  hints: CallbackHint[],
  poll: () => Promise<T>,
): Promise<{ kind: 'hint' } | { kind: 'answer'; value: T } | { kind: 'gave_up'; error: unknown }> {
  const scope = new CancellationScope();
  const polling = scope.run(poll).then(
    (value) => ({ kind: 'answer' as const, value }),
    (error: unknown) => ({ kind: 'gave_up' as const, error }),
  );
  const hinted = condition(() => hints.length > 0).then(() => ({ kind: 'hint' as const }));
  const first = await Promise.race([polling, hinted]);
  if (first.kind === 'hint') scope.cancel();
  return first;
}

export async function awaitOutcome(
  o: AwaitOutcomeOptions,
): Promise<{ decision: Extract<OutcomeDecision, { final: true }>; observation: StatusCheck }> {
  // Callbacks received while the status API was not answering: weighed again at the next check.
  const unweighed: CallbackHint[] = [];
  const deadline = Date.parse(o.deadlineAt);
  let pollDelay = o.poll.initialSeconds;
  let observation: StatusCheck = { reachable: false, detail: 'not checked yet' };
  let decision: OutcomeDecision = { final: false };

  const settle = async (hints: CallbackHint[]) => {
    unweighed.push(...(await settleHints(hints, observation, o.amount)));
  };

  // Histories recorded before polling moved into activity retries replay with timers.
  const poll = o.pollUntilDefinite && patched('poll-by-activity-retries') ? o.pollUntilDefinite : undefined;
  let firstWaitOver = false;

  while (!decision.final) {
    const remainingMs = deadline - Date.now();
    if (remainingMs <= 0) break;
    if (poll && o.hints.length === 0 && !firstWaitOver) {
      // Most payers answer within seconds: a timer first, so that a quick payin costs no poll.
      firstWaitOver = true;
      const hinted = await condition(() => o.hints.length > 0, Math.min(pollDelay * 1000, remainingMs));
      if (!hinted) {
        // The first poll runs at once, the next ones on the backoff after it.
        pollDelay = nextPollDelay(pollDelay, o.poll.maxSeconds);
        if (deadline - Date.now() <= 0) break;
      }
    }
    if (poll && o.hints.length === 0) {
      const outcome = await pollOrHint(o, poll, pollDelay, deadline - Date.now());
      if (outcome.kind === 'gave_up') {
        if (isCancellation(outcome.error)) throw outcome.error;
        // The server stops retrying as soon as its next backoff would cross the deadline, so the
        // poll gives up at its last attempt, not at the deadline: the time left is still the
        // payer's. Wait for a hint until the deadline, then take the last look.
        const left = deadline - Date.now();
        if (left <= 0 || !patched('wait-for-hints-until-deadline')) break;
        if (!(await condition(() => o.hints.length > 0, left))) break;
        // A callback hint arrived before the deadline: checked at once below.
      }
      if (outcome.kind === 'answer') {
        observation = outcome.observation;
        o.onCheck();
        decision = o.decide(observation, o.amount);
        await settle([...unweighed.splice(0), ...o.hints.splice(0)]);
        continue;
      }
      // A callback hint: checked at once below; the polling resumes where its backoff was.
      pollDelay = nextPollDelay(pollDelay, o.poll.maxSeconds);
    }
    const woken = poll
      ? true
      : await condition(() => o.hints.length > 0, Math.min(pollDelay * 1000, remainingMs));
    const hints = [...unweighed.splice(0), ...o.hints.splice(0)];
    observation = await o.check();
    o.onCheck();
    decision = o.decide(observation, o.amount);
    await settle(hints);
    if (!woken) pollDelay = nextPollDelay(pollDelay, o.poll.maxSeconds);
  }
  if (decision.final) return { decision, observation };

  // Deadline: one last look, then a definite end.
  observation = await o.check();
  o.onCheck();
  const last = o.decideAtDeadline(observation, o.amount);
  await settle([...unweighed.splice(0), ...o.hints.splice(0)]);
  return { decision: last, observation };
}
