import { condition } from '@temporalio/workflow';
import type { PayinStatusCheck } from '../activities/payin-activities.js';
import { nextPollDelay, weighCallbacks, type PayinDecision } from './decisions.js';
import type { CallbackHint } from './shared.js';

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
  check: () => Promise<PayinStatusCheck>;
  decide: (obs: PayinStatusCheck, amount: number) => PayinDecision;
  decideAtDeadline: (obs: PayinStatusCheck, amount: number) => Extract<PayinDecision, { final: true }>;
  settleCallbacks: (ids: number[], verdict: 'confirmed' | 'rejected', reason?: string) => Promise<void>;
  onCheck: () => void;
}

export async function awaitOutcome(
  o: AwaitOutcomeOptions,
): Promise<{ decision: Extract<PayinDecision, { final: true }>; observation: PayinStatusCheck }> {
  // Callbacks received while the status API was not answering: weighed again at the next check.
  const unweighed: CallbackHint[] = [];
  const deadline = Date.parse(o.deadlineAt);
  let pollDelay = o.poll.initialSeconds;
  let observation: PayinStatusCheck = { reachable: false, detail: 'not checked yet' };
  let decision: PayinDecision = { final: false };

  const settle = async (hints: CallbackHint[]) => {
    if (hints.length === 0) return;
    const { confirmed, rejected, undecided } = weighCallbacks(hints, observation, o.amount);
    if (confirmed.length) await o.settleCallbacks(confirmed, 'confirmed');
    if (rejected.length)
      await o.settleCallbacks(rejected, 'rejected', 'not confirmed by the operator status API');
    unweighed.push(...undecided);
  };

  while (!decision.final) {
    const remainingMs = deadline - Date.now();
    if (remainingMs <= 0) break;
    const woken = await condition(() => o.hints.length > 0, Math.min(pollDelay * 1000, remainingMs));
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
