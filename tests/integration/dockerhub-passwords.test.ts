// Docker Hub passwords of a project's apps (issue 29 point 11): sealed with SECURITY_KEY (AES-256-GCM,
// as cloud keys are) in the project's metadata, never kept in its stored request, never in an answer
// (API, dashboard, compose). The image check and the install service's job still get the password.
// A row stored in clear by an earlier version is read as it is and sealed when next written.
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { api, jsonRequest } from '../helpers/api.ts';
import { bearerFor, uniqueId } from '../helpers/auth.ts';
import { signedIn } from '../helpers/dashboard.ts';
import { withDatabase } from '../helpers/db.ts';
import { deliveriesOf, deploy } from '../helpers/deploy.ts';
import { deployBodies, projectForms } from '../helpers/fixtures.ts';
import { PRIVATE_NAMESPACE, PRIVATE_PASSWORD } from '../stubs/dockerhub.ts';

interface StoredApp {
  dockerhub_password?: string | null;
}
type StoredRow = {
  metadata: { custom: { web: StoredApp[] } };
  request_json: { custom: { web: StoredApp[] } };
  text: string;
};

function privateImageForm(password: string | null) {
  const form = structuredClone(projectForms[2]!.body) as { custom: { web: Array<Record<string, unknown>> } };
  form.custom.web[0]!.dockerhub_user = PRIVATE_NAMESPACE;
  form.custom.web[0]!.dockerhub_password = password;
  return form;
}

const stored = (id: number) =>
  withDatabase(async (db) => {
    const row = (await db.execute<StoredRow>(sql`select metadata, request_json, metadata::text || request_json::text as text from project where id = ${id}`)).rows[0]!;
    const deployments = (await db.execute<{ text: string }>(sql`select coalesce(string_agg(metadata::text, ''), '') as text from deployment where project_id = ${id}`)).rows[0]!;
    return { ...row, text: row.text + deployments.text };
  });

async function created(userId: string, form: unknown): Promise<{ id: number; metadata: unknown }> {
  const response = await api('/project', jsonRequest('POST', form, bearerFor('group_user', userId)));
  expect(response.status, await response.clone().text()).toBe(201);
  return ((await response.json()) as { item: { id: number; metadata: unknown } }).item;
}

/** Everything a person or client can read about the project: its API answers, compose and pages. */
async function everyAnswer(userId: string, id: number): Promise<string> {
  const user = bearerFor('group_user', userId);
  const admin = bearerFor('group_admin', uniqueId('pwadmin'));
  const session = await signedIn(userId);
  const code = ((await (await api(`/project/${id}`, { headers: user })).json()) as { item: { metadata: { custom: { web: Array<{ code: string }> } } } }).item.metadata.custom.web[0]!.code;
  const reads = [
    api(`/project/${id}`, { headers: user }),
    api('/project', { headers: user }),
    api(`/project/${id}/compose`, { headers: user }),
    api(`/admin/project/${id}/compose`, { headers: admin }),
    api(`/admin/project/user/${userId}`, { headers: admin }),
    api(`/projects/${id}`, { headers: session }),
    api(`/projects/${id}/apps/${code}`, { headers: session }),
    api(`/projects/${id}/compose.yml`, { headers: session }),
  ];
  const texts = [];
  for (const response of await Promise.all(reads)) {
    expect(response.status, response.url).toBe(200);
    texts.push(await response.text());
  }
  return texts.join('\n');
}

describe('Docker Hub passwords', () => {
  it('are sealed in the metadata, absent from the stored request, and shown nowhere', async () => {
    const userId = uniqueId('hubpw');
    const project = await created(userId, privateImageForm(PRIVATE_PASSWORD));
    const row = await stored(project.id);
    expect(row.text).not.toContain(PRIVATE_PASSWORD);
    expect(row.metadata.custom.web[0]!.dockerhub_password).toMatch(/^sealed:v1:[A-Za-z0-9+/=]+$/);
    expect(row.request_json.custom.web[0]!.dockerhub_password ?? null).toBeNull();
    const answers = await everyAnswer(userId, project.id);
    expect(answers).not.toContain(PRIVATE_PASSWORD);
    expect(answers).not.toContain(row.metadata.custom.web[0]!.dockerhub_password);
    expect(answers).not.toContain('sealed:v1:');
  });

  it('written back as read (no password), the sealed one is kept and opened for the private image check', async () => {
    const userId = uniqueId('hubpw');
    const headers = bearerFor('group_user', userId);
    const project = await created(userId, privateImageForm(PRIVATE_PASSWORD));
    const before = (await stored(project.id)).metadata.custom.web[0]!.dockerhub_password;
    const update = await api(`/project/${project.id}`, jsonRequest('PUT', project.metadata, headers));
    expect(update.status, await update.clone().text()).toBe(200);
    const after = await stored(project.id);
    expect(after.text).not.toContain(PRIVATE_PASSWORD);
    expect(after.metadata.custom.web[0]!.dockerhub_password).toMatch(/^sealed:v1:/);
    expect(after.metadata.custom.web[0]!.dockerhub_password).toBe(before); // kept as it was stored
    // A wrong one given instead is checked as given: refused.
    expect((await api(`/project/${project.id}`, jsonRequest('PUT', privateImageForm('wrong-password'), headers))).status).toBe(400);
  });

  it('a clear password an earlier version stored is used as it is, never shown, and sealed on the next write', async () => {
    const userId = uniqueId('hubpw');
    const headers = bearerFor('group_user', userId);
    const project = await created(userId, privateImageForm(PRIVATE_PASSWORD));
    await withDatabase((db) =>
      db.execute(sql`update project set metadata = jsonb_set(metadata::jsonb, '{custom,web,0,dockerhub_password}', ${JSON.stringify(PRIVATE_PASSWORD)}::jsonb) where id = ${project.id}`),
    );
    expect(await everyAnswer(userId, project.id)).not.toContain(PRIVATE_PASSWORD);
    const update = await api(`/project/${project.id}`, jsonRequest('PUT', project.metadata, headers));
    expect(update.status, await update.clone().text()).toBe(200);
    const after = await stored(project.id);
    expect(after.text).not.toContain(PRIVATE_PASSWORD);
    expect(after.metadata.custom.web[0]!.dockerhub_password).toMatch(/^sealed:v1:/);
  });

  it('the install service job carries the password it needs to pull the image; the deployment row keeps it sealed', async () => {
    const userId = uniqueId('hubpw');
    const project = await created(userId, privateImageForm(PRIVATE_PASSWORD));
    const started = await deploy({ id: project.id, userId } as never, deployBodies.deploy2);
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const [delivery] = await deliveriesOf(started.body.item.deployment_hash, 1);
    const job = JSON.parse(delivery!.body) as { custom?: { web: StoredApp[] } };
    expect(job.custom?.web[0]!.dockerhub_password).toBe(PRIVATE_PASSWORD);
    expect((await stored(project.id)).text).not.toContain(PRIVATE_PASSWORD);
  });
});
