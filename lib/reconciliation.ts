/**
 * Naming of reconciliation runs, shared by the workflows, the API and the CLI. A run's id in our
 * books derives from its workflow id, so that a retried activity rebuilds the same run.
 */
export type ReconciliationKind = 'settlement' | 'sweep';

export function reconciliationRunId(workflowId: string): string {
  return `rcn_${workflowId}`;
}

/** Workflow id of a run asked for by hand (API or CLI): unique per request, readable in the UI. */
export function manualRunWorkflowId(run: {
  kind: ReconciliationKind;
  operator: string;
  date?: string;
  from?: string;
  requestedAt: number;
}): string {
  const period = run.kind === 'sweep' ? '' : `${run.date ?? (run.from ? 'period' : 'yesterday')}-`;
  return `${run.kind}-${run.operator}-${period}manual-${run.requestedAt}`;
}
