import {
  OPERATORS,
  isOperatorName,
  type OperatorName,
  type OperatorSettingsTable,
  type SettingsOf,
} from '../lib/operators.js';
import type { Logger } from '../lib/logger.js';
import { CardProcessorClient } from './processor/client.js';
import { LigdicashOperator } from './ligdicash/adapter.js';
import { MtnOperator } from './mtn/adapter.js';
import { OrangeOperator } from './orange/adapter.js';
import { PaygateOperator } from './paygate/adapter.js';
import { TmoneyOperator } from './tmoney/adapter.js';
import type { PaymentFailure } from '../lib/payments.js';
import type {
  CallbackInput,
  CallbackParseResult,
  CallbackPayment,
  OperatorAdapter,
  OperatorBalance,
  ParsedCallback,
  PayinDraft,
  CallbackPaymentRefs,
  PayoutDraft,
} from './types.js';

/**
 * How each operator of the table (lib/operators.ts) becomes an adapter, from its own settings. A
 * table entry without its line here does not compile.
 */
const ADAPTERS: { [N in OperatorName]: (settings: SettingsOf<N>) => OperatorAdapter } = {
  orange: (settings) => new OrangeOperator(settings),
  mtn: (settings) => new MtnOperator(settings),
  ligdicash: (settings) => new LigdicashOperator(settings),
  tmoney: (settings) => new TmoneyOperator(settings),
  paygate: (settings) => new PaygateOperator(settings),
};

export type OperatorAdapterSet = Record<OperatorName, OperatorAdapter>;

/** The adapters of each mode: live ones speak to the configured operators, test ones to the sandbox. */
export interface OperatorAdapters {
  live: OperatorAdapterSet;
  test: OperatorAdapterSet;
}

function adapterSet(settings: OperatorSettingsTable): OperatorAdapterSet {
  const adapters = {} as Record<OperatorName, OperatorAdapter>;
  for (const name of OPERATORS) adapters[name] = create(name, settings[name]);
  return adapters;
}

/** One adapter per operator and mode, from its settings (whose defaults point at the sandbox). */
export function createOperators(config: {
  operators: OperatorSettingsTable;
  testOperators: OperatorSettingsTable;
}): OperatorAdapters {
  return { live: adapterSet(config.operators), test: adapterSet(config.testOperators) };
}

function create<N extends OperatorName>(name: N, settings: SettingsOf<N>): OperatorAdapter {
  return ADAPTERS[name](settings);
}

/**
 * What the API may ask of the operator adapters without moving money: early validation of a
 * payin or payout, reading a callback, the operator's balances. Everything that moves money runs
 * as an activity.
 */
export interface OperatorRules {
  isOperator(name: string): name is OperatorName;
  validatePayin(operator: OperatorName, req: PayinDraft): PaymentFailure | undefined;
  validatePayout(operator: OperatorName, req: PayoutDraft): PaymentFailure | undefined;
  /** Reads a callback as the adapter of the given mode does (test: the sandbox's). */
  parseCallback(
    operator: OperatorName,
    input: CallbackInput,
    payment?: CallbackPayment,
    livemode?: boolean,
  ): CallbackParseResult;
  callbackReferenceMatches(
    operator: OperatorName,
    payment: CallbackPaymentRefs & { livemode: boolean },
    cb: ParsedCallback,
  ): boolean;
  /** The operator's own balances, for operators that report them (PayGateGlobal). */
  balances(operator: OperatorName): Promise<OperatorBalance[] | undefined>;
}

export function createOperatorRules(config: {
  operators: OperatorSettingsTable;
  testOperators: OperatorSettingsTable;
}): OperatorRules {
  const operators = createOperators(config);
  const of = (livemode: boolean) => (livemode ? operators.live : operators.test);
  return {
    isOperator: isOperatorName,
    // What an operator accepts (amounts, networks, methods) does not depend on the mode.
    validatePayin: (operator, req) => operators.live[operator].validatePayin(req),
    validatePayout: (operator, req) => operators.live[operator].validatePayout(req),
    parseCallback: (operator, input, payment, livemode = true) =>
      of(livemode)[operator].parseCallback(input, payment),
    callbackReferenceMatches: (operator, payment, cb) =>
      of(payment.livemode)[operator].callbackReferenceMatches(payment, cb),
    // The platform's float at the live operators (operations).
    balances: async (operator) => operators.live[operator].balances?.(),
  };
}

/**
 * The Visa/Mastercard card processor (docs/card-processor.md), not an operator of the table yet:
 * its client from the configuration, and what the API reads of its 3-D Secure messages.
 */
export function createCardProcessor(
  config: { PROCESSOR_BASE_URL: string; PROCESSOR_API_KEY: string; PROCESSOR_TIMEOUT_MS: number },
  logger: Logger,
): CardProcessorClient {
  return new CardProcessorClient({
    baseUrl: config.PROCESSOR_BASE_URL,
    apiKey: config.PROCESSOR_API_KEY,
    timeoutMs: config.PROCESSOR_TIMEOUT_MS,
    logger,
  });
}
export { CardProcessorClient } from './processor/client.js';
export { RRES_RECEIVED, isProcessorCurrency } from './processor/protocol.js';
export { decodeCres, parseRreq, verifyResultsSignature } from './processor/three-ds.js';
