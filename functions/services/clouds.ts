// Cloud provider credentials: encrypted at rest (AES-256-GCM, nonce stored with each value), shown
// only masked, owned by the user who saved them.
import { and, desc, eq, sql } from 'drizzle-orm';
import type { AnyDatabase } from '../../db/client.ts';
import { cloud, type Cloud } from '../../db/schema.ts';
import { notFound } from '../errors.ts';
import { decryptSecret, encryptSecret } from './crypto.ts';
import { withinScope, type Scope } from './scope.ts';

export interface CloudDeps {
  db: AnyDatabase;
  securityKey: Uint8Array;
}

export interface CloudInput {
  provider: string;
  cloud_token?: string | null;
  cloud_key?: string | null;
  cloud_secret?: string | null;
  save_token?: boolean | null;
}

export interface CloudView {
  id: number;
  user_id: string;
  provider: string;
  cloud_token: string | null;
  cloud_key: string | null;
  cloud_secret: string | null;
  save_token: boolean;
  created_at: string;
  updated_at: string;
}

export interface CloudCredentials {
  provider: string;
  cloudToken: string | null;
  cloudKey: string | null;
  cloudSecret: string | null;
}

export type CloudCredential = 'cloud_token' | 'cloud_key' | 'cloud_secret';

/**
 * The providers the cloud key form offers, and the credentials each one needs. The API takes any code of
 * 2 to 50 characters (the install service routes codes containing "own" to an own server, every other to
 * a cloud); these are the ones the dashboard knows how to ask for.
 */
export const CLOUD_PROVIDERS: ReadonlyArray<{ code: string; label: string; needs: readonly CloudCredential[] }> = [
  { code: 'htz', label: 'Hetzner Cloud', needs: ['cloud_token'] },
  { code: 'do', label: 'DigitalOcean', needs: ['cloud_token'] },
  { code: 'lo', label: 'Linode', needs: ['cloud_token'] },
  { code: 'vu', label: 'Vultr', needs: ['cloud_token'] },
  { code: 'aws', label: 'Amazon Web Services', needs: ['cloud_key', 'cloud_secret'] },
  { code: 'own', label: 'Own server (no cloud credentials)', needs: [] },
];

export const cloudProviderOf = (code: string) => CLOUD_PROVIDERS.find((p) => p.code === code);

const MASK = '****';

/** Enough of a secret to recognise it, never enough to use it: 4 characters of a long one, none of a short one. */
export function maskSecret(plain: string): string {
  return plain.length >= 12 ? `${plain.slice(0, 4)}${MASK}` : MASK;
}

async function seal(key: Uint8Array, value: string | null | undefined): Promise<string | null> {
  return value === null || value === undefined || value === '' ? null : encryptSecret(key, value);
}

async function open(key: Uint8Array, stored: string | null): Promise<string | null> {
  return stored === null ? null : decryptSecret(key, stored);
}

async function toView(deps: CloudDeps, row: Cloud): Promise<CloudView> {
  const masked = async (stored: string | null) => {
    const plain = await open(deps.securityKey, stored);
    return plain === null ? null : maskSecret(plain);
  };
  return {
    id: row.id,
    user_id: row.userId,
    provider: row.provider,
    cloud_token: await masked(row.cloudToken),
    cloud_key: await masked(row.cloudKey),
    cloud_secret: await masked(row.cloudSecret),
    save_token: row.saveToken ?? false,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

async function sealedColumns(deps: CloudDeps, input: CloudInput) {
  return {
    provider: input.provider,
    cloudToken: await seal(deps.securityKey, input.cloud_token),
    cloudKey: await seal(deps.securityKey, input.cloud_key),
    cloudSecret: await seal(deps.securityKey, input.cloud_secret),
    saveToken: input.save_token ?? false,
  };
}

export async function createCloud(deps: CloudDeps, ownerId: string, input: CloudInput): Promise<CloudView> {
  const [row] = await deps.db
    .insert(cloud)
    .values({ userId: ownerId, ...(await sealedColumns(deps, input)) })
    .returning();
  return toView(deps, row!);
}

export async function listClouds(deps: CloudDeps, ownerId: string): Promise<CloudView[]> {
  const rows = await deps.db.select().from(cloud).where(eq(cloud.userId, ownerId)).orderBy(desc(cloud.id));
  return Promise.all(rows.map((row) => toView(deps, row)));
}

async function findCloud(deps: CloudDeps, id: number, scope: Scope): Promise<Cloud> {
  const [row] = await deps.db
    .select()
    .from(cloud)
    .where(and(eq(cloud.id, id), withinScope(cloud.userId, scope)))
    .limit(1);
  if (!row) throw notFound('Cloud not found');
  return row;
}

export async function getCloud(deps: CloudDeps, id: number, scope: Scope): Promise<CloudView> {
  return toView(deps, await findCloud(deps, id, scope));
}

/** Replaces the cloud's provider, credentials and save_token (credentials left out are cleared). */
export async function updateCloud(deps: CloudDeps, id: number, scope: Scope, input: CloudInput): Promise<CloudView> {
  const columns = await sealedColumns(deps, input);
  const [row] = await deps.db
    .update(cloud)
    .set({ ...columns, updatedAt: sql`now()` })
    .where(and(eq(cloud.id, id), withinScope(cloud.userId, scope)))
    .returning();
  if (!row) throw notFound('Cloud not found');
  return toView(deps, row);
}

export async function deleteCloud(deps: CloudDeps, id: number, scope: Scope): Promise<void> {
  const deleted = await deps.db
    .delete(cloud)
    .where(and(eq(cloud.id, id), withinScope(cloud.userId, scope)))
    .returning({ id: cloud.id });
  if (deleted.length === 0) throw notFound('Cloud not found');
}

/** The credentials in clear, for the deploy job only (never for a response). */
export async function cloudCredentials(deps: CloudDeps, id: number, scope: Scope): Promise<CloudCredentials> {
  const row = await findCloud(deps, id, scope);
  return {
    provider: row.provider,
    cloudToken: await open(deps.securityKey, row.cloudToken),
    cloudKey: await open(deps.securityKey, row.cloudKey),
    cloudSecret: await open(deps.securityKey, row.cloudSecret),
  };
}
