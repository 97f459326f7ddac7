// API clients (HMAC): a user's integrations sign requests with a secret only they were shown.
import { and, asc, count, desc, eq, sql } from 'drizzle-orm';
import type { AnyDatabase } from '../../db/client.ts';
import { client, type Client } from '../../db/schema.ts';
import { ApiError, conflict, notFound } from '../errors.ts';
import { decryptSecret, encryptSecret, randomToken } from './crypto.ts';
import { withinScope, type Scope } from './scope.ts';

export interface ApiClientDeps {
  db: AnyDatabase;
  /** SECURITY_KEY: secrets are stored encrypted, since verifying an HMAC needs the secret itself. */
  securityKey: Uint8Array;
  maxClientsPerUser: number;
}


export interface ApiClientView {
  id: number;
  user_id: string;
  enabled: boolean;
  created_at: string;
  updated_at: string;
}

export interface ApiClientWithSecret extends ApiClientView {
  /** Shown once: in the response that creates or renews it. */
  secret: string;
}

export function toView(row: Client): ApiClientView {
  return {
    id: row.id,
    user_id: row.userId,
    enabled: row.secret !== null,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

/**
 * Creates an API client and returns it with its secret. With an Idempotency-Key, the same key from
 * the same user again answers that client (`created: false`), with its current secret: the caller of
 * a retry after a lost answer never saw it. A client disabled since is a 409.
 */
export async function createApiClient(
  deps: ApiClientDeps,
  userId: string,
  idempotencyKey?: string,
): Promise<{ client: ApiClientWithSecret; created: boolean }> {
  const secret = randomToken(48);
  const sealed = await encryptSecret(deps.securityKey, secret);
  const { row, created } = await deps.db.transaction(async (tx) => {
    // Serialise creations per user so two at once cannot pass the limit (or both miss a key) together.
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`client:${userId}`}))`);
    if (idempotencyKey !== undefined) {
      const [earlier] = await tx
        .select()
        .from(client)
        .where(and(eq(client.userId, userId), eq(client.idempotencyKey, idempotencyKey)))
        .limit(1);
      if (earlier) return { row: earlier, created: false };
    }
    const [existing] = await tx.select({ n: count() }).from(client).where(eq(client.userId, userId));
    if ((existing?.n ?? 0) >= deps.maxClientsPerUser) {
      throw new ApiError(409, `Too many API clients: at most ${deps.maxClientsPerUser} per user`);
    }
    const [inserted] = await tx.insert(client).values({ userId, secret: sealed, idempotencyKey: idempotencyKey ?? null }).returning();
    return { row: inserted!, created: true };
  });
  if (created) return { client: { ...toView(row), secret }, created };
  if (row.secret === null) throw conflict('API client created with this Idempotency-Key is disabled');
  return { client: { ...toView(row), secret: await decryptSecret(deps.securityKey, row.secret) }, created };
}

/** A user's clients, oldest first: views only, never a secret. */
export async function listApiClients(db: AnyDatabase, userId: string): Promise<ApiClientView[]> {
  const rows = await db.select().from(client).where(eq(client.userId, userId)).orderBy(asc(client.id));
  return rows.map(toView);
}

/** Every user's clients (admins), newest first, or one owner's with `ownerId`: views only, never a secret. */
export async function listAllApiClients(db: AnyDatabase, ownerId?: string, limit = 500): Promise<ApiClientView[]> {
  const rows = await db
    .select()
    .from(client)
    .where(ownerId === undefined ? undefined : eq(client.userId, ownerId))
    .orderBy(desc(client.id))
    .limit(limit);
  return rows.map(toView);
}

async function findInScope(deps: ApiClientDeps, id: number, scope: Scope): Promise<Client> {
  const [row] = await deps.db
    .select()
    .from(client)
    .where(and(eq(client.id, id), withinScope(client.userId, scope)))
    .limit(1);
  // Another user's client is reported exactly like a missing one.
  if (!row) throw notFound('API client not found');
  return row;
}

/** What authentication needs of a client: whose it is and its sealed secret (null: disabled). */
export interface ClientCredentials {
  id: number;
  userId: string;
  secret: string | null;
}

/**
 * How long an isolate answers HMAC requests from a client's row before reading it again. A renewal or
 * disable made through this isolate takes effect at once (it forgets the row); one made in another
 * isolate, or behind the Worker's back (SQL, the console), within this bound.
 */
export const CLIENT_ROW_TTL_MS = 5_000;
const MAX_REMEMBERED_CLIENTS = 1_000;
const rememberedClients = new Map<number, { row: ClientCredentials; readAt: number }>();

/** The client's credentials, from this isolate's memory while younger than CLIENT_ROW_TTL_MS. Unknown ids are never remembered. */
export async function clientCredentials(db: AnyDatabase, id: number, now = Date.now()): Promise<ClientCredentials | undefined> {
  const remembered = rememberedClients.get(id);
  if (remembered && now - remembered.readAt < CLIENT_ROW_TTL_MS) return remembered.row;
  const [row] = await db.select({ id: client.id, userId: client.userId, secret: client.secret }).from(client).where(eq(client.id, id)).limit(1);
  rememberedClients.delete(id);
  if (!row) return undefined;
  if (rememberedClients.size >= MAX_REMEMBERED_CLIENTS) rememberedClients.delete(rememberedClients.keys().next().value!);
  rememberedClients.set(id, { row, readAt: now });
  return row;
}

function forgetClientCredentials(id: number): void {
  rememberedClients.delete(id);
}

async function storeNewSecret(deps: ApiClientDeps, id: number, whenEnabled: boolean): Promise<ApiClientWithSecret> {
  const secret = randomToken(48);
  const sealed = await encryptSecret(deps.securityKey, secret);
  const [row] = await deps.db
    .update(client)
    .set({ secret: sealed, updatedAt: sql`now()` })
    .where(and(eq(client.id, id), whenEnabled ? sql`${client.secret} is not null` : sql`${client.secret} is null`))
    .returning();
  forgetClientCredentials(id);
  if (!row) throw conflict(whenEnabled ? 'API client is not active' : 'API client is already active');
  return { ...toView(row), secret };
}

/** A new secret for an active client; the old one stops working at once. */
export async function renewApiClientSecret(deps: ApiClientDeps, id: number, scope: Scope): Promise<ApiClientWithSecret> {
  const row = await findInScope(deps, id, scope);
  if (row.secret === null) throw conflict('API client is not active');
  return storeNewSecret(deps, id, true);
}

export async function enableApiClient(deps: ApiClientDeps, id: number, scope: Scope): Promise<ApiClientWithSecret> {
  const row = await findInScope(deps, id, scope);
  if (row.secret !== null) throw conflict('API client is already active');
  return storeNewSecret(deps, id, false);
}

export async function disableApiClient(deps: ApiClientDeps, id: number, scope: Scope): Promise<ApiClientView> {
  const row = await findInScope(deps, id, scope);
  if (row.secret === null) throw conflict('API client is not active');
  const [updated] = await deps.db
    .update(client)
    .set({ secret: null, updatedAt: sql`now()` })
    .where(eq(client.id, id))
    .returning();
  forgetClientCredentials(id);
  return toView(updated!);
}
