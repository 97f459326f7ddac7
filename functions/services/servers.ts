// Servers: created by deploys (or added by hand from the dashboard), read and edited by their owner.
import { and, desc, eq, sql } from 'drizzle-orm';
import type { AnyDatabase } from '../../db/client.ts';
import { project, server, type Server } from '../../db/schema.ts';
import { badRequest, notFound } from '../errors.ts';
import { withinScope, type Scope } from './scope.ts';

export interface ServerInput {
  region?: string | null;
  zone?: string | null;
  server?: string | null;
  os?: string | null;
  disk_type?: string | null;
  srv_ip?: string | null;
  ssh_port?: number | null;
  ssh_user?: string | null;
  /** A server Stacker creates: the OpenSSH public key cloud-init lets log in. */
  ssh_public_key?: string | null;
}

export interface ServerView {
  id: number;
  user_id: string;
  project_id: number;
  region: string | null;
  zone: string | null;
  server: string | null;
  os: string | null;
  disk_type: string | null;
  created_at: string;
  updated_at: string;
  srv_ip: string | null;
  ssh_port: number | null;
  ssh_user: string | null;
}

export function toServerView(row: Server): ServerView {
  return {
    id: row.id,
    user_id: row.userId,
    project_id: row.projectId,
    region: row.region,
    zone: row.zone,
    server: row.server,
    os: row.os,
    disk_type: row.diskType,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
    srv_ip: row.srvIp,
    ssh_port: row.sshPort,
    ssh_user: row.sshUser,
  };
}

export async function listServers(db: AnyDatabase, ownerId: string): Promise<ServerView[]> {
  const rows = await db.select().from(server).where(eq(server.userId, ownerId)).orderBy(desc(server.id));
  return rows.map(toServerView);
}

export async function getServer(db: AnyDatabase, id: number, scope: Scope): Promise<ServerView> {
  const [row] = await db
    .select()
    .from(server)
    .where(and(eq(server.id, id), withinScope(server.userId, scope)))
    .limit(1);
  if (!row) throw notFound('Server not found');
  return toServerView(row);
}

/** The eight editable fields as columns; a field left out is cleared. */
function columnsOf(input: ServerInput) {
  return {
    region: input.region ?? null,
    zone: input.zone ?? null,
    server: input.server ?? null,
    os: input.os ?? null,
    diskType: input.disk_type ?? null,
    srvIp: input.srv_ip ?? null,
    sshPort: input.ssh_port ?? null,
    sshUser: input.ssh_user ?? null,
  };
}

/** Replaces the eight editable fields (left out = cleared); owner and project stay. */
export async function updateServer(db: AnyDatabase, id: number, scope: Scope, input: ServerInput): Promise<ServerView> {
  const [row] = await db
    .update(server)
    .set({
      ...columnsOf(input),
      updatedAt: sql`now()`,
    })
    .where(and(eq(server.id, id), withinScope(server.userId, scope)))
    .returning();
  if (!row) throw notFound('Server not found');
  return toServerView(row);
}

export async function deleteServer(db: AnyDatabase, id: number, scope: Scope): Promise<void> {
  const deleted = await db
    .delete(server)
    .where(and(eq(server.id, id), withinScope(server.userId, scope)))
    .returning({ id: server.id });
  if (deleted.length === 0) throw notFound('Server not found');
}

/**
 * A server the owner records by hand (deploys create theirs). It belongs to one of the owner's projects,
 * and a project has one server, the one its deploys reuse: another project, or a project that has one
 * already, is refused with a 400 naming `project_id`.
 */
export async function createServer(db: AnyDatabase, ownerId: string, projectId: number, input: ServerInput): Promise<ServerView> {
  return db.transaction(async (tx) => {
    // Locks the project so that two adds to it cannot both see it without a server.
    const [owned] = await tx
      .select({ id: project.id })
      .from(project)
      .where(and(eq(project.id, projectId), eq(project.userId, ownerId)))
      .limit(1)
      .for('update');
    if (!owned) throw badRequest('The project is not one of yours', [{ path: 'project_id', message: 'choose one of your projects' }]);
    const [existing] = await tx.select({ id: server.id }).from(server).where(eq(server.projectId, projectId)).limit(1);
    if (existing) {
      throw badRequest('The project has a server already', [{ path: 'project_id', message: 'this project has a server already: edit that one instead' }]);
    }
    const [row] = await tx
      .insert(server)
      .values({
        userId: ownerId,
        projectId,
        ...columnsOf(input),
      })
      .returning();
    return toServerView(row!);
  });
}
