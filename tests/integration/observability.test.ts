import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { apiWith } from '../helpers/api.ts';
import { agentHeaders, api, bearerFor, createAgent, jsonRequest, uniqueId } from '../helpers/auth.ts';
import { withDatabase } from '../helpers/db.ts';

afterEach(() => vi.restoreAllMocks());

describe('request logs', () => {
  it('one JSON line per request: request id, route, status, duration, subject; no query string or credentials', async () => {
    const lines: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((line: unknown) => void lines.push(String(line)));
    const token = `user-group_user-${uniqueId('log')}`;
    const response = await apiWith({ LOG_LEVEL: 'info' }, '/client/2147483000?secret=shh', { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'x-request-id': 'req-log-1' } });
    expect(response.status).toBe(404);
    expect(response.headers.get('x-request-id')).toBe('req-log-1');
    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((entry) => entry.msg === 'request');
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ level: 'info', requestId: 'req-log-1', method: 'PUT', route: '/client/:id', path: '/client/2147483000', status: 404, subject: 'user' });
    expect(typeof entries[0]!.durationMs).toBe('number');
    expect(lines.join('\n')).not.toContain('shh');
    expect(lines.join('\n')).not.toContain(token);
  });

  it('an agent’s idle poll logs its request line at debug; a wait that delivers a command at info', async () => {
    const agent = await createAgent();
    const lines: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((line: unknown) => void lines.push(String(line)));
    const wait = (level: string, id: string) =>
      apiWith({ LOG_LEVEL: level }, `/api/v1/agent/commands/wait/${agent.deploymentHash}?timeout=1`, { headers: { ...agentHeaders(agent), 'x-request-id': id } });
    const requestLines = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((entry) => entry.msg === 'request');
    expect((await wait('info', 'idle-info')).status).toBe(200);
    expect(requestLines().filter((entry) => entry.requestId === 'idle-info')).toEqual([]);
    expect((await wait('debug', 'idle-debug')).status).toBe(200);
    expect(requestLines().filter((entry) => entry.requestId === 'idle-debug')).toMatchObject([{ level: 'debug', status: 200 }]);
    const created = await apiWith({}, '/api/v1/commands', jsonRequest('POST', { deployment_hash: agent.deploymentHash, command_type: 'health', parameters: { app_code: 'web' } }, bearerFor('group_user', agent.ownerId)));
    expect(created.status).toBe(201);
    expect((await wait('info', 'delivers')).status).toBe(200);
    expect(requestLines().filter((entry) => entry.requestId === 'delivers')).toMatchObject([{ level: 'info', status: 200, subject: 'agent' }]);
  });

  it('LOG_LEVEL=warn keeps request lines out', async () => {
    const lines: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((line: unknown) => void lines.push(String(line)));
    await apiWith({ LOG_LEVEL: 'warn' }, '/health_check');
    expect(lines.filter((line) => line.includes('"msg":"request"'))).toEqual([]);
  });
});

describe('GET /admin/metrics', () => {
  it('counts deployments and commands by status, the outbox backlog and agents online, for admins only', async () => {
    const agent = await createAgent();
    // A status no other test uses, so its count is exact while other files write concurrently.
    const probe = `probe_${uniqueId('m')}`.slice(0, 32);
    await withDatabase(async (db) => {
      await db.execute(sql`update deployment set status = ${probe} where deployment_hash = ${agent.deploymentHash}`);
      await db.execute(sql`insert into commands (command_id, deployment_hash, type, created_by, status) values (${`cmd_m_${agent.agentId}`}, ${agent.deploymentHash}, 'health', 'u', 'queued')`);
      await db.execute(sql`insert into deploy_outbox (deployment_id, kind, deduplication_id, payload_sealed, attempts) values (${agent.deploymentId}, 'deploy', ${`deploy-m-${agent.deploymentId}`}, 'sealed', 4)`);
      await db.execute(sql`update agents set last_heartbeat = now() where id = ${agent.agentId}`);
    });
    const response = await api('/admin/metrics', { headers: bearerFor('group_admin', uniqueId('ops')) });
    expect(response.status).toBe(200);
    const item = ((await response.json()) as {
      item: { deployments: Record<string, number>; commands: Record<string, number>; outbox: { backlog: number; most_attempts: number; oldest_age_seconds: number | null }; agents: { total: number; online: number } };
    }).item;
    expect(item.deployments[probe]).toBe(1);
    expect(item.commands.queued).toBeGreaterThanOrEqual(1);
    expect(item.outbox.backlog).toBeGreaterThanOrEqual(1);
    expect(item.outbox.most_attempts).toBeGreaterThanOrEqual(4);
    expect(item.outbox.oldest_age_seconds).not.toBeNull();
    expect(item.agents.online).toBeGreaterThanOrEqual(1);
    expect(item.agents.total).toBeGreaterThanOrEqual(item.agents.online);
    expect((await api('/admin/metrics', { headers: bearerFor('group_user', uniqueId('u')) })).status).toBe(403);
  });
});
