// Each service's dependencies, built from a request's settings and database: the one place the API's
// routes and the dashboard's pages take them from, so both faces run a service alike.
import type { Context } from 'hono';
import { requireSetting, type Config } from '../config.ts';
import type { AppEnv } from './env.ts';
import type { RegisterDeps } from '../services/agents.ts';
import type { AgentTokenDeps } from '../services/agent-tokens.ts';
import type { AgreementDeps } from '../services/agreements.ts';
import type { ApiClientDeps } from '../services/api-clients.ts';
import type { CloudDeps } from '../services/clouds.ts';
import type { DeployDeps } from '../services/deployments.ts';
import type { DockerHubDeps } from '../services/dockerhub.ts';
import type { OutboxDeps } from '../services/outbox.ts';
import type { ProjectDeps } from '../services/projects.ts';
import { publisherFromConfig } from '../services/queue.ts';
import type { RatingDeps } from '../services/ratings.ts';
import { vaultFromConfig } from '../services/vault-kv.ts';

type RequestContext = Context<AppEnv>;

const dockerHubOf = (config: Config): DockerHubDeps => ({ baseUrl: config.DOCKERHUB_URL, enabled: config.DOCKERHUB_CHECK === 'on' });

/** The project services: the database and the Docker Hub check settings. */
export function projectDeps(c: RequestContext): ProjectDeps {
  return { db: c.var.database.db, dockerHub: dockerHubOf(c.var.config), securityKey: c.var.config.SECURITY_KEY };
}

export function deployDeps(c: RequestContext): DeployDeps {
  const config = c.var.config;
  return {
    db: c.var.database.db,
    securityKey: requireSetting(config, 'SECURITY_KEY'),
    dockerHub: dockerHubOf(config),
    deadlineMinutes: config.DEPLOY_TIMEOUT_MINUTES,
    progressUrl: new URL('/webhooks/install', c.req.url).toString(),
  };
}

export function outboxDeps(c: RequestContext): OutboxDeps {
  const config = c.var.config;
  return {
    db: c.var.database.db,
    securityKey: requireSetting(config, 'SECURITY_KEY'),
    publisher: publisherFromConfig(config),
    installServiceUrl: requireSetting(config, 'INSTALL_SERVICE_URL'),
  };
}

export function cloudDeps(c: RequestContext): CloudDeps {
  return { db: c.var.database.db, securityKey: requireSetting(c.var.config, 'SECURITY_KEY') };
}

export function apiClientDeps(c: RequestContext): ApiClientDeps {
  const config = c.var.config;
  return { db: c.var.database.db, securityKey: requireSetting(config, 'SECURITY_KEY'), maxClientsPerUser: config.MAX_CLIENTS_NUMBER };
}

export function agentRegistrationDeps(c: RequestContext): RegisterDeps {
  return { db: c.var.database.db, vault: vaultFromConfig(c.var.config) };
}

export function agentTokenDeps(c: RequestContext): AgentTokenDeps {
  const config = c.var.config;
  return { db: c.var.database.db, vault: vaultFromConfig(config), agentBaseUrl: config.AGENT_BASE_URL };
}

export const ratingDeps = (c: RequestContext): RatingDeps => ({ db: c.var.database.db });

export const agreementDeps = (c: RequestContext): AgreementDeps => ({ db: c.var.database.db });
