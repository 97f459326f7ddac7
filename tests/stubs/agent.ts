// Stands in for the Status Panel agent's local API (`status serve`, agent-protocol.md §2.8, HEAD
// agent v0.2.1), with the agent's "full" verification applied exactly as documented there, in order:
//   1. X-Agent-Id must equal the agent's AGENT_ID          → 401 {"error":"Invalid or missing X-Agent-Id"}
//   2. rate limit per X-Agent-Id, sliding 60 s window      → 429 {"error":"rate limited"}
//   3. X-Timestamp (integer seconds, |now − ts| ≤ 300) and X-Agent-Signature (standard base64, else hex)
//      of HMAC-SHA256(key = the agent's current token, msg = raw body), constant-time
//                                                          → 401 {"error":"invalid signature: <reason>"}
//   4. X-Request-Id required (400 "missing X-Request-Id"), remembered 600 s → 409 {"error":"replay detected"}
//   5. scopes (AGENT_SCOPES; empty allows all)              → 403 {"error":"insufficient scope"}
//   6. body parse (HEAD shapes)                             → 400 {"error":"<serde-like message>"}
// Authorization is not checked, as on the real agent. It is independent of the code under test: its
// HMAC is node:crypto's.
//
// One server holds many agents, so that parallel tests do not share state:
//   POST /__agents {"agent_id","token","rate_limit_per_min"?,"scopes"?} → 201 {"id","base_url"}
//   GET  /__agents/<id>  → {"agent_id","token" (the current key),"accepted":[…],"refused":[…]}
//   <base_url>/api/v1/commands/enqueue|execute|report, <base_url>/api/v1/auth/rotate-token, <base_url>/health
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { sendJson, startStubServer, type StubServer } from './http.ts';

export const SIGNATURE_MAX_SKEW_SECS = 300;
export const REPLAY_TTL_SECS = 600;
export const DEFAULT_RATE_LIMIT_PER_MIN = 120;

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  json: unknown;
}

interface StubAgent {
  agentId: string;
  token: string;
  rateLimitPerMin: number;
  scopes: string[];
  hits: number[];
  seenRequestIds: Map<string, number>;
  accepted: RecordedRequest[];
  refused: Array<{ path: string; status: number; error: string }>;
}

export interface AgentStub extends StubServer {
  /** Adds an agent (Node-side tests); returns its base URL, i.e. what AGENT_BASE_URL would be. */
  addAgent(options: { agentId: string; token: string; rateLimitPerMin?: number; scopes?: string[] }): string;
}

class Refusal {
  readonly status: number;
  readonly error: string;
  constructor(status: number, error: string) {
    this.status = status;
    this.error = error;
  }
}

const ENDPOINTS: Record<string, { scope: string; body: 'command' | 'result' | 'rotate'; respond: (agent: StubAgent, body: Record<string, unknown>) => [number, unknown] }> = {
  '/api/v1/commands/enqueue': { scope: 'commands:enqueue', body: 'command', respond: () => [202, { queued: true }] },
  '/api/v1/commands/execute': {
    scope: 'commands:execute',
    body: 'command',
    respond: (_agent, command) => [
      200,
      {
        command_id: command.command_id,
        status: 'success',
        result: { stdout: '', stderr: '', exit_code: 0 },
        error: null,
        completed_at: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      },
    ],
  },
  '/api/v1/commands/report': { scope: 'commands:report', body: 'result', respond: () => [200, { accepted: true }] },
  '/api/v1/auth/rotate-token': {
    scope: 'auth:rotate',
    body: 'rotate',
    respond: (agent, body) => {
      agent.token = body.new_token as string;
      return [200, { rotated: true }];
    },
  },
};

export async function startAgentStub(): Promise<AgentStub> {
  const agents = new Map<string, StubAgent>();
  let baseUrl = '';
  const addAgent: AgentStub['addAgent'] = (options) => {
    const id = randomUUID();
    agents.set(id, {
      agentId: options.agentId,
      token: options.token,
      rateLimitPerMin: options.rateLimitPerMin ?? DEFAULT_RATE_LIMIT_PER_MIN,
      scopes: options.scopes ?? [],
      hits: [],
      seenRequestIds: new Map(),
      accepted: [],
      refused: [],
    });
    return `${baseUrl}/agents/${id}`;
  };

  const server = await startStubServer((req, res, body) => {
    // No keep-alive: a pooled connection the server has just timed out would surface in workerd as
    // "Network connection lost" on the next request.
    res.setHeader('connection', 'close');
    const url = new URL(req.url ?? '/', 'http://stub');
    if (url.pathname === '/__agents' && req.method === 'POST') {
      const input = JSON.parse(body || '{}') as { agent_id?: unknown; token?: unknown; rate_limit_per_min?: unknown; scopes?: unknown };
      if (typeof input.agent_id !== 'string' || typeof input.token !== 'string') return sendJson(res, 400, { error: 'agent_id and token are required' });
      const base = addAgent({
        agentId: input.agent_id,
        token: input.token,
        rateLimitPerMin: typeof input.rate_limit_per_min === 'number' ? input.rate_limit_per_min : undefined,
        scopes: Array.isArray(input.scopes) ? input.scopes.map(String) : undefined,
      });
      return sendJson(res, 201, { id: base.slice(base.lastIndexOf('/') + 1), base_url: base });
    }
    const control = /^\/__agents\/([^/]+)$/.exec(url.pathname);
    if (control && req.method === 'GET') {
      const agent = agents.get(control[1]!);
      if (!agent) return sendJson(res, 404, { error: 'no such stub agent' });
      return sendJson(res, 200, { agent_id: agent.agentId, token: agent.token, accepted: agent.accepted, refused: agent.refused });
    }

    const routed = /^\/agents\/([^/]+)(\/.*)$/.exec(url.pathname);
    const agent = routed ? agents.get(routed[1]!) : undefined;
    if (!routed || !agent) return sendJson(res, 404, { error: 'not found' });
    const path = routed[2]!;
    if (path === '/health' && req.method === 'GET') return sendJson(res, 200, { status: 'ok' });
    const endpoint = ENDPOINTS[path];
    if (!endpoint || req.method !== 'POST') return sendJson(res, 404, { error: 'not found' });

    try {
      verify(agent, req.headers, body, endpoint.scope);
      const parsed = parseBody(body, endpoint.body);
      const docker = endpoint.body === 'command' && /^docker:([a-z_]+)/.exec(String(parsed.name));
      if (docker && agent.scopes.length && !agent.scopes.includes(`docker:${docker[1]}`)) throw new Refusal(403, 'insufficient scope');
      const [status, answer] = endpoint.respond(agent, parsed);
      agent.accepted.push({ method: req.method, path, headers: flatten(req.headers), body, json: parsed });
      return sendJson(res, status, answer);
    } catch (error) {
      if (!(error instanceof Refusal)) throw error;
      agent.refused.push({ path, status: error.status, error: error.error });
      return sendJson(res, error.status, { error: error.error });
    }
  });
  baseUrl = server.url;
  return { ...server, addAgent };
}

function verify(agent: StubAgent, headers: IncomingHttpHeaders, body: string, scope: string): void {
  const agentId = header(headers, 'x-agent-id');
  // 1. identity
  if (agentId !== agent.agentId) throw new Refusal(401, 'Invalid or missing X-Agent-Id');
  // 2. rate limit, counted before the signature is checked
  const now = Date.now();
  agent.hits = agent.hits.filter((at) => now - at < 60_000);
  if (agent.hits.length >= agent.rateLimitPerMin) throw new Refusal(429, 'rate limited');
  agent.hits.push(now);
  // 3. signature
  const timestamp = header(headers, 'x-timestamp');
  if (timestamp === undefined) throw new Refusal(401, 'invalid signature: missing X-Timestamp');
  if (!/^-?\d{1,19}$/.test(timestamp.trim())) throw new Refusal(401, 'invalid signature: invalid X-Timestamp');
  if (Math.abs(Math.floor(now / 1000) - Number(timestamp.trim())) > SIGNATURE_MAX_SKEW_SECS) {
    throw new Refusal(401, 'invalid signature: stale request (timestamp skew)');
  }
  const signature = header(headers, 'x-agent-signature');
  if (signature === undefined) throw new Refusal(401, 'invalid signature: missing X-Agent-Signature');
  const presented = decodeSignature(signature);
  if (!presented) throw new Refusal(401, 'invalid signature: invalid signature encoding');
  const expected = createHmac('sha256', Buffer.from(agent.token, 'utf8')).update(Buffer.from(body, 'utf8')).digest();
  if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
    throw new Refusal(401, 'invalid signature: signature mismatch');
  }
  // 4. replay
  const requestId = header(headers, 'x-request-id');
  if (requestId === undefined) throw new Refusal(400, 'missing X-Request-Id');
  for (const [id, seenAt] of agent.seenRequestIds) if (now - seenAt > REPLAY_TTL_SECS * 1000) agent.seenRequestIds.delete(id);
  if (agent.seenRequestIds.has(requestId)) throw new Refusal(409, 'replay detected');
  agent.seenRequestIds.set(requestId, now);
  // 5. scope
  if (agent.scopes.length && !agent.scopes.includes(scope)) throw new Refusal(403, 'insufficient scope');
}

/** Standard base64 (padded) first, as the agent does, then hex. */
function decodeSignature(value: string): Buffer | undefined {
  if (/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(value) && value.length > 0) return Buffer.from(value, 'base64');
  if (/^(?:[0-9a-fA-F]{2})+$/.test(value)) return Buffer.from(value, 'hex');
  return undefined;
}

/** The agent's serde structs (HEAD): Command, CommandResult, and the rotate-token request. */
function parseBody(body: string, shape: 'command' | 'result' | 'rotate'): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (error) {
    throw new Refusal(400, `${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Refusal(400, `invalid type: ${describe(value)}, expected struct ${shape === 'command' ? 'AgentCommand' : shape === 'result' ? 'CommandResult' : 'RotateTokenRequest'}`);
  }
  const object = value as Record<string, unknown>;
  const required = (name: string, type: 'string' | 'any') => {
    if (!(name in object)) throw new Refusal(400, `missing field \`${name}\``);
    if (type === 'string' && typeof object[name] !== 'string') throw new Refusal(400, `invalid type: ${describe(object[name])}, expected a string`);
  };
  const optionalString = (name: string) => {
    if (object[name] !== undefined && object[name] !== null && typeof object[name] !== 'string') {
      throw new Refusal(400, `invalid type: ${describe(object[name])}, expected a string`);
    }
  };
  if (shape === 'command') {
    required('id', 'string');
    required('command_id', 'string');
    required('name', 'string');
    required('params', 'any');
    optionalString('deployment_hash');
    optionalString('app_code');
  } else if (shape === 'result') {
    required('command_id', 'string');
    required('status', 'string');
    optionalString('error');
    required('completed_at', 'string');
    if (Number.isNaN(Date.parse(object.completed_at as string))) throw new Refusal(400, 'completed_at: input contains invalid characters');
  } else {
    required('new_token', 'string');
  }
  return object;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'sequence';
  if (typeof value === 'object') return 'map';
  if (typeof value === 'number') return `integer \`${value}\``;
  if (typeof value === 'boolean') return `boolean \`${value}\``;
  return `string ${JSON.stringify(value)}`;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function flatten(headers: IncomingHttpHeaders): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(', ') : String(value)]));
}
