import type { z } from 'zod';
import { ligdicash } from './operator-settings/ligdicash.js';
import { mtn } from './operator-settings/mtn.js';
import { orange } from './operator-settings/orange.js';
import { paygate } from './operator-settings/paygate.js';
import type { OperatorDefinition, OperatorSettings } from './operator-settings/settings.js';
import { tmoney } from './operator-settings/tmoney.js';
import type { PayinMode } from './payments.js';

/**
 * The operator table: every operator Passerelle speaks to, one line each, in routing preference
 * order. Every other list of operators (API enums, callbacks, schedules, routing, the adapter
 * registry, the sandbox) is derived from it, and a `Record<OperatorName, …>` that misses one
 * does not compile. docs/development.md, "Adding an operator".
 */
export const OPERATOR_TABLE = {
  // The networks' own operators first: an aggregator (LigdiCash) is the fallback route.
  orange,
  mtn,
  ligdicash,
  tmoney,
  paygate,
} as const satisfies Record<string, OperatorDefinition<z.ZodObject, OperatorSettings>>;

export type OperatorName = keyof typeof OPERATOR_TABLE;

/** The operators' names, in the table's order. */
export const OPERATORS = Object.keys(OPERATOR_TABLE) as [OperatorName, ...OperatorName[]];

/** An operator's own settings type (credentials, endpoints) as its table entry makes them. */
export type SettingsOf<N extends OperatorName> = ReturnType<(typeof OPERATOR_TABLE)[N]['settings']>;

/** Every operator's settings, read from the environment by lib/config.ts. */
export type OperatorSettingsTable = { [N in OperatorName]: SettingsOf<N> };

export function isOperatorName(name: string): name is OperatorName {
  return Object.hasOwn(OPERATOR_TABLE, name);
}

/** The operator a stored payment names; an unknown name is a configuration error, never another operator. */
export function operatorNamed(name: string): OperatorName {
  if (!isOperatorName(name)) {
    throw new Error(`Unknown operator "${name}": it is not in the operator table (lib/operators.ts)`);
  }
  return name;
}

/** What a payment workflow needs to know of its operator's timing. */
export interface OperatorTiming {
  payinDeadlineSeconds: number;
  payoutDeadlineSeconds: number;
  poll: { initialSeconds: number; maxSeconds: number };
}

export function operatorTiming(
  config: { operators: OperatorSettingsTable },
  operator: string,
  mode?: string,
): OperatorTiming {
  const { timing } = config.operators[operatorNamed(operator)] as OperatorSettings;
  const byMode = mode ? timing.payinDeadlineSecondsByMode?.[mode as PayinMode] : undefined;
  return {
    payinDeadlineSeconds: byMode ?? timing.payinDeadlineSeconds,
    payoutDeadlineSeconds: timing.payoutDeadlineSeconds,
    poll: timing.poll,
  };
}

/**
 * The modes whose payments an operator's settlement report (read from its live endpoint) covers:
 * live ones, and test ones too when test mode reaches the very same endpoint with the same
 * credentials (a development or acceptance deployment whose "live" operators are the sandbox).
 */
export function modesAtLiveEndpoint(
  config: { operators: OperatorSettingsTable; testOperators: OperatorSettingsTable },
  operator: string,
): boolean[] {
  const name = operatorNamed(operator);
  const same = JSON.stringify(config.operators[name]) === JSON.stringify(config.testOperators[name]);
  return same ? [true, false] : [true];
}
