import type { KeyRing } from '../../lib/card-vault.js';
import type { Logger } from '../../lib/logger.js';
import type { OperatorTiming } from '../../lib/operators.js';
import type { DisbursementWorkflowInput } from '../../lib/payment-workflows.js';
import type { Pool } from '../../db/pool.js';
import type { OperatorAdapters } from '../../operators/registry.js';
import { createReconciliationPolicies } from './policies.js';
import { createSettlementReconciliation } from './settlement.js';
import { createSweep, workflowStateOf } from './sweep.js';
import { listOverdueCardPayments } from '../../db/card-payins.js';

export { LATE_REFUND_REASON } from './policies.js';

export interface ReconciliationDeps {
  pool: Pool;
  operators: OperatorAdapters;
  logger: Logger;
  timingFor: (operator: string) => OperatorTiming;
  /** Whose payments an operator's settlement report covers (lib/operators.ts modesAtLiveEndpoint). */
  settlementModes: (operator: string) => boolean[];
  sweep: { lookbackDays: number; batch: number; recheckMinutes: number };
  /** The vault's key ring: a late payin's refund goes to the payer's number, opened from it. */
  vault: KeyRing;
}

/** A card payin or refund open past its deadline whose workflow no longer runs. */
export interface StalledCardPayment {
  paymentId: string;
  kind: 'payin' | 'refund';
  rail: 'gim' | 'processor';
  workflowId: string;
}

export interface RunSummary {
  runId: string;
  status: 'completed' | 'failed';
  linesIngested: number;
  summary: Record<string, number>;
  error?: string;
  /** How long each phase of a settlement run took (copy, classify, …), for operations and benchmarks. */
  phasesMs?: Record<string, number>;
  /**
   * Refunds the late-success policy decided: the reconciliation workflow starts each as its child
   * (ABANDON), so that activities start no workflow themselves.
   */
  refundsToStart: DisbursementWorkflowInput[];
}

/**
 * Reconciliation's activities, by role: the daily settlement run (the operator's report against
 * our books, settlement.ts), the frequent sweep (sweep.ts), and the policies both apply
 * (policies.ts).
 */
export function createReconciliationActivities(deps: ReconciliationDeps) {
  const policies = createReconciliationPolicies(deps);
  return {
    reconcileSettlement: createSettlementReconciliation(deps, policies),
    sweepOperator: createSweep(deps, policies),
    /**
     * The card sweep (workflows/card-recovery.ts): card payins open past their deadline whose
     * workflow no longer runs. A workflow Temporal cannot tell about is left for the next sweep.
     */
    async listStalledCardPayments(): Promise<StalledCardPayment[]> {
      const log = deps.logger.child({ component: 'card-sweep' });
      const stalled: StalledCardPayment[] = [];
      for (const p of await listOverdueCardPayments(deps.pool, deps.sweep.batch)) {
        const state = await workflowStateOf(p.workflowId, log);
        if (state !== 'closed' && state !== 'not_found') continue;
        log.warn(
          { paymentId: p.id, workflowId: p.workflowId, kind: p.kind, state },
          `card ${p.kind} without its workflow: recovered`,
        );
        stalled.push({ paymentId: p.id, kind: p.kind, rail: p.rail, workflowId: p.workflowId });
      }
      return stalled;
    },
  };
}

export type ReconciliationActivities = ReturnType<typeof createReconciliationActivities>;
