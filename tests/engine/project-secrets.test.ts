// A project's secrets (issue 28) through the API, inside workerd against the real database: generated
// from the CSPRNG for every ${NAME} the stack refers to, a user's secret-looking or marked value taken
// out of the form, both kept sealed; the compose and the project show names only; list (masked),
// reveal, set and rotate for the owner alone; and a deploy to an own server that hands the values to the
// agent as deploy_app's env_vars and nowhere else (events, compose, the owner's view of the command).
import { describe, expect, it } from 'vitest';
import { AgentSimulator, type WaitAnswer } from '../helpers/agent-simulator.ts';
import { api, bearerFor, createApiClientFor, hmacHeaders, jsonRequest, uniqueId } from '../helpers/auth.ts';
import { requestAndSettle } from '../helpers/deploy.ts';
import { settingsForFile } from '../helpers/api.ts';

// Deploys go to the built-in engine (the rest of the workers project deploys through the install service).
settingsForFile({ DEPLOY_ENGINE: 'builtin' });

const env = (values: Record<string, string | { value: string; secret: true }>) =>
  Object.entries(values).map(([key, value]) => (typeof value === 'string' ? { key, value } : { key, ...value }));

const app = (code: string, image: string, type: 'web' | 'service', environment: Array<Record<string, unknown>>, extra: Record<string, unknown> = {}) => ({
  _id: code,
  name: code,
  code,
  type,
  dockerhub_name: image,
  restart: 'unless-stopped',
  environment,
  ...extra,
});

/** WordPress and MariaDB as the catalog wires them, plus a token the user typed and a value they marked secret. */
const form = (name: string) => ({
  custom: {
    custom_stack_code: name,
    web: [
      app(
        'wordpress',
        'wordpress:6.7',
        'web',
        env({
          WORDPRESS_DB_HOST: 'mariadb',
          WORDPRESS_DB_USER: 'app',
          WORDPRESS_DB_PASSWORD: '${MARIADB_PASSWORD}',
          WORDPRESS_DB_NAME: 'app',
          SMTP_TOKEN: 'typed-by-the-user-7Qm2',
          LICENSE: { value: 'marked-secret-by-the-user-9Xk4', secret: true },
          WP_DEBUG: 'false',
        }),
        { shared_ports: [{ host_port: '8084', container_port: '80' }], depends_on: { mariadb: { condition: 'service_healthy' } } },
      ),
    ],
    service: [
      app(
        'mariadb',
        'mariadb:11.4',
        'service',
        env({ MARIADB_ROOT_PASSWORD: '${MARIADB_ROOT_PASSWORD}', MARIADB_DATABASE: 'app', MARIADB_USER: 'app', MARIADB_PASSWORD: '${MARIADB_PASSWORD}' }),
        { healthcheck: { test: ['CMD', 'healthcheck.sh', '--connect', '--innodb_initialized'], interval: '10s' } },
      ),
    ],
  },
});

interface SecretView {
  name: string;
  value: string;
  generated: boolean;
  used_by: string[];
}

async function createProject(owner: string, name = uniqueId('sec')) {
  const response = await api('/project', jsonRequest('POST', form(name), bearerFor('group_user', owner)));
  expect(response.status, await response.clone().text()).toBe(201);
  return ((await response.json()) as { item: { id: number; request_json: unknown; metadata: unknown } }).item;
}

const reveal = async (owner: string, id: number, name: string) => {
  const response = await api(`/project/${id}/secrets/${name}`, { headers: bearerFor('group_user', owner) });
  expect(response.status).toBe(200);
  expect(response.headers.get('cache-control')).toBe('no-store');
  return ((await response.json()) as { item: { value: string } }).item.value;
};

describe('project secrets', () => {
  it('generates what the stack refers to, takes typed secrets out of the form, and shows names only', async () => {
    const owner = uniqueId('sec');
    const created = await createProject(owner);
    const text = JSON.stringify(created);
    expect(text).not.toContain('typed-by-the-user-7Qm2');
    expect(text).not.toContain('marked-secret-by-the-user-9Xk4');
    expect(text).toContain('${WORDPRESS_SMTP_TOKEN}');

    const compose = await api(`/project/${created.id}/compose`, { headers: bearerFor('group_user', owner) });
    const yaml = ((await compose.json()) as { item: string }).item;
    expect(yaml).toContain('WORDPRESS_DB_PASSWORD: ${MARIADB_PASSWORD}');
    expect(yaml).toContain('MARIADB_PASSWORD: ${MARIADB_PASSWORD}');
    expect(yaml).toContain('SMTP_TOKEN: ${WORDPRESS_SMTP_TOKEN}');
    expect(yaml).toContain('LICENSE: ${WORDPRESS_LICENSE}');
    expect(yaml).toContain("WP_DEBUG: 'false'");

    const listed = await api(`/project/${created.id}/secrets`, { headers: bearerFor('group_user', owner) });
    expect(listed.status).toBe(200);
    const list = ((await listed.json()) as { list: SecretView[] }).list;
    expect(list.map(({ name, value, generated, used_by }) => ({ name, value, generated, used_by }))).toEqual([
      { name: 'MARIADB_PASSWORD', value: '********', generated: true, used_by: ['wordpress', 'mariadb'] },
      { name: 'MARIADB_ROOT_PASSWORD', value: '********', generated: true, used_by: ['mariadb'] },
      { name: 'WORDPRESS_LICENSE', value: '********', generated: false, used_by: ['wordpress'] },
      { name: 'WORDPRESS_SMTP_TOKEN', value: '********', generated: false, used_by: ['wordpress'] },
    ]);

    const password = await reveal(owner, created.id, 'MARIADB_PASSWORD');
    expect(password).toMatch(/^[A-Za-z0-9]{64}$/);
    expect(await reveal(owner, created.id, 'MARIADB_ROOT_PASSWORD')).not.toBe(password);
    expect(await reveal(owner, created.id, 'WORDPRESS_SMTP_TOKEN')).toBe('typed-by-the-user-7Qm2');
    expect(await reveal(owner, created.id, 'WORDPRESS_LICENSE')).toBe('marked-secret-by-the-user-9Xk4');
    // Per project: another project of the same stack gets its own.
    const other = await createProject(owner);
    expect(await reveal(owner, other.id, 'MARIADB_PASSWORD')).not.toBe(password);

    // Saving the project again (as read back: names only) keeps the values.
    const stored = (await (await api(`/project/${created.id}`, { headers: bearerFor('group_user', owner) })).json()) as { item: { request_json: Record<string, unknown> } };
    const again = await api(`/project/${created.id}`, jsonRequest('PUT', stored.item.request_json, bearerFor('group_user', owner)));
    expect(again.status, await again.clone().text()).toBe(200);
    expect(await reveal(owner, created.id, 'MARIADB_PASSWORD')).toBe(password);
    expect(await reveal(owner, created.id, 'WORDPRESS_SMTP_TOKEN')).toBe('typed-by-the-user-7Qm2');

    // A new password typed where the form names a secret changes that secret: WordPress keeps using it.
    const edited = structuredClone(stored.item.request_json) as { custom: { service: Array<{ environment: Array<{ key: string; value: string }> }> } };
    edited.custom.service[0]!.environment.find((variable) => variable.key === 'MARIADB_PASSWORD')!.value = 'typed-new-db-password-3Hn';
    expect((await api(`/project/${created.id}`, jsonRequest('PUT', edited, bearerFor('group_user', owner)))).status).toBe(200);
    expect(await reveal(owner, created.id, 'MARIADB_PASSWORD')).toBe('typed-new-db-password-3Hn');
    const recomposed = ((await (await api(`/project/${created.id}/compose`, { headers: bearerFor('group_user', owner) })).json()) as { item: string }).item;
    expect(recomposed).toContain('WORDPRESS_DB_PASSWORD: ${MARIADB_PASSWORD}');
    expect(recomposed).toContain('MARIADB_PASSWORD: ${MARIADB_PASSWORD}');
    expect(recomposed).not.toContain('typed-new-db-password-3Hn');
  });

  it('sets and rotates for the owner and the owner’s clients; others, admins included, reach nothing; bad input names the field', async () => {
    const owner = uniqueId('sec');
    const created = await createProject(owner);
    const path = `/project/${created.id}/secrets`;
    const before = await reveal(owner, created.id, 'MARIADB_PASSWORD');

    const set = await api(`${path}/MARIADB_PASSWORD`, jsonRequest('PUT', { value: 'chosen by the owner: "quoted" #1' }, bearerFor('group_user', owner)));
    expect(set.status).toBe(200);
    expect(((await set.json()) as { item: SecretView }).item).toMatchObject({ name: 'MARIADB_PASSWORD', value: '********', generated: false });
    expect(await reveal(owner, created.id, 'MARIADB_PASSWORD')).toBe('chosen by the owner: "quoted" #1');

    const rotated = await api(`${path}/MARIADB_PASSWORD/rotate`, { method: 'POST', headers: bearerFor('group_user', owner) });
    expect(rotated.status).toBe(200);
    expect(((await rotated.json()) as { item: SecretView }).item.generated).toBe(true);
    const after = await reveal(owner, created.id, 'MARIADB_PASSWORD');
    expect(after).toMatch(/^[A-Za-z0-9]{64}$/);
    expect(after).not.toBe(before);

    const client = await createApiClientFor(owner);
    const byClient = await api(path, { headers: await hmacHeaders(client, 'GET', path) });
    expect(byClient.status).toBe(200);

    const stranger = bearerFor('group_user', uniqueId('other'));
    const admin = bearerFor('group_admin', uniqueId('admin'));
    for (const headers of [stranger, admin]) {
      expect((await api(path, { headers })).status).toBe(404);
      expect((await api(`${path}/MARIADB_PASSWORD`, { headers })).status).toBe(404);
      expect((await api(`${path}/MARIADB_PASSWORD`, jsonRequest('PUT', { value: 'taken-over' }, headers))).status).toBe(404);
      expect((await api(`${path}/MARIADB_PASSWORD/rotate`, { method: 'POST', headers })).status).toBe(404);
    }
    expect(await reveal(owner, created.id, 'MARIADB_PASSWORD')).toBe(after);
    expect((await api(path)).status).toBe(401);

    const badName = await api(`${path}/not-a-name`, jsonRequest('PUT', { value: 'x' }, bearerFor('group_user', owner)));
    expect(badName.status).toBe(400);
    expect(JSON.stringify(await badName.json())).toMatch(/name/);
    const empty = await api(`${path}/MARIADB_PASSWORD`, jsonRequest('PUT', { value: '' }, bearerFor('group_user', owner)));
    expect(empty.status).toBe(400);
    expect(JSON.stringify(await empty.json())).toMatch(/value.*must not be empty/);
    expect((await api(`${path}/NO_SUCH_SECRET`, { headers: bearerFor('group_user', owner) })).status).toBe(404);
    expect((await api(`${path}/NO_SUCH_SECRET/rotate`, { method: 'POST', headers: bearerFor('group_user', owner) })).status).toBe(404);
  });

  it('a deploy hands the values to the agent as env_vars only: not in the events, the compose or the owner’s view of the command', async () => {
    const owner = uniqueId('sec');
    const created = await createProject(owner);
    const values = {
      MARIADB_PASSWORD: await reveal(owner, created.id, 'MARIADB_PASSWORD'),
      MARIADB_ROOT_PASSWORD: await reveal(owner, created.id, 'MARIADB_ROOT_PASSWORD'),
      WORDPRESS_SMTP_TOKEN: 'typed-by-the-user-7Qm2',
      WORDPRESS_LICENSE: 'marked-secret-by-the-user-9Xk4',
    };
    const headers = bearerFor('group_user', owner);
    const started = await requestAndSettle(`/project/${created.id}/deploy`, jsonRequest('POST', { cloud: { provider: 'own' }, server: { srv_ip: '203.0.113.20' }, stack: { vars: [] } }, headers));
    expect(started.status).toBe(202);
    const { deployment_id: deploymentId, deployment_hash: hash, install_command: installCommand } = ((await started.json()) as { item: { deployment_id: number; deployment_hash: string; install_command: string } }).item;
    const secret = /\/install\/([A-Za-z0-9_-]+)'/.exec(installCommand)![1]!;
    const enrolled = await requestAndSettle(`/install/${secret}/enroll`, { method: 'POST' });
    expect(enrolled.status).toBe(200);
    const file = Object.fromEntries((await enrolled.text()).trim().split('\n').map((line) => line.split(/=(.*)/s).slice(0, 2) as [string, string]));
    const agent = new AgentSimulator({ agentId: file.AGENT_ID!, token: file.AGENT_TOKEN!, deploymentHash: hash });

    let apply: NonNullable<WaitAnswer['item']> | undefined;
    for (let polls = 0; polls < 5 && !apply; polls++) {
      const { status, body } = await agent.wait(10);
      if (status === 200 && body.item && 'command_id' in body.item) apply = body.item as NonNullable<WaitAnswer['item']>;
    }
    expect(apply?.type).toBe('deploy_app');
    const parameters = apply!.parameters as { compose_content: string; env_vars: Record<string, string> };
    expect(parameters.env_vars).toEqual(values);
    for (const value of Object.values(values)) expect(parameters.compose_content).not.toContain(value);
    expect(parameters.compose_content).toContain('WORDPRESS_DB_PASSWORD: ${MARIADB_PASSWORD}');
    await agent.report(apply!.command_id, { result: { status: 'ok' } });

    const asOwner = await api(`/api/v1/commands/${hash}/${apply!.command_id}`, { headers });
    expect(((await asOwner.json()) as { item: { parameters: { env_vars: unknown } } }).item.parameters.env_vars).toEqual(Object.fromEntries(Object.keys(values).map((name) => [name, '********'])));

    const events = await api(`/project/${created.id}/deployments/${deploymentId}/events?after=0`, { headers });
    const detail = await api(`/project/${created.id}/deployments/${deploymentId}`, { headers });
    const compose = await api(`/project/${created.id}/compose`, { headers });
    const seen = `${await events.text()}${await detail.text()}${await compose.text()}`;
    for (const value of Object.values(values)) expect(seen).not.toContain(value);
    expect(seen).toContain('deploy');
  });
});
