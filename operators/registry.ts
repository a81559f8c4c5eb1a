import {
  OPERATORS,
  isOperatorName,
  type OperatorName,
  type OperatorSettingsTable,
  type SettingsOf,
} from '../lib/operators.js';
import { LigdicashOperator } from './ligdicash/adapter.js';
import { PaygateOperator } from './paygate/adapter.js';
import { TmoneyOperator } from './tmoney/adapter.js';
import type { PaymentFailure, PaymentKind } from '../lib/payments.js';
import type {
  CallbackInput,
  CallbackParseResult,
  CallbackPayment,
  OperatorAdapter,
  OperatorBalance,
  ParsedCallback,
  PayinDraft,
  PaymentRefs,
  PayoutDraft,
} from './types.js';

/**
 * How each operator of the table (lib/operators.ts) becomes an adapter, from its own settings. A
 * table entry without its line here does not compile.
 */
const ADAPTERS: { [N in OperatorName]: (settings: SettingsOf<N>) => OperatorAdapter } = {
  ligdicash: (settings) => new LigdicashOperator(settings),
  tmoney: (settings) => new TmoneyOperator(settings),
  paygate: (settings) => new PaygateOperator(settings),
};

export type OperatorAdapters = Record<OperatorName, OperatorAdapter>;

/** One adapter per operator, from its settings (whose defaults point at the sandbox). */
export function createOperators(config: { operators: OperatorSettingsTable }): OperatorAdapters {
  const adapters = {} as Record<OperatorName, OperatorAdapter>;
  for (const name of OPERATORS) adapters[name] = create(name, config.operators[name]);
  return adapters;
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
  parseCallback(operator: OperatorName, input: CallbackInput, payment?: CallbackPayment): CallbackParseResult;
  callbackReferenceMatches(
    operator: OperatorName,
    payment: PaymentRefs & { kind: PaymentKind },
    cb: ParsedCallback,
  ): boolean;
  /** The operator's own balances, for operators that report them (PayGateGlobal). */
  balances(operator: OperatorName): Promise<OperatorBalance[] | undefined>;
}

export function createOperatorRules(config: { operators: OperatorSettingsTable }): OperatorRules {
  const operators = createOperators(config);
  return {
    isOperator: isOperatorName,
    validatePayin: (operator, req) => operators[operator].validatePayin(req),
    validatePayout: (operator, req) => operators[operator].validatePayout(req),
    parseCallback: (operator, input, payment) => operators[operator].parseCallback(input, payment),
    callbackReferenceMatches: (operator, payment, cb) =>
      operators[operator].callbackReferenceMatches(payment, cb),
    balances: async (operator) => operators[operator].balances?.(),
  };
}
