import type { SearchAttributeUpdatePair } from '@temporalio/common';
import { upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { SA } from '../lib/payment-workflows.js';

/**
 * Mirrors a change to the payment's search attributes (the Temporal UI's view). Only for a
 * workflow started with them (as the API starts every payment): a server that does not know our
 * attributes (the time-skipping test server, a workflow started by hand) would fail the workflow
 * task otherwise. Deterministic: the start attributes are in the history.
 */
export function mirror(update: SearchAttributeUpdatePair[]): void {
  if (workflowInfo().typedSearchAttributes.get(SA.paymentId) === undefined) return;
  upsertSearchAttributes(update);
}
