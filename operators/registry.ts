import type { Config } from '../lib/config.js';
import { LigdicashOperator } from './ligdicash/adapter.js';
import { PaygateOperator } from './paygate/adapter.js';
import { TmoneyOperator } from './tmoney/adapter.js';
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
    tmoney: new TmoneyOperator({
      onlineBaseUrl: config.TMONEY_ONLINE_BASE_URL,
      merchantId: config.TMONEY_MERCHANT_ID,
      brand: config.TMONEY_BRAND,
      mbankingBaseUrl: config.TMONEY_MBANKING_BASE_URL,
      username: config.TMONEY_MBANKING_USERNAME,
      password: config.TMONEY_MBANKING_PASSWORD,
      timeoutMs: config.TMONEY_HTTP_TIMEOUT_MS,
    }),
    paygate: new PaygateOperator({
      baseUrl: config.PAYGATE_BASE_URL,
      authToken: config.PAYGATE_AUTH_TOKEN,
      timeoutMs: config.PAYGATE_HTTP_TIMEOUT_MS,
      unsafeHostedPage: config.PAYGATE_UNSAFE_HOSTED_PAGE,
    }),
  };
}
