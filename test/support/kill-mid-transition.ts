import { applyTransition } from '../../db/payments.js';
import { createPool } from '../../db/pool.js';

/**
 * Applies a transition to payment argv[2] and is killed (SIGKILL, nothing runs after it):
 * `during` the transaction (after the transition's rows are written, before the commit), or
 * `after` it committed. The outbox test checks what each kill leaves behind.
 */
const [paymentId, when] = process.argv.slice(2);
const pool = createPool(process.env.DATABASE_URL!, 1);
await applyTransition(
  pool,
  { paymentId: paymentId!, step: 'killed', to: 'failed', actor: 'workflow', reason: 'kill test' },
  // Runs inside the transaction, after the payment row and its history are written.
  () => {
    if (when === 'during') process.kill(process.pid, 'SIGKILL');
    return Promise.resolve();
  },
);
process.kill(process.pid, 'SIGKILL');
