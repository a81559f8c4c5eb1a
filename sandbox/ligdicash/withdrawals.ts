import { randomBytes, randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import { directNetworkOf } from './invoices.js';
import type { SandboxConfig } from '../config.js';
import { later, type CallbackDelivery, type CallbackNotifier, type MerchantWallet } from './notifier.js';
import { payoutScenarioFor, type PayoutScenario } from './scenarios.js';

/**
 * LigdiCash's side of payouts ("withdrawals"): client payouts (`withdrawal/create`, to a LigdiCash
 * account) and merchant payouts (`straight/payout`, to any mobile money number). Each record says
 * whether the money actually left (`executed`): tests count executions to prove nothing is paid twice.
 */
export type WithdrawalStatus = 'pending' | 'completed' | 'nocompleted';

export interface Withdrawal {
  token: string;
  /** LigdiCash's payout callbacks carry a token other than the creation token (operators-facts.md). */
  callbackToken: string;
  kind: 'client' | 'merchant';
  amount: number;
  customer: string;
  topUpWallet: number | null;
  description: string;
  transactionId: string;
  callbackUrl: string;
  scenario: PayoutScenario;
  status: WithdrawalStatus;
  responseText: string | null;
  statusDescription: string;
  executed: boolean;
  executedAt: string | null;
  createdAt: string;
  statusCalls: number;
  callbacks: CallbackDelivery[];
}

export type CreateResult =
  | { kind: 'accepted'; withdrawal: Withdrawal }
  | { kind: 'refused'; code: string; description: string }
  /** The answer is lost or garbled although the payout was executed. */
  | { kind: 'ambiguous'; withdrawal: Withdrawal; how: 'timeout' | '5xx' }
  /** The request is lost: nothing is executed, and the caller hears nothing in time. */
  | { kind: 'lost' };

function token(): string {
  const header = Buffer.from('{"typ":"JWT","alg":"HS256"}').toString('base64url');
  const payload = Buffer.from(JSON.stringify({ id_finance: randomInt(1_000_000, 9_999_999) })).toString(
    'base64url',
  );
  return `${header}.${payload}.${randomBytes(24).toString('base64url')}`;
}

export class WithdrawalBook {
  private readonly withdrawals = new Map<string, Withdrawal>();

  constructor(
    private readonly config: SandboxConfig,
    private readonly logger: Logger,
    private readonly notifier: CallbackNotifier,
    private readonly wallet: MerchantWallet,
  ) {}

  get(token: string): Withdrawal | undefined {
    return this.withdrawals.get(token);
  }

  all(): Withdrawal[] {
    return [...this.withdrawals.values()];
  }

  findByTransactionId(transactionId: string): Withdrawal[] {
    return this.all().filter((w) => w.transactionId === transactionId);
  }

  create(input: {
    kind: Withdrawal['kind'];
    amount: number;
    customer: string;
    topUpWallet: number | null;
    description: string;
    transactionId: string;
    callbackUrl: string;
  }): CreateResult {
    const client = input.kind === 'client';
    const scenario = payoutScenarioFor(input.amount, input.customer);
    if (scenario === 'lost') return { kind: 'lost' };
    // Refusals, with each payout's own sub-codes (official JS SDK wiki).
    if (input.amount < 500 || (!client && input.amount > 1_000_000)) {
      return { kind: 'refused', code: client ? '05' : '02', description: 'Montant hors limites' };
    }
    if (scenario === 'recipient_unknown') {
      return client
        ? { kind: 'refused', code: '02', description: 'Client inconnu' }
        : { kind: 'refused', code: '05', description: 'Opérateur du destinataire non identifié' };
    }
    const pendingToSameNumber = this.all().some(
      (w) => w.customer === input.customer && w.status === 'pending',
    );
    if (scenario === 'pending_24h' || pendingToSameNumber) {
      return {
        kind: 'refused',
        code: client ? '03a' : '04',
        description: 'Un retrait est en attente pour ce numéro (24 h)',
      };
    }
    if (scenario === 'balance_low' || this.wallet.balance < input.amount) {
      return { kind: 'refused', code: client ? '04' : '08', description: 'Solde insuffisant' };
    }
    if (client && input.transactionId && this.findByTransactionId(input.transactionId).length > 0) {
      return { kind: 'refused', code: '07', description: 'Transaction déjà existante' };
    }

    const withdrawal: Withdrawal = {
      ...input,
      token: token(),
      callbackToken: token(),
      scenario,
      status: 'pending',
      responseText: null,
      statusDescription: 'Retrait en attente',
      executed: false,
      executedAt: null,
      createdAt: new Date().toISOString(),
      statusCalls: 0,
      callbacks: [],
    };
    this.withdrawals.set(withdrawal.token, withdrawal);

    switch (scenario) {
      case 'ambiguous_timeout':
      case 'ambiguous_5xx':
        // The money leaves although the caller will not learn it from this answer.
        this.execute(withdrawal);
        return { kind: 'ambiguous', withdrawal, how: scenario === 'ambiguous_timeout' ? 'timeout' : '5xx' };
      case 'never':
        return { kind: 'accepted', withdrawal };
      case 'declined':
        later(this.config.SANDBOX_PROCESSING_DELAY_MS, () =>
          this.finish(withdrawal, 'nocompleted', 'Echec', 'Transfert échoué'),
        );
        return { kind: 'accepted', withdrawal };
      default:
        later(this.config.SANDBOX_PROCESSING_DELAY_MS, () => this.execute(withdrawal));
        return { kind: 'accepted', withdrawal };
    }
  }

  /** Control endpoint: force an end, whatever the scenario. */
  force(tokenValue: string, outcome: 'complete' | 'decline'): Withdrawal | undefined {
    const w = this.withdrawals.get(tokenValue);
    if (!w || w.status !== 'pending') return w;
    if (outcome === 'complete') this.execute(w);
    else this.finish(w, 'nocompleted', 'Echec', 'Transfert échoué');
    return w;
  }

  private execute(w: Withdrawal): void {
    if (w.status !== 'pending') return;
    this.wallet.balance -= w.amount;
    w.executed = true;
    w.executedAt = new Date().toISOString();
    this.finish(w, 'completed', null, 'Retrait effectué');
  }

  private finish(
    w: Withdrawal,
    status: WithdrawalStatus,
    responseText: string | null,
    description: string,
  ): void {
    if (w.status !== 'pending') return;
    w.status = status;
    w.responseText = responseText;
    w.statusDescription = description;
    this.logger.info(
      { scenario: w.scenario, status, executed: w.executed },
      'ligdicash sandbox payout ended',
    );
    if (w.scenario === 'no_callback') return;
    void this.notifier.notify(
      w.callbackUrl,
      { ...this.statusBody(w), token: w.callbackToken, method: 'post', url: w.callbackUrl },
      w.callbacks,
      w.scenario === 'duplicate_callbacks' ? 3 : 1,
    );
  }

  /** `withdrawal/confirm`'s answer: "00" for any payout LigdiCash knows, the state in `status`. */
  confirmBody(w: Withdrawal) {
    return {
      ...this.statusBody(w),
      response_code: '00',
      wiki: 'https://client.ligdicash.com/wiki/withdrawal',
    };
  }

  /** As `withdrawal/confirm` (guide §1.1.8) and the payout callbacks describe it. */
  statusBody(w: Withdrawal) {
    const network = directNetworkOf(w.customer);
    const amount = String(w.scenario === 'wrong_amount' ? w.amount - 1 : w.amount);
    return {
      date: (w.executedAt ?? w.createdAt).replace('T', ' ').replace(/\.\d+Z$/, '+00'),
      response_code: w.status === 'completed' ? '00' : '01',
      token: w.token,
      description: w.statusDescription,
      amount,
      montant: amount,
      response_text: w.responseText,
      status: w.status,
      custom_data: [
        {
          id_customdata: 902373,
          id_finance: 4077479,
          keyof_customdata: 'transaction_id',
          valueof_customdata: w.transactionId,
        },
      ],
      // The recipient's network (its number's), as LigdiCash names it.
      operator_name: network?.operatorName ?? '',
      operator_id: network?.operatorId ?? '',
      customer: w.customer,
      transaction_id: w.transactionId,
      external_id: null,
    };
  }
}
