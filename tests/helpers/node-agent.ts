// A deployment's agent for Node-side tests (browser journeys against `npm start`): it registers as the
// provisioning does (POST /api/v1/agent/register, no credentials), then runs the real agent's daemon
// loop (trydirect/status v0.2.1, agent-protocol §2.3–§2.6): a signed long-poll, the command executed
// by the test's handler, a signed report, and the app's status after a health command. The workerd
// twin is tests/helpers/agent-simulator.ts; the token stays in this object and is never printed.
import { createHmac, randomUUID } from 'node:crypto';

export interface AgentCommand {
  command_id: string;
  type: string;
  parameters: Record<string, unknown> | null;
  deployment_hash: string;
}

export interface AgentOutcome {
  status: 'success' | 'failed';
  result?: unknown;
  error?: string | null;
}

export class NodeAgent {
  readonly baseUrl: string;
  readonly agentId: string;
  readonly deploymentHash: string;
  readonly #token: string;
  #controller = new AbortController();

  private constructor(options: { baseUrl: string; agentId: string; token: string; deploymentHash: string }) {
    this.baseUrl = options.baseUrl;
    this.agentId = options.agentId;
    this.#token = options.token;
    this.deploymentHash = options.deploymentHash;
  }

  /** Registers the deployment's agent, as provisioning does before the agent starts (README tour, step 5). */
  static async register(baseUrl: string, deploymentHash: string, options: { version?: string; capabilities?: string[] } = {}): Promise<NodeAgent> {
    const response = await fetch(`${baseUrl}/api/v1/agent/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        deployment_hash: deploymentHash,
        agent_version: options.version ?? '0.2.1',
        capabilities: options.capabilities ?? ['docker', 'compose', 'logs'],
        system_info: { os: 'linux' },
      }),
    });
    if (response.status !== 201) throw new Error(`agent registration answered ${response.status}`);
    const body = (await response.json()) as { data: { item: { agent_id: string; agent_token: string } } };
    // The provisioning reads data.item (agent-protocol §2.2).
    return new NodeAgent({ baseUrl, agentId: body.data.item.agent_id, token: body.data.item.agent_token, deploymentHash });
  }

  /** The headers of every agent request: base64 HMAC-SHA256 of the body keyed with the token (empty body for GET). */
  #headers(body: string): Record<string, string> {
    return {
      'x-agent-id': this.agentId,
      'x-timestamp': String(Math.floor(Date.now() / 1000)),
      'x-request-id': randomUUID(),
      'x-agent-signature': createHmac('sha256', this.#token).update(body).digest('base64'),
      authorization: `Bearer ${this.#token}`,
      accept: '*/*',
    };
  }

  /** GET .../commands/wait/{hash}?timeout=T: the next command, or null when none came. */
  async wait(timeoutSeconds: number): Promise<AgentCommand | null> {
    const response = await fetch(`${this.baseUrl}/api/v1/agent/commands/wait/${this.deploymentHash}?timeout=${timeoutSeconds}`, {
      headers: this.#headers(''),
      signal: this.#controller.signal,
    });
    if (response.status !== 200) throw new Error(`wait answered ${response.status}: ${await response.text()}`);
    const body = (await response.json()) as { item: AgentCommand | null };
    return body.item && typeof body.item === 'object' && body.item.command_id ? body.item : null;
  }

  async #post(path: string, payload: Record<string, unknown>): Promise<void> {
    const text = JSON.stringify(payload);
    const response = await fetch(`${this.baseUrl}${path}`, {
      method: 'POST',
      headers: { ...this.#headers(text), 'content-type': 'application/json' },
      body: text,
      signal: this.#controller.signal,
    });
    if (response.status !== 200) throw new Error(`POST ${path} answered ${response.status}: ${await response.text()}`);
  }

  /** The report as the agent sends it: keys in alphabetical order, whole-second completed_at. */
  report(command: AgentCommand, outcome: AgentOutcome): Promise<void> {
    const body: Record<string, unknown> = {
      command_id: command.command_id,
      completed_at: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      deployment_hash: this.deploymentHash,
      error: outcome.error ?? null,
    };
    if (outcome.result !== undefined) body.result = outcome.result;
    body.status = outcome.status;
    return this.#post('/api/v1/agent/commands/report', body);
  }

  appStatus(appCode: string, status: 'running' | 'stopped' | 'error', logs: string[] = []): Promise<void> {
    return this.#post('/api/v1/apps/status', { deployment_hash: this.deploymentHash, app_code: appCode, status, logs, timestamp: new Date().toISOString() });
  }

  /**
   * The daemon loop: poll, execute with `handler`, report, post the app's status after health, logs
   * and restart (as the agent does), poll again. `stop` ends it (the open poll is aborted) and
   * rejects with the first error the loop met, so a failed poll or report fails the test.
   */
  run(handler: (command: AgentCommand) => Promise<AgentOutcome>, timeoutSeconds = 10): { stop: () => Promise<void> } {
    let stopped = false;
    const loop = (async () => {
      while (!stopped) {
        let command: AgentCommand | null;
        try {
          command = await this.wait(timeoutSeconds);
        } catch (error) {
          if (stopped) return;
          throw error;
        }
        if (!command) continue;
        const outcome = await handler(command);
        await this.report(command, outcome);
        const appCode = command.parameters?.app_code;
        if (typeof appCode === 'string' && ['health', 'logs', 'restart'].includes(command.type)) {
          await this.appStatus(appCode, outcome.status === 'success' ? 'running' : 'error');
        }
      }
    })();
    // Kept from being an unhandled rejection until stop() hands it over.
    loop.catch(() => undefined);
    return {
      stop: async () => {
        stopped = true;
        this.#controller.abort();
        await loop;
        this.#controller = new AbortController();
      },
    };
  }
}
