// Reading the agent's `health` report (app_code "all"): every container on the server, named as
// Docker names it. A compose service's container is `<project>-<service>-<n>` (Compose v2),
// `<project>_<service>_<n>` (v1) or its container_name; the project is the compose folder's name,
// which the install command makes the deployment hash.
import { z } from 'zod';

const containerSchema = z.object({
  app_code: z.string().optional(),
  container_name: z.string().optional(),
  container_state: z.string().optional(),
  status: z.string().optional(),
});

const allHealthSchema = z.object({
  type: z.literal('all_health'),
  containers: z.array(containerSchema).max(10_000),
});

export interface ServiceHealth {
  service: string;
  state: string;
  ok: boolean;
}

/** The compose project name Docker derives from a folder name. */
export function composeProjectName(folder: string): string {
  return folder.toLowerCase().replace(/[^a-z0-9_-]/g, '');
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Each service's state in an all_health result; undefined when the result is not one. */
export function servicesHealth(result: unknown, services: string[], project: string): ServiceHealth[] | undefined {
  const parsed = allHealthSchema.safeParse(result);
  if (!parsed.success) return undefined;
  return services.map((service) => {
    const pattern = new RegExp(`^(${escape(project)}[-_])?${escape(service)}([-_]\\d+)?$`);
    const containers = parsed.data.containers.filter((container) => pattern.test(container.container_name ?? container.app_code ?? ''));
    if (containers.length === 0) return { service, state: 'missing', ok: false };
    const bad = containers.find((container) => container.status !== 'ok');
    return bad ? { service, state: bad.container_state ?? bad.status ?? 'unknown', ok: false } : { service, state: 'running', ok: true };
  });
}

/** "web (exited), db (missing)" */
export const describeUnhealthy = (health: ServiceHealth[]) =>
  health
    .filter((entry) => !entry.ok)
    .map((entry) => `${entry.service} (${entry.state})`)
    .join(', ');
