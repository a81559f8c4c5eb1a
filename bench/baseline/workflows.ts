import { proxyActivities } from '@temporalio/workflow';

/** The baseline: the least a workflow can do, one activity that does nothing. */
const { emptyActivity } = proxyActivities<{ emptyActivity(): Promise<void> }>({
  startToCloseTimeout: '30 seconds',
});

export async function bareWorkflow(): Promise<void> {
  await emptyActivity();
}
