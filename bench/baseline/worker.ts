import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker } from '@temporalio/worker';

/** Worker for the baseline workflow, run as its own process like the payments worker. */
const address = process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';
const taskQueue = process.env.BASELINE_TASK_QUEUE ?? 'bench-baseline';
const connection = await NativeConnection.connect({ address });
const worker = await Worker.create({
  connection,
  taskQueue,
  workflowsPath: fileURLToPath(new URL('./workflows.ts', import.meta.url)),
  activities: { emptyActivity: () => Promise.resolve() },
});
process.on('SIGTERM', () => worker.shutdown());
process.stdout.write('baseline worker running\n');
await worker.run();
await connection.close();
