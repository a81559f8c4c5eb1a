import { createHash, randomBytes, randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import { parseMsisdn } from '../../lib/phone.js';
import type { SandboxConfig } from '../config.js';
import { later, type CallbackDelivery, type CallbackNotifier, type MerchantWallet } from './notifier.js';
import { scenarioFor, type Scenario } from './scenarios.js';

/**
 * LigdiCash's side of a payin (an "invoice"), with its own state machine: pending, then
 * completed or not. Kept in memory: the sandbox is a test double for the operator, and its records
 * are what tests compare our books with.
 */

export type InvoiceStatus = 'pending' | 'completed' | 'notcompleted' | 'nocompleted';

export interface Invoice {
  token: string;
  kind: 'redirect' | 'straight';
  amount: number;
  /** What the operator actually collected; differs from `amount` only in the wrong_amount scenario. */
  paidAmount: number;
  description: string;
  customer: string;
  customerName: string;
  operatorId: string;
  operatorName: string;
  authorisation: 'page' | 'otp' | 'approval' | 'operator_page';
  status: InvoiceStatus;
  responseText: string | null;
  statusDescription: string;
  callbackUrl: string;
  returnUrl: string;
  cancelUrl: string;
  customData: Record<string, string>;
  storeName: string;
  scenario: Scenario;
  createdAt: string;
  completedAt: string | null;
  statusCalls: number;
  /** When the status call was last made for this invoice (ISO 8601). */
  lastStatusCallAt: string | null;
  callbacks: CallbackDelivery[];
}

/** Direct-payin networks the sandbox serves, as LigdiCash names them (operators-facts.md). */
const DIRECT_NETWORKS: Record<
  string,
  { operatorId: string; operatorName: string; authorisation: Invoice['authorisation'] }
> = {
  orange_bf: { operatorId: '11', operatorName: 'ORANGE BURKINA', authorisation: 'otp' },
  moov_bf: { operatorId: '12', operatorName: 'MOOV BURKINA', authorisation: 'approval' },
  orange_ci: { operatorId: '16', operatorName: 'ORANGE CI', authorisation: 'operator_page' },
  moov_ci: { operatorId: '14', operatorName: 'MOOV CI', authorisation: 'approval' },
  mtn_ci: { operatorId: '15', operatorName: 'MTN CI', authorisation: 'approval' },
  mtn_bj: { operatorId: '1', operatorName: 'MTN BENIN', authorisation: 'approval' },
  moov_bj: { operatorId: '2', operatorName: 'MOOV BENIN', authorisation: 'approval' },
  orange_ml: { operatorId: '18', operatorName: 'ORANGE MALI', authorisation: 'approval' },
};

export function directNetworkOf(customer: string) {
  const parsed = parseMsisdn(customer);
  if (!parsed.ok || !parsed.value.network) return undefined;
  const network = DIRECT_NETWORKS[parsed.value.network];
  return network && { network: parsed.value.network, ...network };
}

/** A token shaped like LigdiCash's (a JWT): opaque to the merchant, unique per invoice. */
function newToken(): string {
  const header = Buffer.from('{"typ":"JWT","alg":"HS256"}').toString('base64url');
  const payload = Buffer.from(
    JSON.stringify({ id_invoice: randomInt(10_000_000, 99_999_999), n: randomBytes(12).toString('hex') }),
  ).toString('base64url');
  return `${header}.${payload}.${randomBytes(24).toString('base64url')}`;
}

export class InvoiceBook {
  private readonly invoices = new Map<string, Invoice>();
  /** OTPs handed out by the USSD code *144*4*6*amount#, by number and amount; single use. */
  private readonly otps = new Map<string, { otp: string; expiresAt: number }>();

  constructor(
    private readonly config: SandboxConfig,
    private readonly logger: Logger,
    private readonly notifier: CallbackNotifier,
    private readonly wallet: MerchantWallet,
  ) {}

  get(token: string): Invoice | undefined {
    return this.invoices.get(token);
  }

  all(): Invoice[] {
    return [...this.invoices.values()];
  }

  findByTransactionId(transactionId: string): Invoice[] {
    return this.all().filter((i) => i.customData.transaction_id === transactionId);
  }

  issueOtp(customer: string, amount: number): string {
    const otp = String(randomInt(0, 1_000_000)).padStart(6, '0');
    this.otps.set(`${customer}:${amount}`, { otp, expiresAt: Date.now() + 5 * 60_000 });
    return otp;
  }

  consumeOtp(customer: string, amount: number, otp: string): boolean {
    const key = `${customer}:${amount}`;
    const issued = this.otps.get(key);
    if (!issued || issued.otp !== otp || issued.expiresAt < Date.now()) return false;
    this.otps.delete(key);
    return true;
  }

  create(
    input: Omit<
      Invoice,
      | 'token'
      | 'paidAmount'
      | 'status'
      | 'responseText'
      | 'statusDescription'
      | 'scenario'
      | 'createdAt'
      | 'completedAt'
      | 'statusCalls'
      | 'lastStatusCallAt'
      | 'callbacks'
    >,
  ): Invoice {
    const scenario = scenarioFor(input.amount, input.customer);
    const invoice: Invoice = {
      ...input,
      token: newToken(),
      paidAmount: scenario === 'wrong_amount' ? input.amount - 1 : input.amount,
      status: 'pending',
      responseText: null,
      statusDescription: 'Transaction en attente',
      scenario,
      createdAt: new Date().toISOString(),
      completedAt: null,
      statusCalls: 0,
      lastStatusCallAt: null,
      callbacks: [],
    };
    this.invoices.set(invoice.token, invoice);
    if (invoice.authorisation === 'approval') {
      // The payer approves the push on the phone after a while.
      later(this.config.SANDBOX_APPROVAL_DELAY_MS, () => this.pay(invoice.token));
    } else if (invoice.authorisation === 'otp') {
      later(0, () => this.pay(invoice.token));
    }
    return invoice;
  }

  /** The payer authorises (page button, approval on the phone, OTP): the scenario decides the end. */
  pay(token: string, payerPhone?: string): Invoice | undefined {
    const invoice = this.invoices.get(token);
    if (!invoice || invoice.status !== 'pending') return invoice;
    // On the redirect page the payer types the number that pays; LigdiCash reports it as `customer`.
    const digits = (payerPhone ?? '').replace(/\D/g, '');
    if (!invoice.customer && digits) invoice.customer = digits;
    // The network the payer chose on the page is the one the status then names.
    const chosen = invoice.kind === 'redirect' && !invoice.operatorId ? directNetworkOf(digits) : undefined;
    if (chosen) {
      invoice.operatorId = chosen.operatorId;
      invoice.operatorName = chosen.operatorName;
    }
    switch (invoice.scenario) {
      case 'never':
        return invoice;
      case 'declined':
        later(this.config.SANDBOX_PROCESSING_DELAY_MS, () =>
          this.finish(invoice, 'nocompleted', 'Echec (Code04)', 'Solde insuffisant'),
        );
        return invoice;
      case 'cancels':
        later(this.config.SANDBOX_PROCESSING_DELAY_MS, () => this.cancel(token));
        return invoice;
      case 'late_callback':
        later(this.config.SANDBOX_LATE_CALLBACK_MS, () =>
          this.finish(invoice, 'completed', null, 'Paiement effectué'),
        );
        return invoice;
      default:
        later(this.config.SANDBOX_PROCESSING_DELAY_MS, () =>
          this.finish(invoice, 'completed', null, 'Paiement effectué'),
        );
        return invoice;
    }
  }

  cancel(token: string): Invoice | undefined {
    const invoice = this.invoices.get(token);
    if (!invoice || invoice.status !== 'pending') return invoice;
    this.finish(invoice, 'notcompleted', null, 'Transaction annulée par le client');
    return invoice;
  }

  /** Control endpoint: force an end, whatever the scenario. */
  force(token: string, outcome: 'completed' | 'declined' | 'cancelled'): Invoice | undefined {
    const invoice = this.invoices.get(token);
    if (!invoice || invoice.status !== 'pending') return invoice;
    if (outcome === 'completed') this.finish(invoice, 'completed', null, 'Paiement effectué');
    else if (outcome === 'declined')
      this.finish(invoice, 'nocompleted', 'Echec (Code04)', 'Solde insuffisant');
    else this.finish(invoice, 'notcompleted', null, 'Transaction annulée par le client');
    return invoice;
  }

  private finish(
    invoice: Invoice,
    status: InvoiceStatus,
    responseText: string | null,
    description: string,
  ): void {
    if (invoice.status !== 'pending') return;
    invoice.status = status;
    invoice.responseText = responseText;
    invoice.statusDescription = description;
    invoice.completedAt = new Date().toISOString();
    if (status === 'completed') this.wallet.balance += invoice.paidAmount;
    this.logger.info({ scenario: invoice.scenario, status }, 'ligdicash sandbox invoice ended');
    if (invoice.scenario === 'no_callback') return;
    const copies = invoice.scenario === 'duplicate_callbacks' ? 3 : 1;
    void this.notify(invoice, copies);
  }

  /**
   * The confirm call's answer: `response_code` "00" for any invoice LigdiCash knows, whatever its
   * state (what the official SDKs see: they raise on any other code), the state in `status`.
   */
  confirmBody(invoice: Invoice) {
    return {
      ...this.statusBody(invoice),
      response_code: '00',
      wiki: 'https://client.ligdicash.com/wiki/confirmInvoice',
    };
  }

  /** The invoice as the callbacks describe it (complement, "Callback ou webhook"). */
  statusBody(invoice: Invoice) {
    const amount =
      invoice.scenario === 'grouped_amount'
        ? invoice.paidAmount.toLocaleString('fr-FR').replace(/\s/g, ' ')
        : String(invoice.paidAmount);
    return {
      date: (invoice.completedAt ?? invoice.createdAt).replace('T', ' ').replace(/\.\d+Z$/, '+00'),
      response_code: invoice.status === 'completed' ? '00' : '01',
      token: invoice.token,
      description: invoice.statusDescription,
      amount,
      montant: amount,
      response_text: invoice.responseText,
      status: invoice.status,
      custom_data: Object.entries(invoice.customData).map(([k, v]) => ({
        id_invoice: 29505444,
        keyof_customdata: k,
        valueof_customdata: v,
      })),
      operator_name: invoice.operatorName,
      operator_id: invoice.operatorId,
      customer: invoice.customer,
      transaction_id: invoice.customData.transaction_id ?? null,
      external_id: null,
    };
  }

  private async notify(invoice: Invoice, copies: number): Promise<void> {
    const body = this.statusBody(invoice);
    await this.notifier.notify(
      invoice.callbackUrl,
      {
        ...body,
        method: 'post',
        // Payin callbacks carry an empty token: the merchant finds the payment by transaction_id.
        token: '',
        url: invoice.callbackUrl,
        hash: createHash('sha1').update(`${invoice.token}:${body.montant}:${body.status}`).digest('hex'),
      },
      invoice.callbacks,
      copies,
    );
  }
}
