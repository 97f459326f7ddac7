// A project's secrets through the install service (DEPLOY_ENGINE=install-service, the workers
// project's engine; issue 28): its job carries the compose alone, so the deploy step puts the values
// into it, where the compose names them; the API's compose, the deployment's status and its events
// still name them only.
import { brotliDecompressSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { api, bearerFor, jsonRequest, uniqueId } from '../helpers/auth.ts';
import { createProjectFor, deliveriesOf, deploy } from '../helpers/deploy.ts';
import { deployBodies } from '../helpers/fixtures.ts';

const deployBody = { ...deployBodies.deploy2, cloud: { provider: 'htz', cloud_token: 'hcloud-token-for-the-secrets-test-0123456789', save_token: false } };

const app = (code: string, image: string, environment: Array<{ key: string; value: string }>) => ({ _id: code, name: code, code, type: 'web', dockerhub_name: image, restart: 'unless-stopped', environment });

describe('project secrets and the install service', () => {
  it('puts the values into the job’s compose at the deploy step only', async () => {
    const owner = uniqueId('secinst');
    const form = {
      custom: {
        custom_stack_code: uniqueId('blog'),
        web: [
          app('wordpress', 'wordpress:6.7', [
            { key: 'WORDPRESS_DB_HOST', value: 'mariadb' },
            { key: 'WORDPRESS_DB_PASSWORD', value: '${MARIADB_PASSWORD}' },
            { key: 'SMTP_PASSWORD', value: 'quoted: "value" #1' },
          ]),
          app('mariadb', 'mariadb:11.4', [{ key: 'MARIADB_PASSWORD', value: '${MARIADB_PASSWORD}' }]),
        ],
      },
    };
    const project = await createProjectFor(owner, form);
    const headers = bearerFor('group_user', owner);
    const reveal = async (name: string) => ((await (await api(`/project/${project.id}/secrets/${name}`, { headers })).json()) as { item: { value: string } }).item.value;
    const password = await reveal('MARIADB_PASSWORD');
    expect(await reveal('WORDPRESS_SMTP_PASSWORD')).toBe('quoted: "value" #1');

    const started = await deploy(project, deployBody);
    expect(started.status).toBe(202);
    const [delivery] = await deliveriesOf(started.body.item.deployment_hash, 1);
    const job = JSON.parse(delivery!.body) as { docker_compose: number[] };
    const compose = parse(brotliDecompressSync(Uint8Array.from(job.docker_compose)).toString('utf8')) as { services: Record<string, { environment: Record<string, string> }> };
    expect(compose.services.wordpress!.environment.WORDPRESS_DB_PASSWORD).toBe(password);
    expect(compose.services.mariadb!.environment.MARIADB_PASSWORD).toBe(password);
    expect(compose.services.wordpress!.environment.SMTP_PASSWORD).toBe('quoted: "value" #1');

    const apiCompose = await (await api(`/project/${project.id}/compose`, { headers })).text();
    const status = await (await api(`/project/deploy/status?deployment_hash=${started.body.item.deployment_hash}`, { headers })).text();
    const events = await (await api(`/project/${project.id}/deployments/${started.body.item.deployment_id}/events?after=0`, { headers })).text();
    for (const text of [apiCompose, status, events]) expect(text).not.toContain(password);
    expect(apiCompose).toContain('WORDPRESS_DB_PASSWORD: ${MARIADB_PASSWORD}');
  });
});
