// Parameters of the commands the real agent executes (agent-protocol §2.4), checked when a command is
// created so that a mistake is a 400 for the user, not a failed command on the server later.
import { z } from 'zod';

const appCode = z.string().min(1, 'is required').max(100);
const container = z.string().min(1).max(255).optional();

const typed: Record<string, z.ZodType> = {
  health: z.object({ app_code: appCode, container, include_metrics: z.boolean().optional(), include_system: z.boolean().optional() }).loose(),
  logs: z
    .object({
      app_code: appCode,
      container,
      cursor: z.string().max(512).optional(),
      limit: z.number().int().min(1, 'must be 1 to 1000').max(1000, 'must be 1 to 1000').optional(),
      streams: z.array(z.enum(['stdout', 'stderr'])).max(2).optional(),
      redact: z.boolean().optional(),
    })
    .loose(),
  restart: z.object({ app_code: appCode, container, force: z.boolean().optional() }).loose(),
  stop: z.object({ app_code: appCode, container, timeout: z.number().int().min(1, 'must be 1 to 300').max(300, 'must be 1 to 300').optional() }).loose(),
  start: z.object({ app_code: appCode, container }).loose(),
  error_summary: z.object({ app_code: appCode.optional(), hours: z.number().int().min(1, 'must be 1 to 168').max(168, 'must be 1 to 168').optional(), redact: z.boolean().optional() }).loose(),
  exec: z.object({ app_code: appCode.optional(), container, command: z.string().min(1, 'is required').max(4096), timeout: z.number().int().min(1).max(3600).optional(), redact_output: z.boolean().optional() }).loose(),
  deploy_app: z.object({ app_code: appCode }).loose(),
  remove_app: z.object({ app_code: appCode, delete_config: z.boolean().optional(), remove_volumes: z.boolean().optional(), remove_image: z.boolean().optional() }).loose(),
};

/** The types the real agent checks the parameters of itself (this service passes them on as they are). */
export const AGENT_CHECKED_TYPES: readonly string[] = [
  'fetch_config',
  'apply_config',
  'fetch_all_configs',
  'deploy_with_configs',
  'config_diff',
  'configure_proxy',
  'server_resources',
  'list_containers',
  'configure_firewall',
  'probe_endpoints',
  'activate_pipe',
  'deactivate_pipe',
  'trigger_pipe',
];

/**
 * The types the real agent executes (agent-protocol §2.4): those whose parameters are checked here
 * first, then those it checks itself. Any other type is run by the agent as a (restricted) shell line.
 */
export const AGENT_COMMAND_TYPES: readonly string[] = [...Object.keys(typed), ...AGENT_CHECKED_TYPES];

/** Whether this service checks the type's parameters (checkCommandParameters). */
export const isTypedCommand = (type: string) => Object.hasOwn(typed, agentCommandName(type));

/** The agent's name for a command type: trimmed, lower-case, without a `stacker.` prefix. */
export function agentCommandName(type: string): string {
  return type.trim().toLowerCase().replace(/^stacker\./, '');
}

/**
 * Checks parameters of a typed command; other types pass as they are (the agent treats them as
 * shell command lines and validates them itself). Parameters nested under `params` are what the
 * agent reads when that key exists.
 */
export function checkCommandParameters(type: string, parameters: Record<string, unknown>): z.core.$ZodIssue[] {
  const schema = typed[agentCommandName(type)];
  if (!schema) return [];
  const inner = parameters.params !== undefined && typeof parameters.params === 'object' && parameters.params !== null ? parameters.params : parameters;
  const result = schema.safeParse(inner);
  return result.success ? [] : result.error.issues;
}
