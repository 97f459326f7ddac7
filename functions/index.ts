import { createApp } from './app.ts';
import type { Bindings } from './env.ts';

export { DeploymentDoorbell } from './durable/deployment-doorbell.ts';

const app = createApp();

export default {
  fetch: app.fetch,
  async scheduled(_controller: ScheduledController, _env: Bindings, _ctx: ExecutionContext): Promise<void> {
    // Periodic jobs (outbox republish, deployment watchdog) are registered here as they are built.
  },
} satisfies ExportedHandler<Bindings>;
