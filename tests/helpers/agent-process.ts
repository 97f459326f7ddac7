// A stand-alone simulated agent (a Node process), speaking as the real agent (trydirect/status v0.2.1)
// does — see agent-simulator.ts for the exact headers and signature: it registers for a deployment,
// long-polls for commands and reports each one as done, with a result naming what it did.
//   node tests/helpers/agent-process.ts <stacker url> <deployment hash>
// Prints `registered <agent id>` once registered, then `took <command id> <type>` for each command.
import { createHmac } from 'node:crypto';

const [base, hash] = process.argv.slice(2) as [string, string];
let stopping = false;
process.on('SIGTERM', () => {
  stopping = true;
  process.exit(0);
});

const registered = await fetch(`${base}/api/v1/agent/register`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ deployment_hash: hash, agent_version: '0.2.1', capabilities: ['docker', 'logs'], system_info: { os: 'linux' } }),
});
const { item } = (await registered.json()) as { item?: { agent_id: string; agent_token: string } };
if (!registered.ok || !item) {
  console.error(`registration refused: ${registered.status}`);
  process.exit(1);
}
const headers = (body: string): Record<string, string> => ({
  'x-agent-id': item.agent_id,
  'x-timestamp': String(Math.floor(Date.now() / 1000)),
  'x-request-id': crypto.randomUUID(),
  'x-agent-signature': createHmac('sha256', item.agent_token).update(body).digest('base64'),
  authorization: `Bearer ${item.agent_token}`,
  accept: '*/*',
});
console.log(`registered ${item.agent_id}`);

while (!stopping) {
  const waited = await fetch(`${base}/api/v1/agent/commands/wait/${hash}?timeout=${process.env.AGENT_WAIT ?? 20}`, { headers: headers('') }).catch(() => undefined);
  if (!waited) continue;
  const answer = (await waited.json().catch(() => ({}))) as { item?: { command_id: string; type: string; parameters: Record<string, unknown> | null } | null };
  const command = answer.item;
  if (!command) continue;
  console.log(`took ${command.command_id} ${command.type}`);
  const app = command.parameters?.app_code;
  const result =
    command.type === 'restart' ? { restarted: app, status: 'running' } : command.type === 'health' ? { app_code: app, status: 'ok' } : { type: command.type, parameters: command.parameters };
  const body = JSON.stringify({
    command_id: command.command_id,
    completed_at: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    deployment_hash: hash,
    error: null,
    result,
    status: 'success',
  });
  await fetch(`${base}/api/v1/agent/commands/report`, { method: 'POST', headers: { ...headers(body), 'content-type': 'application/json' }, body });
}
