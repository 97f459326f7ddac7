// Sends exactly what the real agent (trydirect/status v0.2.1, agent-protocol §2.3–§2.6) sends.
import { hmacSha256Hex } from '../../functions/services/crypto.ts';
import { toBase64 } from '../../functions/services/crypto.ts';
import { api } from './api.ts';

async function signature(token: string, body: string): Promise<string> {
  const hex = await hmacSha256Hex(token, new TextEncoder().encode(body));
  return toBase64(Uint8Array.from(hex.match(/../g)!.map((byte) => parseInt(byte, 16))));
}

export class AgentSimulator {
  readonly agentId: string;
  token: string;
  readonly deploymentHash: string;

  constructor(options: { agentId: string; token: string; deploymentHash: string }) {
    this.agentId = options.agentId;
    this.token = options.token;
    this.deploymentHash = options.deploymentHash;
  }

  async headers(body: string): Promise<Record<string, string>> {
    return {
      'x-agent-id': this.agentId,
      'x-timestamp': String(Math.floor(Date.now() / 1000)),
      'x-request-id': crypto.randomUUID(),
      'x-agent-signature': await signature(this.token, body),
      authorization: `Bearer ${this.token}`,
      accept: '*/*',
    };
  }

  /** GET .../wait/{hash}?timeout=T, as the daemon loop does (POLLING_TIMEOUT_SECS, default 30). */
  async wait(timeout = 30, hash = this.deploymentHash): Promise<{ status: number; body: WaitAnswer }> {
    const response = await api(`/api/v1/agent/commands/wait/${hash}?timeout=${timeout}`, { headers: await this.headers('') });
    return { status: response.status, body: (await response.json()) as WaitAnswer };
  }

  /** The report body: keys in alphabetical order, whole-second completed_at, status "success" or "failed". */
  async report(commandId: string, outcome: { status?: 'success' | 'failed'; result?: unknown; error?: string | null; errors?: unknown[]; completedAt?: string } = {}) {
    const body: Record<string, unknown> = {
      command_id: commandId,
      completed_at: outcome.completedAt ?? new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      deployment_hash: this.deploymentHash,
      error: outcome.error ?? null,
    };
    if (outcome.errors) body.errors = outcome.errors;
    if (outcome.result !== undefined) body.result = outcome.result;
    body.status = outcome.status ?? 'success';
    const text = JSON.stringify(body);
    const response = await api('/api/v1/agent/commands/report', { method: 'POST', headers: { ...(await this.headers(text)), 'content-type': 'application/json' }, body: text });
    return { status: response.status, body: (await response.json()) as { message: string; item?: { accepted: boolean; duplicate: boolean } }, sent: text };
  }

  async resend(text: string) {
    return api('/api/v1/agent/commands/report', { method: 'POST', headers: { ...(await this.headers(text)), 'content-type': 'application/json' }, body: text });
  }

  async appStatus(appCode: string, status: 'running' | 'stopped' | 'error', logs: string[] = []) {
    const text = JSON.stringify({ deployment_hash: this.deploymentHash, app_code: appCode, status, logs, timestamp: new Date().toISOString() });
    return api('/api/v1/apps/status', { method: 'POST', headers: { ...(await this.headers(text)), 'content-type': 'application/json' }, body: text });
  }
}

export interface WaitAnswer {
  message: string;
  item: null | { command_id: string; type: string; parameters: Record<string, unknown> | null; deployment_hash: string; status: string; attempts: number; priority: string };
  meta?: { next_poll_secs: number };
}
