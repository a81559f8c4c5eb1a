// Every workflow the worker registers; the bundle is built from this file.
export { payin } from './payin.js';
export { cardPayin } from './card-payin.js';
export { cardProcessorPayin } from './card-processor-payin.js';
export { cardRefund } from './card-refund.js';
export { cardRecovery, cardSweep } from './card-recovery.js';
export { hostedPayin } from './hosted-payin.js';
export { payout } from './payout.js';
export { refund } from './refund.js';
export { transfer } from './transfer.js';
export { settlementReconciliation, sweep } from './reconciliation.js';
export { deliverWebhooks } from './webhooks.js';
