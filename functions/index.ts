import { createApp } from './app.ts';
import { runScheduledJobs } from './cron.ts';
import type { Bindings } from './http/env.ts';

export { DeploymentDoorbell } from './durable/deployment-doorbell.ts';
export { RateLimiter } from './durable/rate-limiter.ts';

const app = createApp();

export default {
  fetch: app.fetch,
  async scheduled(_controller: ScheduledController, env: Bindings, ctx: ExecutionContext): Promise<void> {
    ctx.waitUntil(runScheduledJobs(env).then(() => undefined));
  },
} satisfies ExportedHandler<Bindings>;
