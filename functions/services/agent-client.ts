// Stacker → agent: signed POSTs to the agent's local API (agent-protocol.md §1.11, §2.8).
// Every request carries X-Agent-Id, X-Timestamp (unix seconds), a fresh X-Request-Id (UUID v4) and
// X-Agent-Signature = standard base64 of HMAC-SHA256(key = agent token, msg = the exact body bytes);
// no Authorization header (the agent does not read one, §3 row 19). Bodies are the shapes the HEAD
// agent's local API parses (§3 row 18: the reference's push body was refused with "missing field id").
import { z } from 'zod';
import { agentSignature } from './agent-signature.ts';
import type { AgentTokenVault } from './vault.ts';

export const DEFAULT_AGENT_TIMEOUT_MS = 5_000;

export interface AgentClientOptions {
  /** AGENT_BASE_URL; a trailing "/" is dropped. */
  baseUrl: string;
  /** agents.id: the agent's AGENT_ID. */
  agentId: string;
  /** The key the agent verifies with (its current token). Never logged, never in an error. */
  token: string;
  timeoutMs?: number;
}

/** A refused or failed call to the agent. `status` is the HTTP status, undefined when none came back. */
export class AgentRequestError extends Error {
  readonly status: number | undefined;
  constructor(message: string, status: number | undefined) {
    super(message);
    this.name = 'AgentRequestError';
    this.status = status;
  }
}

export interface AgentResponse<T> {
  status: number;
  body: T;
}

const agentErrorBody = z.object({ error: z.string() });

export class AgentClient {
  readonly baseUrl: string;
  readonly agentId: string;
  readonly #token: string;
  readonly #timeoutMs: number;

  constructor(options: AgentClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.agentId = options.agentId;
    this.#token = options.token;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_AGENT_TIMEOUT_MS;
  }

  /** POSTs `payload` as JSON, signed; a non-2xx answer, a body that is not `schema`, or no answer is an AgentRequestError. */
  async post<T>(path: string, payload: unknown, schema: z.ZodType<T>): Promise<AgentResponse<T>> {
    const bytes = new TextEncoder().encode(JSON.stringify(payload));
    const where = `POST ${path}`;
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'X-Agent-Id': this.agentId,
          'X-Timestamp': String(Math.floor(Date.now() / 1000)),
          'X-Request-Id': crypto.randomUUID(),
          'X-Agent-Signature': await agentSignature(this.#token, bytes),
        },
        body: bytes,
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
      throw new AgentRequestError(
        timedOut ? `Agent did not answer ${where} within ${this.#timeoutMs} ms` : `Agent is unreachable for ${where}`,
        undefined,
      );
    }
    const text = await response.text().catch(() => '');
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (!response.ok) {
      const detail = agentErrorBody.safeParse(json);
      const reason = detail.success ? `: ${detail.data.error.slice(0, 200)}` : '';
      throw new AgentRequestError(`Agent answered ${response.status} to ${where}${reason}`, response.status);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw new AgentRequestError(`Agent answered ${where} with an unexpected body`, response.status);
    return { status: response.status, body: parsed.data };
  }
}

/**
 * The client for a deployment's agent when AGENT_BASE_URL is set (undefined when it is not), keyed
 * with the agent's token as Vault holds it (the database has only its hash). Throws
 * VaultUnavailableError, or AgentRequestError when Vault has no token for the deployment.
 */
export async function agentClientFor(
  deps: { agentBaseUrl: string | undefined; vault: AgentTokenVault; timeoutMs?: number },
  agent: { id: string; deploymentHash: string },
): Promise<AgentClient | undefined> {
  if (!deps.agentBaseUrl) return undefined;
  const token = await deps.vault.read(agent.deploymentHash);
  if (token === undefined) throw new AgentRequestError(`No agent token in Vault for deployment_hash ${agent.deploymentHash}`, undefined);
  return new AgentClient({ baseUrl: deps.agentBaseUrl, agentId: agent.id, token, timeoutMs: deps.timeoutMs });
}

// ---- the agent's local API -------------------------------------------------------------------

/** A command as Stacker keeps it (the fields the agent needs). */
export const StackerCommand = z.object({
  command_id: z.string().min(1).max(64),
  type: z.string().min(1).max(100),
  parameters: z.record(z.string(), z.unknown()).nullish(),
  deployment_hash: z.string().min(1).max(64),
});
export type StackerCommand = z.input<typeof StackerCommand>;

/** The HEAD agent's Command (§2.8): `{id, command_id, name, params, deployment_hash?, app_code?}`. */
export interface AgentCommand {
  id: string;
  command_id: string;
  name: string;
  params: Record<string, unknown>;
  deployment_hash?: string;
  app_code?: string;
}

/** id = command_id, name = type, params = parameters (absent/null → {}), app_code = parameters.app_code. */
export function toAgentCommand(input: StackerCommand): AgentCommand {
  const command = StackerCommand.parse(input);
  const params = command.parameters ?? {};
  const agentCommand: AgentCommand = {
    id: command.command_id,
    command_id: command.command_id,
    name: command.type,
    params,
    deployment_hash: command.deployment_hash,
  };
  if (typeof params.app_code === 'string') agentCommand.app_code = params.app_code;
  return agentCommand;
}

/** The agent's CommandResult (HEAD requires completed_at). */
export const AgentCommandResult = z.object({
  command_id: z.string(),
  status: z.string(),
  result: z.unknown().optional(),
  error: z.string().nullish(),
  completed_at: z.string(),
});
export type AgentCommandResult = z.infer<typeof AgentCommandResult>;

export interface CommandResultInput {
  command_id: string;
  status: string;
  result?: unknown;
  error?: string | null;
  /** Defaults to now; sent as RFC 3339 UTC in whole seconds, as the agent writes it. */
  completed_at?: Date | string;
}

const ResultInput = z.object({
  command_id: z.string().min(1).max(64),
  status: z.string().min(1).max(50),
  result: z.unknown().optional(),
  error: z.string().nullish(),
  completed_at: z.union([z.date(), z.iso.datetime({ offset: true })]).optional(),
});

function rfc3339Seconds(value: Date): string {
  return value.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export const AGENT_PATHS = {
  enqueue: '/api/v1/commands/enqueue',
  execute: '/api/v1/commands/execute',
  report: '/api/v1/commands/report',
  rotateToken: '/api/v1/auth/rotate-token',
} as const;

/** Queues a command on the agent: 202 {"queued":true}. */
export async function enqueue(client: AgentClient, command: StackerCommand): Promise<{ queued: boolean }> {
  const { body } = await client.post(AGENT_PATHS.enqueue, toAgentCommand(command), z.object({ queued: z.boolean() }));
  return body;
}

/** Runs a command on the agent and returns its CommandResult. */
export async function execute(client: AgentClient, command: StackerCommand): Promise<AgentCommandResult> {
  const { body } = await client.post(AGENT_PATHS.execute, toAgentCommand(command), AgentCommandResult);
  return body;
}

/** Hands the agent a command result: 200 {"accepted":true}. */
export async function report(client: AgentClient, input: CommandResultInput): Promise<{ accepted: boolean }> {
  const parsed = ResultInput.parse(input);
  const completedAt = parsed.completed_at === undefined ? new Date() : new Date(parsed.completed_at);
  const payload: Record<string, unknown> = {
    command_id: parsed.command_id,
    status: parsed.status,
    error: parsed.error ?? null,
    completed_at: rfc3339Seconds(completedAt),
  };
  if (parsed.result !== undefined) payload.result = parsed.result;
  const { body } = await client.post(AGENT_PATHS.report, payload, z.object({ accepted: z.boolean() }));
  return body;
}

/** Tells the agent its new token; the request is signed with the token it has now (the client's). */
export async function rotateToken(client: AgentClient, newToken: string): Promise<{ rotated: boolean }> {
  const token = z.string().min(1).parse(newToken);
  const { body } = await client.post(AGENT_PATHS.rotateToken, { new_token: token }, z.object({ rotated: z.boolean() }));
  return body;
}
