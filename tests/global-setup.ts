// Runs in Node before the workerd test pool: a fresh database on the real PostgreSQL, migrated,
// reached by the Worker through the same Neon driver and WebSocket proxy as in local runs.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { migrateDatabase } from '../db/migrate.ts';
import { startPgWsProxy } from '../scripts/pg-ws-proxy.ts';
import { startDockerHubStub } from './stubs/dockerhub.ts';
import { startInstallServiceStub } from './stubs/install-service.ts';
import { startQStashStub } from './stubs/qstash.ts';
import { startVaultStub } from './stubs/vault.ts';
import { startAgentStub } from './stubs/agent.ts';
import { OAUTH_AUDIENCE, OAUTH_ISSUER, startOAuthStub } from './stubs/oauth.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    adminDatabaseUrl: string;
    wsProxy: string;
    /** Worker settings pointing at the loopback stubs (see vitest.config.ts). */
    settings: Record<string, string>;
    oauthStubUrl: string;
    dockerHubStubUrl: string;
    installStubUrl: string;
    qstashStubUrl: string;
    vaultStubUrl: string;
    /** The agent local-API stand-in (tests/stubs/agent.ts); POST /__agents adds an agent. */
    agentStubUrl: string;
    jwtPrivateJwk: Record<string, unknown>;
  }
}

export default async function setup(project: TestProject) {
  const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `stacker_test_${Date.now()}_${randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();

  const testUrl = new URL(adminUrl);
  testUrl.pathname = `/${name}`;
  const databaseUrl = testUrl.toString();
  await migrateDatabase(databaseUrl);
  const proxy = await startPgWsProxy();
  const oauth = await startOAuthStub();
  const dockerHub = await startDockerHubStub();
  const installService = await startInstallServiceStub();
  const qstash = await startQStashStub();
  const vault = await startVaultStub();
  const agentStub = await startAgentStub();

  project.provide('databaseUrl', databaseUrl);
  project.provide('adminDatabaseUrl', adminUrl);
  project.provide('wsProxy', proxy.address);
  project.provide('oauthStubUrl', oauth.url);
  project.provide('dockerHubStubUrl', dockerHub.url);
  project.provide('installStubUrl', installService.url);
  project.provide('qstashStubUrl', qstash.url);
  project.provide('vaultStubUrl', vault.url);
  project.provide('agentStubUrl', agentStub.url);
  project.provide('jwtPrivateJwk', oauth.privateJwk as Record<string, unknown>);
  project.provide('settings', {
    DATABASE_URL: databaseUrl,
    DATABASE_WS_PROXY: proxy.address,
    AUTH_URL: oauth.meUrl,
    OAUTH_JWKS_URL: oauth.jwksUrl,
    OAUTH_ISSUER,
    OAUTH_AUDIENCE,
    SECURITY_KEY: randomBytes(32).toString('base64'),
    // The tests check what matters in logs themselves; a line per request would bury the rest.
    LOG_LEVEL: 'warn',
    DOCKERHUB_URL: dockerHub.url,
    DOCKERHUB_CHECK: 'on',
    INSTALL_SERVICE_URL: installService.installUrl,
    INSTALL_WEBHOOK_SECRET: randomBytes(24).toString('hex'),
    // QStash's signing keys; without QSTASH_TOKEN jobs go out directly, signed with the current key.
    QSTASH_URL: qstash.url,
    QSTASH_CURRENT_SIGNING_KEY: qstash.currentSigningKey,
    QSTASH_NEXT_SIGNING_KEY: qstash.nextSigningKey,
    VAULT_ADDRESS: vault.url,
    VAULT_TOKEN: vault.token,
  });

  return async () => {
    await oauth.close();
    await dockerHub.close();
    await installService.close();
    await qstash.close();
    await vault.close();
    await agentStub.close();
    await proxy.close();
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    await client.query(`drop database if exists ${name} with (force)`);
    await client.end();
  };
}
