import type { Config } from '../lib/config.js';
import { LigdicashOperator } from './ligdicash/adapter.js';
import type { OperatorAdapter, OperatorName } from './types.js';

/** One adapter per operator, configured from the environment (defaults point at the sandbox). */
export function createOperators(config: Config): Record<OperatorName, OperatorAdapter> {
  return {
    ligdicash: new LigdicashOperator({
      baseUrl: config.LIGDICASH_BASE_URL,
      apiKey: config.LIGDICASH_API_KEY,
      apiToken: config.LIGDICASH_API_TOKEN,
      timeoutMs: config.LIGDICASH_HTTP_TIMEOUT_MS,
      storeName: config.STORE_NAME,
      storeUrl: config.STORE_WEBSITE_URL,
    }),
  };
}
