// Runs in Node before the workerd test pool: a fresh database on the real PostgreSQL (the run's
// server: tests/database-server.ts), migrated, reached by the Worker through the same Neon driver
// and WebSocket proxy as in local runs.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { migrateDatabase } from '../db/migrate.ts';
import { acquireDatabaseServer, releaseDatabaseServer } from './database-server.ts';
import { startPgWsProxy } from '../scripts/pg-ws-proxy.ts';
import { startDockerHubStub } from './stubs/dockerhub.ts';
import { startInstallServiceStub } from './stubs/install-service.ts';
import { startQStashStub } from './stubs/qstash.ts';
import { startVaultStub } from './stubs/vault.ts';
import { startAgentStub } from './stubs/agent.ts';
import { startPgFaultProxy } from './stubs/pg-fault-proxy.ts';
import { OAUTH_AUDIENCE, OAUTH_ISSUER, startOAuthStub } from './stubs/oauth.ts';
import { runLeakCheck, startLeakCollector } from './helpers/leak-collector.ts';
import { startHetznerStandIn } from '../scripts/stand-ins/hetzner.ts';
import { startDigitalOceanStandIn } from '../scripts/stand-ins/digitalocean.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    /** A second fresh, migrated database that only the hostile-input suite uses, so it can compare whole tables. */
    isolatedDatabaseUrl: string;
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
    /** Where tests/helpers/api.ts posts the responses it saw, for the leak check. */
    leakCollectorUrl: string;
    /** A second WebSocket proxy that can stop the database mid-request (tests/stubs/pg-fault-proxy.ts). */
    pgFaultProxy: { address: string; controlUrl: string };
    /** The cloud providers' stand-ins (scripts/stand-ins/); a test adds its own account: POST /__stand-in/accounts. */
    hetznerStandInUrl: string;
    digitalOceanStandInUrl: string;
  }
}

type Shared = Awaited<ReturnType<typeof startShared>>;
// Every project that names this setup shares one database and one set of stand-ins: vitest runs it
// once per project, in one process; the last project's teardown stops them.
const sharedState = globalThis as typeof globalThis & { stackerShared?: { started: Promise<Shared>; users: number } };

export default async function setup(project: TestProject) {
  sharedState.stackerShared ??= { started: startShared(), users: 0 };
  const state = sharedState.stackerShared;
  state.users++;
  const shared = await state.started;
  shared.provide(project);
  return async () => {
    if (--state.users > 0) return;
    sharedState.stackerShared = undefined;
    try {
      await shared.teardown(project);
    } finally {
      await releaseDatabaseServer();
    }
  };
}

async function startShared() {
  const adminUrl = await acquireDatabaseServer();
  const name = `stacker_test_${Date.now()}_${randomBytes(3).toString('hex')}`;
  const isolatedName = `${name}_isolated`;
  // The Worker connects as a role of this run with a random password, owner of its two databases: the
  // leak check searches for that password, not the administrator's (with postgres:postgres, the word
  // "postgres" that any page listing the PostgreSQL app shows).
  const role = `stacker_test_${randomBytes(6).toString('hex')}`;
  const rolePassword = randomBytes(24).toString('base64url');
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create role ${role} login password '${rolePassword}'`);
  await admin.query(`create database ${name} owner ${role}`);
  await admin.query(`create database ${isolatedName} owner ${role}`);
  await admin.end();

  const urlOf = (database: string) => {
    const url = new URL(adminUrl);
    url.username = role;
    url.password = rolePassword;
    url.pathname = `/${database}`;
    return url.toString();
  };
  const databaseUrl = urlOf(name);
  const isolatedDatabaseUrl = urlOf(isolatedName);
  await Promise.all([migrateDatabase(databaseUrl), migrateDatabase(isolatedDatabaseUrl)]);
  // Pooled as under npm start, with few idle backends: the shared PostgreSQL allows 100 connections.
  const proxy = await startPgWsProxy({ pool: { maxIdle: 10 } });
  const oauth = await startOAuthStub();
  const dockerHub = await startDockerHubStub();
  const installService = await startInstallServiceStub();
  const qstash = await startQStashStub();
  const vault = await startVaultStub();
  const agentStub = await startAgentStub();
  const leakCollector = await startLeakCollector();
  const pgFaultProxy = await startPgFaultProxy();
  const hetzner = await startHetznerStandIn({ token: randomBytes(16).toString('hex') });
  const digitalOcean = await startDigitalOceanStandIn({ token: randomBytes(16).toString('hex') });

  const securityKey = randomBytes(32).toString('base64');
  const webhookSecret = randomBytes(24).toString('hex');
  const provide = (project: TestProject) => {
    project.provide('databaseUrl', databaseUrl);
    project.provide('isolatedDatabaseUrl', isolatedDatabaseUrl);
    project.provide('adminDatabaseUrl', adminUrl);
    project.provide('wsProxy', proxy.address);
    project.provide('oauthStubUrl', oauth.url);
    project.provide('dockerHubStubUrl', dockerHub.url);
    project.provide('installStubUrl', installService.url);
    project.provide('qstashStubUrl', qstash.url);
    project.provide('vaultStubUrl', vault.url);
    project.provide('agentStubUrl', agentStub.url);
    project.provide('leakCollectorUrl', leakCollector.url);
    project.provide('jwtPrivateJwk', oauth.privateJwk as Record<string, unknown>);
    project.provide('pgFaultProxy', { address: pgFaultProxy.address, controlUrl: pgFaultProxy.controlUrl });
    project.provide('hetznerStandInUrl', hetzner.url);
    project.provide('digitalOceanStandInUrl', digitalOcean.url);
    project.provide('settings', {
      DATABASE_URL: databaseUrl,
      DATABASE_WS_PROXY: proxy.address,
      AUTH_URL: oauth.meUrl,
      OAUTH_JWKS_URL: oauth.jwksUrl,
      OAUTH_ISSUER,
      OAUTH_AUDIENCE,
      SECURITY_KEY: securityKey,
      // Every line is produced, for the leak check; vitest.config.ts keeps debug and info lines off the screen.
      LOG_LEVEL: 'debug',
      DOCKERHUB_URL: dockerHub.url,
      DOCKERHUB_CHECK: 'on',
      INSTALL_SERVICE_URL: installService.installUrl,
      INSTALL_WEBHOOK_SECRET: webhookSecret,
      // QStash's signing keys; without QSTASH_TOKEN jobs go out directly, signed with the current key.
      QSTASH_URL: qstash.url,
      QSTASH_CURRENT_SIGNING_KEY: qstash.currentSigningKey,
      QSTASH_NEXT_SIGNING_KEY: qstash.nextSigningKey,
      VAULT_ADDRESS: vault.url,
      VAULT_TOKEN: vault.token,
      HETZNER_API_URL: hetzner.apiUrl,
      DIGITALOCEAN_API_URL: digitalOcean.apiUrl,
      // The suite sends thousands of requests as a few subjects; tests/integration/abuse-limits.test.ts
      // checks the limits with its own low settings.
      RATE_LIMIT_USER_PER_MINUTE: '1000000',
      RATE_LIMIT_CLIENT_PER_MINUTE: '1000000',
      RATE_LIMIT_AGENT_PER_MINUTE: '1000000',
      RATE_LIMIT_ANONYMOUS_PER_MINUTE: '1000000',
      RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: '1000000',
    });
  };

  const teardown = async (project: TestProject) => {
    // Before the databases go: the check reads the stored secrets. It fails the run after the clean-up.
    const leakCheck = await runLeakCheck({
      settings: project.getProvidedContext().settings,
      databaseUrls: [databaseUrl, isolatedDatabaseUrl],
      vaultWrites: vault.written(),
    }).catch((error: unknown) => ({ summary: 'Leak check: could not run.', failure: `The leak check could not run: ${String(error)}` }));
    console.log(leakCheck.summary);
    await leakCollector.close();
    await oauth.close();
    await dockerHub.close();
    await installService.close();
    await qstash.close();
    await vault.close();
    await agentStub.close();
    await pgFaultProxy.close();
    await hetzner.close();
    await digitalOcean.close();
    await proxy.close();
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    await client.query(`drop database if exists ${name} with (force)`);
    await client.query(`drop database if exists ${isolatedName} with (force)`);
    await client.query(`drop role if exists ${role}`);
    await client.end();
    if (leakCheck.failure) throw new Error(leakCheck.failure);
  };
  return { provide, teardown };
}
