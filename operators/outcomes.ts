import type { InitiationOutcome } from './types.js';

/** A refusal decided here, before anything was sent to the operator. */
export function localRefusal(code: string, message: string): InitiationOutcome {
  return { kind: 'rejected', failure: { code, message }, operatorStatus: 'local', raw: null };
}
