import { modeOfKey } from '../lib/api-keys.js';
import { apiKeyStatus, type ApiKey } from './api-keys.js';
import { getPayment, type PaymentRecord } from './payments.js';
import type { Queryable } from './pool.js';
import { listTransferLegs, type TransferParty, type TransferRecord } from './transfers.js';

/*
 * The resources as the API shows them. They live beside the records because events carry them
 * too, written in the transaction of the change they report (db/events.ts).
 */

/** A payment as the merchant sees it (snake_case, amounts in minor units). */
export function paymentView(p: PaymentRecord) {
  const party = {
    // The number masked (+226******77): the full one is in the vault alone (issue 19).
    ...(p.customer.phoneMasked ? { phone: p.customer.phoneMasked } : {}),
    ...(p.customer.firstName ? { first_name: p.customer.firstName } : {}),
    ...(p.customer.lastName ? { last_name: p.customer.lastName } : {}),
    ...(p.customer.email ? { email: p.customer.email } : {}),
    ...(p.customer.language ? { language: p.customer.language } : {}),
  };
  const common = {
    id: p.id,
    object: p.kind,
    livemode: p.livemode,
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

function legView(p: PaymentRecord | undefined) {
  if (!p) return null;
  return {
    id: p.id,
    status: p.status,
    amount: p.amount,
    operator: p.operator,
    network: p.network,
    operator_reference: p.operatorReference,
    failure: p.failure,
  };
}

function partyView(party: TransferParty) {
  return { phone: party.phoneMasked, network: party.network, operator: party.operator };
}

/** A transfer as the merchant sees it, with its legs as they are now. */
export async function transferView(db: Queryable, t: TransferRecord) {
  // One at a time: `db` may be a transaction's client, which runs one query at a time.
  const legs: PaymentRecord[] = [];
  for (const r of await listTransferLegs(db, t.id)) legs.push((await getPayment(db, r.id))!);
  const collection = legs.find((l) => l.kind === 'payin');
  return {
    id: t.id,
    object: 'transfer' as const,
    livemode: t.livemode,
    status: t.status,
    currency: t.currency,
    amount: t.feeBearer === 'sender' ? t.disburseAmount : t.collectAmount,
    fee: t.feeAmount,
    fee_bearer: t.feeBearer,
    collect_amount: t.collectAmount,
    disburse_amount: t.disburseAmount,
    sender: partyView(t.sender),
    recipient: partyView(t.recipient),
    // What the sender must do while the collection waits for them.
    next_action:
      collection && (collection.status === 'action_required' || collection.status === 'pending')
        ? collection.nextAction
        : null,
    legs: {
      collection: legView(collection),
      disbursement: legView(legs.find((l) => l.kind === 'payout')),
      refunds: legs.filter((l) => l.kind === 'refund').map(legView),
    },
    description: t.description,
    metadata: t.metadata,
    failure: t.failure,
    workflow_id: t.workflowId,
    created_at: t.createdAt.toISOString(),
    updated_at: t.updatedAt.toISOString(),
    completed_at: t.completedAt?.toISOString() ?? null,
  };
}

/** An API key as its merchant sees it (never its secret, which is not stored). */
export function apiKeyView(key: ApiKey, production: boolean) {
  const mode = modeOfKey(key, production);
  return {
    id: key.id,
    object: 'api_key' as const,
    name: key.name,
    mode,
    livemode: mode === 'live',
    scopes: key.scopes,
    prefix: key.prefix,
    status: apiKeyStatus(key),
    created_at: key.createdAt.toISOString(),
    last_used_at: key.lastUsedAt?.toISOString() ?? null,
    expires_at: key.expiresAt?.toISOString() ?? null,
    revoked_at: key.revokedAt?.toISOString() ?? null,
    replaced_by: key.replacedBy,
  };
}
