import {
  CancellationScope,
  condition,
  isCancellation,
  patched,
  proxyActivities,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { CallbackActivities } from '../activities/callback-activities.js';
import type { StatusCheck } from '../activities/status-checks.js';
import { nextPollDelay, weighCallbacks, type OutcomeDecision } from './decisions.js';
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
): Promise<CallbackHint[]> {
  if (hints.length === 0) return [];
  const { confirmed, rejected, undecided } = weighCallbacks(hints, observation, amount);
  if (confirmed.length) await settleOperatorCallbacks(confirmed, 'confirmed');
  if (rejected.length)
    await settleOperatorCallbacks(rejected, 'rejected', 'not confirmed by the operator status API');
  return undecided;
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
