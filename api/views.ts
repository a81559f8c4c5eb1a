import type { PaymentRecord } from '../db/payments.js';
import { Problem } from './problems.js';

/** A payment as the merchant sees it (snake_case, amounts in minor units). */
export function paymentView(p: PaymentRecord) {
  const party = {
    ...(p.customer.phone ? { phone: p.customer.phone } : {}),
    ...(p.customer.firstName ? { first_name: p.customer.firstName } : {}),
    ...(p.customer.lastName ? { last_name: p.customer.lastName } : {}),
    ...(p.customer.email ? { email: p.customer.email } : {}),
    ...(p.customer.language ? { language: p.customer.language } : {}),
  };
  const common = {
    id: p.id,
    object: p.kind,
    status: p.status,
    amount: p.amount,
    currency: p.currency,
    fee: p.feeAmount,
    operator: p.operator,
    network: p.network,
    description: p.description,
    metadata: p.metadata,
    failure: p.failure,
    operator_reference: p.operatorReference,
    operator_status: p.operatorStatus,
    workflow_id: p.workflowId,
    deadline_at: p.deadlineAt?.toISOString() ?? null,
    created_at: p.createdAt.toISOString(),
    updated_at: p.updatedAt.toISOString(),
    completed_at: p.completedAt?.toISOString() ?? null,
  };
  switch (p.kind) {
    case 'payin':
      return {
        ...common,
        mode: p.mode,
        customer: party,
        next_action: p.nextAction,
        return_url: p.returnUrl,
        cancel_url: p.cancelUrl,
      };
    case 'payout':
      return { ...common, method: p.mode, recipient: party };
    case 'refund':
      return { ...common, payin: p.parentPaymentId, recipient: party };
  }
}

export interface Cursor {
  createdAt: string;
  id: string;
}

export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify([c.createdAt, c.id])).toString('base64url');
}

export function decodeCursor(text: string): Cursor {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown[];
    if (typeof createdAt === 'string' && typeof id === 'string' && !Number.isNaN(Date.parse(createdAt))) {
      return { createdAt, id };
    }
  } catch {
    // fall through
  }
  throw new Problem('validation-error', 'cursor is not one we issued', {
    errors: [{ field: 'cursor', message: 'use next_cursor from the previous page' }],
  });
}
