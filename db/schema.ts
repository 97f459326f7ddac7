// Database schema: the final state of the reference (spec/reference-api.md §7) with the fixes of §12.
// Names of tables, columns, constraints and indexes are the reference's, so a database migrated by
// the reference's sqlx migrations and one migrated by ./drizzle look the same.
import { sql } from 'drizzle-orm';
import {
  boolean,
  check,
  foreignKey,
  index,
  inet,
  integer,
  json,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  serial,
  text,
  timestamp,
  unique,
  uniqueIndex,
  uuid,
  varchar,
} from 'drizzle-orm/pg-core';

/** A JSON object column (`'{}'` by default in the reference). */
type JsonObject = Record<string, unknown>;

// Labels exactly as the reference's enum (§7). Note §12.10: the reference's Rust side sends
// `DeploymentSpeed`, `TechSupport`, `MemoryUsage`, which do not match; the API layer must map to these.
export const rateCategory = pgEnum('rate_category', [
  'application',
  'cloud',
  'project',
  'deploymentSpeed',
  'documentation',
  'design',
  'techSupport',
  'price',
  'memoryUsage',
]);
export type RateCategory = (typeof rateCategory.enumValues)[number];

// Decision: kept `id integer PK` without a sequence, as the reference (ids are chosen by the writer).
export const product = pgTable('product', {
  id: integer('id').primaryKey(),
  objId: integer('obj_id').notNull(),
  objType: text('obj_type').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

export const rating = pgTable(
  'rating',
  {
    id: serial('id'),
    userId: varchar('user_id', { length: 50 }).notNull(),
    objId: integer('obj_id').notNull(),
    category: rateCategory('category').notNull(),
    comment: text('comment'),
    hidden: boolean('hidden').default(false),
    rate: integer('rate'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'rating_pk', columns: [t.id] }),
    foreignKey({ name: 'fk_product', columns: [t.objId], foreignColumns: [product.id] }),
    index('idx_category').on(t.category),
    index('idx_user_id').on(t.userId),
    index('idx_obj_id_rating_id').on(t.objId, t.rate),
  ],
);

export const project = pgTable(
  'project',
  {
    id: serial('id').primaryKey(),
    stackId: uuid('stack_id').notNull(),
    userId: varchar('user_id', { length: 50 }).notNull(),
    name: text('name').notNull(),
    metadata: json('metadata').$type<JsonObject>().notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
    requestJson: json('request_json').$type<JsonObject>().notNull().default({}),
    /** Idempotency-Key of the POST /project that created it: a retry with the same key finds it. */
    idempotencyKey: varchar('idempotency_key', { length: 128 }),
  },
  (t) => [
    index('idx_project_stack_id').on(t.stackId),
    index('idx_project_user_id').on(t.userId),
    index('idx_project_name').on(t.name),
    uniqueIndex('idx_project_idempotency').on(t.userId, t.idempotencyKey).where(sql`${t.idempotencyKey} is not null`),
  ],
);

export const client = pgTable(
  'client',
  {
    id: serial('id').primaryKey(),
    userId: varchar('user_id', { length: 50 }).notNull(),
    // Fix (§12.4, DESIGN "Secrets"): text, holds the secret encrypted (base64 nonce‖ciphertext‖tag), longer than 255.
    secret: text('secret').unique('client_secret_unique'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
    /** Idempotency-Key of the POST /client that created it: a retry with the same key finds it. */
    idempotencyKey: varchar('idempotency_key', { length: 128 }),
  },
  (t) => [uniqueIndex('idx_client_idempotency').on(t.userId, t.idempotencyKey).where(sql`${t.idempotencyKey} is not null`)],
);

export const casbinRule = pgTable(
  'casbin_rule',
  {
    id: serial('id').primaryKey(),
    ptype: varchar('ptype').notNull(),
    v0: varchar('v0').notNull(),
    v1: varchar('v1').notNull(),
    v2: varchar('v2').notNull(),
    v3: varchar('v3').notNull(),
    v4: varchar('v4').notNull(),
    v5: varchar('v5').notNull(),
  },
  (t) => [
    unique('unique_key_sqlx_adapter').on(t.ptype, t.v0, t.v1, t.v2, t.v3, t.v4, t.v5),
  ],
);

export const deployment = pgTable(
  'deployment',
  {
    id: serial('id').primaryKey(),
    projectId: integer('project_id').notNull(),
    metadata: json('metadata').$type<JsonObject>().notNull(),
    deleted: boolean('deleted').default(false),
    status: varchar('status', { length: 32 }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
    deploymentHash: varchar('deployment_hash', { length: 64 })
      .notNull()
      .unique('deployment_deployment_hash_key'),
    lastSeenAt: timestamp('last_seen_at', { withTimezone: true }),
    userId: varchar('user_id', { length: 255 }),
    // Added for deploy progress (DESIGN "Deploy": every deployment has a deadline; webhooks report progress).
    deadlineAt: timestamp('deadline_at', { withTimezone: true }),
    progress: integer('progress'),
    message: text('message'),
    /** The caller's Idempotency-Key: a retried deploy (its answer lost) finds this deployment. */
    idempotencyKey: varchar('idempotency_key', { length: 128 }),
    /** The sequence number of the deployment's last event (deployment_event.seq); 0 before any. */
    eventSeq: integer('event_seq').notNull().default(0),
    /** Who carries the deployment out: `install-service` (jobs and webhooks) or `builtin` (the engine and the agent). */
    engine: varchar('engine', { length: 32 }).notNull().default('install-service'),
    /** The server the stack runs on (builtin engine). */
    serverId: integer('server_id'),
    /** The revision last applied and found healthy: what the server runs (builtin engine). */
    currentRevision: integer('current_revision'),
    /** The saved cloud whose token creates and deletes the deployment's server (builtin engine, htz/do). */
    cloudId: integer('cloud_id'),
    /** Where servers reach this service (the install command in a created server's user data is made from it). */
    publicOrigin: varchar('public_origin', { length: 255 }),
  },
  (t) => [
    // Fix §12.14: ON DELETE CASCADE, so deleting a project that has deployments works.
    foreignKey({ name: 'fk_project', columns: [t.projectId], foreignColumns: [project.id] }).onDelete(
      'cascade',
    ),
    index('idx_deployment_project_id').on(t.projectId),
    index('idx_deployment_hash').on(t.deploymentHash),
    index('idx_deployment_user_id').on(t.userId),
    uniqueIndex('idx_deployment_idempotency').on(t.projectId, t.idempotencyKey).where(sql`${t.idempotencyKey} is not null`),
  ],
);

export const cloud = pgTable(
  'cloud',
  {
    id: serial('id'),
    userId: varchar('user_id', { length: 50 }).notNull(),
    provider: varchar('provider', { length: 50 }).notNull(),
    // Fix §7 note / §12.17: text, each holds base64(nonce‖ciphertext‖tag) of one value (no nonce store;
    // long tokens fit).
    cloudToken: text('cloud_token'),
    cloudKey: text('cloud_key'),
    cloudSecret: text('cloud_secret'),
    saveToken: boolean('save_token').default(false),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'user_cloud_pkey', columns: [t.id] }),
    index('idx_deployment_user_cloud_user_id').on(t.userId),
  ],
);

export const server = pgTable(
  'server',
  {
    id: serial('id'),
    userId: varchar('user_id', { length: 50 }).notNull(),
    projectId: integer('project_id').notNull(),
    region: varchar('region', { length: 50 }),
    zone: varchar('zone', { length: 50 }),
    server: varchar('server', { length: 255 }),
    os: varchar('os', { length: 100 }),
    diskType: varchar('disk_type', { length: 100 }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
    srvIp: varchar('srv_ip', { length: 50 }),
    sshUser: varchar('ssh_user', { length: 50 }),
    sshPort: integer('ssh_port'),
    /** The cloud Stacker created this server in (`htz`, `do`); null for a server the user already had. */
    provider: varchar('provider', { length: 50 }),
    /** The provider's ID of the server, once the create answered (or the server was found by its deployment label). */
    providerServerId: varchar('provider_server_id', { length: 64 }),
    /** When Stacker deleted the server at the provider. */
    deletedAt: timestamp('deleted_at', { withTimezone: true }),
    /** When a failed deployment's server was kept (DEPLOY_KEEP_FAILED_SERVERS=on) instead of deleted. */
    keptAt: timestamp('kept_at', { withTimezone: true }),
    /** Why the last try to delete it failed (it is tried again). */
    deleteError: text('delete_error'),
    /** An OpenSSH public key the user gave for a server Stacker creates: cloud-init lets it log in (it is public; no password is ever kept). */
    sshPublicKey: text('ssh_public_key'),
  },
  (t) => [
    primaryKey({ name: 'user_server_pkey', columns: [t.id] }),
    foreignKey({ name: 'fk_server_project', columns: [t.projectId], foreignColumns: [project.id] })
      .onUpdate('cascade')
      .onDelete('cascade'),
    index('idx_server_user_id').on(t.userId),
    index('idx_server_project_id').on(t.projectId),
  ],
);

export const agreement = pgTable(
  'agreement',
  {
    id: serial('id').primaryKey(),
    name: varchar('name', { length: 255 }).notNull(),
    text: text('text').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('idx_agreement_name').on(t.name)],
);

export const userAgreement = pgTable(
  'user_agreement',
  {
    id: serial('id').primaryKey(),
    agrtId: integer('agrt_id').notNull(),
    userId: varchar('user_id', { length: 50 }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    foreignKey({ name: 'fk_agreement', columns: [t.agrtId], foreignColumns: [agreement.id] }),
    index('idx_user_agreement_user_id').on(t.userId),
    // Fix §7 (user_agreement note): a user accepts an agreement once; enforced by the database, not only in code.
    uniqueIndex('idx_user_agreement_user_id_agrt_id').on(t.userId, t.agrtId),
  ],
);

export const agents = pgTable(
  'agents',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    deploymentHash: varchar('deployment_hash', { length: 64 })
      .notNull()
      .unique('agents_deployment_hash_key'),
    capabilities: jsonb('capabilities').$type<string[]>().default([]),
    version: varchar('version', { length: 50 }),
    systemInfo: jsonb('system_info').$type<JsonObject>().default({}),
    lastHeartbeat: timestamp('last_heartbeat', { withTimezone: true }),
    status: varchar('status', { length: 50 }).default('offline'),
    createdAt: timestamp('created_at', { withTimezone: true }).defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).defaultNow(),
    // Fix §12.1/§12.5 (DESIGN "Agent tokens"): only a hex SHA-256 of the token is stored, compared in
    // constant time; the token itself is never stored. Nullable until a token is issued.
    tokenHash: varchar('token_hash', { length: 64 }),
    tokenRotatedAt: timestamp('token_rotated_at', { withTimezone: true }),
    // Rotation grace period: the previous token stays valid until previous_token_expires_at.
    previousTokenHash: varchar('previous_token_hash', { length: 64 }),
    previousTokenExpiresAt: timestamp('previous_token_expires_at', { withTimezone: true }),
  },
  (t) => [
    foreignKey({
      name: 'agents_deployment_hash_fkey',
      columns: [t.deploymentHash],
      foreignColumns: [deployment.deploymentHash],
    }).onDelete('cascade'),
    check('chk_agent_status', sql`${t.status} IN ('online', 'offline', 'degraded')`),
    index('idx_agents_deployment_hash').on(t.deploymentHash),
    index('idx_agents_status').on(t.status),
    index('idx_agents_last_heartbeat').on(t.lastHeartbeat),
  ],
);

export const auditLog = pgTable(
  'audit_log',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    agentId: uuid('agent_id'),
    deploymentHash: varchar('deployment_hash', { length: 64 }),
    action: varchar('action', { length: 100 }).notNull(),
    status: varchar('status', { length: 50 }),
    details: jsonb('details').$type<JsonObject>().default({}),
    ipAddress: inet('ip_address'),
    userAgent: text('user_agent'),
    // Fix §12.15: timestamptz NOT NULL (the reference's only tz-less timestamp).
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    foreignKey({
      name: 'audit_log_agent_id_fkey',
      columns: [t.agentId],
      foreignColumns: [agents.id],
    }).onDelete('set null'),
    index('idx_audit_log_agent_id').on(t.agentId),
    index('idx_audit_log_deployment_hash').on(t.deploymentHash),
    index('idx_audit_log_action').on(t.action),
    index('idx_audit_log_created_at').on(t.createdAt),
  ],
);

export const commands = pgTable(
  'commands',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    commandId: varchar('command_id', { length: 64 }).notNull().unique('commands_command_id_key'),
    deploymentHash: varchar('deployment_hash', { length: 64 }).notNull(),
    type: varchar('type', { length: 100 }).notNull(),
    status: varchar('status', { length: 50 }).notNull().default('queued'),
    priority: varchar('priority', { length: 20 }).notNull().default('normal'),
    parameters: jsonb('parameters').$type<JsonObject>().default({}),
    result: jsonb('result'),
    error: jsonb('error'),
    createdBy: varchar('created_by', { length: 255 }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    scheduledFor: timestamp('scheduled_for', { withTimezone: true }),
    sentAt: timestamp('sent_at', { withTimezone: true }),
    startedAt: timestamp('started_at', { withTimezone: true }),
    completedAt: timestamp('completed_at', { withTimezone: true }),
    timeoutSeconds: integer('timeout_seconds').default(300),
    metadata: jsonb('metadata').$type<JsonObject>().default({}),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
    // Delivery with leases (DESIGN "Agent long-poll"): a claimed command is `sent` until a report or
    // until its lease ends; then it is offered again (attempts counted) or ends `expired`.
    priorityRank: integer('priority_rank').notNull().default(1),
    attempts: integer('attempts').notNull().default(0),
    maxAttempts: integer('max_attempts').notNull().default(3),
    leaseExpiresAt: timestamp('lease_expires_at', { withTimezone: true }),
    idempotencyKey: varchar('idempotency_key', { length: 128 }),
  },
  (t) => [
    foreignKey({
      name: 'commands_deployment_hash_fkey',
      columns: [t.deploymentHash],
      foreignColumns: [deployment.deploymentHash],
    }).onDelete('cascade'),
    check(
      'chk_command_status',
      sql`${t.status} IN ('queued', 'sent', 'executing', 'completed', 'failed', 'cancelled', 'expired')`,
    ),
    check('chk_command_priority', sql`${t.priority} IN ('low', 'normal', 'high', 'critical')`),
    index('idx_commands_deployment_hash').on(t.deploymentHash),
    index('idx_commands_status').on(t.status),
    index('idx_commands_created_by').on(t.createdBy),
    index('idx_commands_created_at').on(t.createdAt),
    index('idx_commands_command_id').on(t.commandId),
    // The claim: the deployment's queued commands, highest priority first, then oldest.
    index('idx_commands_claim').on(t.deploymentHash, t.priorityRank.desc(), t.createdAt).where(sql`${t.status} = 'queued'`),
    index('idx_commands_lease').on(t.leaseExpiresAt).where(sql`${t.status} = 'sent'`),
    uniqueIndex('idx_commands_idempotency').on(t.deploymentHash, t.createdBy, t.idempotencyKey).where(sql`${t.idempotencyKey} is not null`),
  ],
);

// The last status each app reported through POST /api/v1/apps/status, for its owner to read.
export const appStatus = pgTable(
  'app_status',
  {
    deploymentHash: varchar('deployment_hash', { length: 64 }).notNull(),
    appCode: varchar('app_code', { length: 100 }).notNull(),
    status: varchar('status', { length: 32 }).notNull(),
    logs: jsonb('logs').$type<unknown[]>().notNull().default([]),
    reportedAt: timestamp('reported_at', { withTimezone: true }),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'app_status_pkey', columns: [t.deploymentHash, t.appCode] }),
    foreignKey({ name: 'fk_app_status_deployment', columns: [t.deploymentHash], foreignColumns: [deployment.deploymentHash] }).onDelete('cascade'),
  ],
);

// X-Request-Id values of signed agent requests seen in the last minutes: a repeat is a replay.
export const agentRequestId = pgTable(
  'agent_request_id',
  {
    agentId: uuid('agent_id').notNull(),
    requestId: varchar('request_id', { length: 128 }).notNull(),
    seenAt: timestamp('seen_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'agent_request_id_pkey', columns: [t.agentId, t.requestId] }),
    foreignKey({ name: 'fk_agent_request_id_agent', columns: [t.agentId], foreignColumns: [agents.id] }).onDelete('cascade'),
    index('idx_agent_request_id_seen_at').on(t.seenAt),
  ],
);

/**
 * Nonces of signed API-client requests (stacker-nonce), each refused a second time while its
 * timestamp is within the 300 s window; kept in Postgres so a restart forgets none. The cron deletes
 * rows past expires_at (the timestamp + 300 s: past it, the signature is refused for its age anyway).
 */
export const apiClientNonce = pgTable(
  'api_client_nonce',
  {
    clientId: integer('client_id').notNull(),
    nonce: varchar('nonce', { length: 64 }).notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    primaryKey({ name: 'api_client_nonce_pkey', columns: [t.clientId, t.nonce] }),
    foreignKey({ name: 'fk_api_client_nonce_client', columns: [t.clientId], foreignColumns: [client.id] }).onDelete('cascade'),
    index('idx_api_client_nonce_expires_at').on(t.expiresAt),
  ],
);

export const commandQueue = pgTable(
  'command_queue',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    commandId: varchar('command_id', { length: 64 }).notNull(),
    // No FK, as the reference.
    deploymentHash: varchar('deployment_hash', { length: 64 }).notNull(),
    priority: integer('priority').notNull().default(0),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    foreignKey({
      name: 'command_queue_command_id_fkey',
      columns: [t.commandId],
      foreignColumns: [commands.commandId],
    }).onDelete('cascade'),
    // priority DESC (= NULLS FIRST, the Postgres default), as the reference's index.
    index('idx_queue_deployment').on(t.deploymentHash, t.priority.desc().nullsFirst(), t.createdAt),
    index('idx_queue_command_id').on(t.commandId),
  ],
);

// Deploy jobs waiting to reach the install service (DESIGN "Deploy"): written in the same transaction as
// their deployment, published afterwards, republished by the cron until delivered. The job carries cloud
// credentials, so its body is sealed with SECURITY_KEY (base64 nonce‖ciphertext‖tag).
export const deployOutbox = pgTable(
  'deploy_outbox',
  {
    id: serial('id').primaryKey(),
    deploymentId: integer('deployment_id').notNull(),
    kind: varchar('kind', { length: 16 }).notNull(),
    deduplicationId: varchar('deduplication_id', { length: 128 }).notNull().unique('deploy_outbox_deduplication_id_key'),
    payloadSealed: text('payload_sealed').notNull(),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }).notNull().defaultNow(),
    publishedAt: timestamp('published_at', { withTimezone: true }),
    messageId: varchar('message_id', { length: 200 }),
    lastError: text('last_error'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    foreignKey({ name: 'fk_deploy_outbox_deployment', columns: [t.deploymentId], foreignColumns: [deployment.id] }).onDelete('cascade'),
    check('chk_deploy_outbox_kind', sql`${t.kind} in ('deploy', 'cancel')`),
    index('idx_deploy_outbox_pending').on(t.nextAttemptAt).where(sql`${t.publishedAt} is null`),
  ],
);

// Progress webhooks already applied, by message id: a redelivered webhook changes nothing.
export const webhookReceipt = pgTable(
  'webhook_receipt',
  {
    messageId: varchar('message_id', { length: 200 }).primaryKey(),
    deploymentId: integer('deployment_id').notNull(),
    receivedAt: timestamp('received_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    foreignKey({ name: 'fk_webhook_receipt_deployment', columns: [t.deploymentId], foreignColumns: [deployment.id] }).onDelete('cascade'),
  ],
);

/**
 * Dashboard sign-ins. The cookie carries a random token; only its SHA-256 is kept here, with who
 * signed in (as the provider's token said) and until when. Signing out deletes the row.
 */
export const dashboardSession = pgTable(
  'dashboard_session',
  {
    tokenHash: varchar('token_hash', { length: 64 }).primaryKey(),
    userId: varchar('user_id', { length: 50 }).notNull(),
    role: varchar('role', { length: 50 }).notNull(),
    email: text('email').notNull().default(''),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    /** The provider's access and refresh tokens, sealed with SECURITY_KEY: the session re-checks the user with them. */
    accessToken: text('access_token'),
    refreshToken: text('refresh_token'),
    /** When the provider last confirmed the user and role (dashboard-sessions.ts re-checks every few minutes). */
    checkedAt: timestamp('checked_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('idx_dashboard_session_expires').on(t.expiresAt)],
);

/**
 * What happened to a deployment, in order: status changes and progress from the install service,
 * the watchdog, a cancel, the agent and its commands, the apps' status. Never rewritten; `seq` counts
 * from 1 per deployment (deployment.event_seq holds the last), so a reader resumes after the last
 * one it saw.
 */
export const deploymentEvent = pgTable(
  'deployment_event',
  {
    deploymentId: integer('deployment_id').notNull(),
    seq: integer('seq').notNull(),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
    kind: varchar('kind', { length: 32 }).notNull(),
    status: varchar('status', { length: 32 }),
    progress: integer('progress'),
    message: text('message'),
    /** The service or step the event concerns, where the sender names one (an app code, a command id). */
    subject: varchar('subject', { length: 200 }),
  },
  (t) => [
    primaryKey({ name: 'deployment_event_pkey', columns: [t.deploymentId, t.seq] }),
    foreignKey({ name: 'deployment_event_deployment_fkey', columns: [t.deploymentId], foreignColumns: [deployment.id] }).onDelete('cascade'),
  ],
);

/**
 * What the built-in engine applied or will apply to a deployment's server: the compose (secrets as
 * `${NAME}`), the secret values sealed with SECURITY_KEY, and the services with their addresses.
 * Numbered per deployment from 1.
 */
export const deploymentRevision = pgTable(
  'deployment_revision',
  {
    deploymentId: integer('deployment_id').notNull(),
    revision: integer('revision').notNull(),
    compose: text('compose').notNull(),
    /** JSON object of the env_vars sent with deploy_app, AES-256-GCM sealed. */
    sealedEnv: text('sealed_env').notNull(),
    /** The services of the compose: [{name, ports: [published], domain}] */
    services: jsonb('services').$type<Array<{ name: string; ports: number[]; domain: string | null }>>().notNull(),
    /** pending (not applied yet), running (applied and healthy), failed, superseded (replaced by a later one). */
    status: varchar('status', { length: 16 }).notNull().default('pending'),
    message: text('message'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    appliedAt: timestamp('applied_at', { withTimezone: true }),
  },
  (t) => [
    primaryKey({ name: 'deployment_revision_pkey', columns: [t.deploymentId, t.revision] }),
    foreignKey({ name: 'deployment_revision_deployment_fkey', columns: [t.deploymentId], foreignColumns: [deployment.id] }).onDelete('cascade'),
    check('chk_revision_status', sql`${t.status} IN ('pending', 'running', 'failed', 'superseded')`),
  ],
);

/**
 * One run of the built-in engine on a deployment: a deploy, a redeploy, a rollback or a removal,
 * advanced step by step by the deployment's Durable Object. At most one runs per deployment.
 */
export const deploymentOperation = pgTable(
  'deployment_operation',
  {
    id: serial('id').primaryKey(),
    deploymentId: integer('deployment_id').notNull(),
    kind: varchar('kind', { length: 16 }).notNull(),
    /** The revision this operation applies (none for a removal). */
    revision: integer('revision'),
    /** agent, apply, health, rollback, remove, done */
    step: varchar('step', { length: 16 }).notNull(),
    /** The health check's attempt, from 1. */
    attempt: integer('attempt').notNull().default(0),
    stepStartedAt: timestamp('step_started_at', { withTimezone: true }).notNull().defaultNow(),
    stepDeadlineAt: timestamp('step_deadline_at', { withTimezone: true }),
    /** When the engine should look again if nothing wakes it sooner. */
    wakeAt: timestamp('wake_at', { withTimezone: true }),
    /** running, completed, failed, cancelled */
    status: varchar('status', { length: 16 }).notNull().default('running'),
    /** Why the operation failed, once it did (kept while it rolls back). */
    failure: text('failure'),
    /** The revision a failed update goes back to. */
    rollbackTo: integer('rollback_to'),
    createdBy: varchar('created_by', { length: 255 }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    endedAt: timestamp('ended_at', { withTimezone: true }),
  },
  (t) => [
    foreignKey({ name: 'deployment_operation_deployment_fkey', columns: [t.deploymentId], foreignColumns: [deployment.id] }).onDelete('cascade'),
    uniqueIndex('idx_operation_running').on(t.deploymentId).where(sql`${t.status} = 'running'`),
    index('idx_operation_wake').on(t.wakeAt).where(sql`${t.status} = 'running'`),
    check('chk_operation_kind', sql`${t.kind} IN ('deploy', 'redeploy', 'rollback', 'remove')`),
    check('chk_operation_status', sql`${t.status} IN ('running', 'completed', 'failed', 'cancelled')`),
  ],
);

/**
 * One-time secrets of install commands: the server that runs the command exchanges it, once and
 * before it expires, for its agent's credentials. Only a SHA-256 of the secret is the key; the
 * secret itself is sealed so that its owner can see the command again until it is used.
 */
export const agentEnrollment = pgTable(
  'agent_enrollment',
  {
    secretHash: varchar('secret_hash', { length: 64 }).primaryKey(),
    deploymentId: integer('deployment_id').notNull(),
    sealedSecret: text('sealed_secret').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    usedAt: timestamp('used_at', { withTimezone: true }),
    /** A newer command for the same deployment replaced this one. */
    replacedAt: timestamp('replaced_at', { withTimezone: true }),
  },
  (t) => [
    foreignKey({ name: 'agent_enrollment_deployment_fkey', columns: [t.deploymentId], foreignColumns: [deployment.id] }).onDelete('cascade'),
    index('idx_enrollment_deployment').on(t.deploymentId),
  ],
);

/** The catalog of apps the Stack Builder offers, seeded by a migration; admins may add more. */
export const catalogApp = pgTable('catalog_app', {
  id: serial('id').primaryKey(),
  code: varchar('code', { length: 50 }).notNull().unique(),
  name: varchar('name', { length: 50 }).notNull(),
  category: varchar('category', { length: 50 }).notNull(),
  description: text('description').notNull().default(''),
  /** Docker Hub repository, e.g. "nginx" or "grafana/grafana". */
  image: varchar('image', { length: 100 }).notNull(),
  tag: varchar('tag', { length: 100 }).notNull().default('latest'),
  /** [{host_port, container_port}] as the project form takes them. */
  ports: jsonb('ports').$type<Array<{ host_port: string; container_port: string }>>().notNull().default([]),
  /** [{key, value}] */
  environment: jsonb('environment').$type<Array<{ key: string; value: string }>>().notNull().default([]),
  /** [{host_path, container_path}] */
  volumes: jsonb('volumes').$type<Array<{ host_path: string | null; container_path: string }>>().notNull().default([]),
  /**
   * What makes the entry a template (services/templates.ts): what it provides and exports to apps that
   * depend on it, what it requires, its health check and command, and where its image is documented.
   */
  template: jsonb('template').$type<Record<string, unknown>>().notNull().default({}),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/**
 * A project's secrets (issue 28): generated passwords and keys its templates need, and values the user
 * marked secret or gave under a secret-looking key. The compose names them `${name}`; the value, sealed
 * with SECURITY_KEY as cloud keys are, reaches the server only as the deploy step's env_vars.
 */
export const projectSecret = pgTable(
  'project_secret',
  {
    id: serial('id').primaryKey(),
    projectId: integer('project_id').notNull(),
    name: varchar('name', { length: 100 }).notNull(),
    sealedValue: text('sealed_value').notNull(),
    /** Generated by Stacker (true) or given by the user (false). */
    generated: boolean('generated').notNull().default(true),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    foreignKey({ name: 'project_secret_project_fkey', columns: [t.projectId], foreignColumns: [project.id] }).onDelete('cascade'),
    unique('project_secret_project_name_key').on(t.projectId, t.name),
  ],
);

export type Product = typeof product.$inferSelect;
export type NewProduct = typeof product.$inferInsert;
export type Rating = typeof rating.$inferSelect;
export type NewRating = typeof rating.$inferInsert;
export type Project = typeof project.$inferSelect;
export type NewProject = typeof project.$inferInsert;
export type Client = typeof client.$inferSelect;
export type NewClient = typeof client.$inferInsert;
export type CasbinRule = typeof casbinRule.$inferSelect;
export type NewCasbinRule = typeof casbinRule.$inferInsert;
export type Deployment = typeof deployment.$inferSelect;
export type NewDeployment = typeof deployment.$inferInsert;
export type Cloud = typeof cloud.$inferSelect;
export type NewCloud = typeof cloud.$inferInsert;
export type Server = typeof server.$inferSelect;
export type NewServer = typeof server.$inferInsert;
export type Agreement = typeof agreement.$inferSelect;
export type NewAgreement = typeof agreement.$inferInsert;
export type UserAgreement = typeof userAgreement.$inferSelect;
export type NewUserAgreement = typeof userAgreement.$inferInsert;
export type Agent = typeof agents.$inferSelect;
export type NewAgent = typeof agents.$inferInsert;
export type AuditLog = typeof auditLog.$inferSelect;
export type NewAuditLog = typeof auditLog.$inferInsert;
export type Command = typeof commands.$inferSelect;
export type NewCommand = typeof commands.$inferInsert;
export type CommandQueueEntry = typeof commandQueue.$inferSelect;
export type NewCommandQueueEntry = typeof commandQueue.$inferInsert;
export type DeployOutboxEntry = typeof deployOutbox.$inferSelect;
export type WebhookReceipt = typeof webhookReceipt.$inferSelect;
export type AppStatus = typeof appStatus.$inferSelect;

export type DashboardSession = typeof dashboardSession.$inferSelect;
export type CatalogApp = typeof catalogApp.$inferSelect;
export type ProjectSecret = typeof projectSecret.$inferSelect;
export type DeploymentEvent = typeof deploymentEvent.$inferSelect;
export type DeploymentRevision = typeof deploymentRevision.$inferSelect;
export type DeploymentOperation = typeof deploymentOperation.$inferSelect;
export type AgentEnrollment = typeof agentEnrollment.$inferSelect;
