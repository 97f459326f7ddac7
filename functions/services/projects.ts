// Projects: a user's stack (apps, services, features, networks) and the compose generated from it.
import { and, desc, eq, ilike, or, sql } from 'drizzle-orm';
import { databaseErrorCode, type AnyDatabase } from '../../db/client.ts';
import { project, type Project } from '../../db/schema.ts';
import { ApiError, notFound } from '../errors.ts';
import { buildCompose, ComposeError, dockerImageString } from './compose.ts';
import { formPathOf, projectWarnings, specProblems } from './compose-check.ts';
import { verifyImages, type DockerHubDeps, type ImageToCheck } from './dockerhub.ts';
import type { ProjectForm } from './inputs/projects.ts';
import { listApps, normaliseProjectForm, redactProjectSecrets, type ProjectMetadata } from './project-form.ts';
import { openDockerHubPasswords, sealDockerHubPasswords, withoutDockerHubPasswords } from './dockerhub-passwords.ts';
import { keepProjectSecrets, separateSecrets } from './project-secrets.ts';
import { withinScope, type Scope } from './scope.ts';

export interface ProjectDeps {
  db: AnyDatabase;
  dockerHub: DockerHubDeps;
  /** SECURITY_KEY, which seals the project's secrets (project-secrets.ts). */
  securityKey?: Uint8Array;
}

export interface ProjectView {
  id: number;
  stack_id: string;
  user_id: string;
  name: string;
  metadata: Record<string, unknown>;
  request_json: Record<string, unknown>;
  created_at: string;
  updated_at: string;
  /** What may not work as meant, at the field (an environment value naming a host that is no service). */
  warnings: Array<{ path: string; message: string }>;
}

/** What responses show: the row, with every credential taken out of metadata and request_json. */
export function toProjectView(row: Project): ProjectView {
  return {
    id: row.id,
    stack_id: row.stackId,
    user_id: row.userId,
    name: row.name,
    metadata: redactProjectSecrets(row.metadata),
    request_json: redactProjectSecrets(row.requestJson ?? {}),
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
    warnings: projectWarnings(row.metadata as never),
  };
}

/** The images of a project as Docker Hub checks take them, each with where it was named. */
export function imagesOf(metadata: Pick<ProjectMetadata, 'custom'>): ImageToCheck[] {
  return listApps(metadata as never).map((app) => ({
    path: `custom.${app.list}.${app.index}`,
    service: app.code,
    image: dockerImageString({ dockerhub_user: app.dockerhubUser, dockerhub_name: app.dockerhubName, dockerhub_image: app.dockerhubImage }),
    username: app.dockerhubUser,
    password: app.dockerhubPassword,
  }));
}

/**
 * Responses never show Docker Hub passwords, so a client that reads a project and writes it back
 * sends none: an app that comes back without one keeps the one stored for the same app.
 */
function keepStoredPasswords(next: ProjectMetadata, stored: Record<string, unknown>): ProjectMetadata {
  const previous = new Map(listApps(stored as never).map((app) => [`${app.list}:${app.id}`, app.dockerhubPassword]));
  for (const list of ['web', 'service', 'feature'] as const) {
    for (const app of next.custom[list] ?? []) {
      const kept = previous.get(`${list}:${app._id}`);
      if ((app.dockerhub_password === null || app.dockerhub_password === undefined) && kept) app.dockerhub_password = kept;
    }
  }
  return next;
}

/** The compose the metadata makes, checked against the compose specification (compose-check.ts): 400 at the field. */
function checkComposes(metadata: ProjectMetadata): void {
  let document;
  try {
    document = buildCompose(metadata).document;
  } catch (error) {
    if (error instanceof ComposeError) throw new ApiError(400, error.message, { errors: [{ path: error.path, message: error.message }] });
    throw error;
  }
  const problems = specProblems(document);
  if (problems.length > 0) {
    const errors = problems.map((problem) => ({ path: formPathOf(metadata, problem), message: problem.service && !problem.message.includes(`"${problem.service}"`) ? `service "${problem.service}": ${problem.path}: ${problem.message}` : problem.message }));
    throw new ApiError(400, `The compose would not be valid: ${errors.map((e) => e.message).join('; ')}`, { errors });
  }
}

/**
 * Creates a project. With an Idempotency-Key, the same key from the same owner again answers the
 * project it created (`created: false`) instead of creating another: a retry after a lost answer.
 */
export async function createProject(
  deps: ProjectDeps,
  ownerId: string,
  form: ProjectForm,
  rawBody: unknown,
  idempotencyKey?: string,
): Promise<{ project: ProjectView; created: boolean }> {
  const earlier = async () => {
    if (idempotencyKey === undefined) return undefined;
    const [found] = await deps.db
      .select()
      .from(project)
      .where(and(eq(project.userId, ownerId), eq(project.idempotencyKey, idempotencyKey)))
      .limit(1);
    return found && { project: toProjectView(found), created: false };
  };
  const already = await earlier();
  if (already) return already;

  const metadata = await sealDockerHubPasswords(normaliseProjectForm(form), deps.securityKey, 'given');
  // Secret values leave the form for the project's sealed secrets; the form keeps `${NAME}`.
  const secrets = separateSecrets(metadata as never, rawBody as never);
  checkComposes(metadata);
  await verifyImages(deps.dockerHub, imagesOf(await openDockerHubPasswords(metadata, deps.securityKey)));
  if (secrets.given.size + secrets.referenced.size > 0 && !deps.securityKey) throw new ApiError(503, "SECURITY_KEY is not set: Stacker cannot keep this project's secrets");
  try {
    const [row] = await deps.db
      .insert(project)
      .values({
        stackId: crypto.randomUUID(),
        userId: ownerId,
        name: metadata.custom.custom_stack_code,
        metadata: metadata as unknown as Record<string, unknown>,
        requestJson: withoutDockerHubPasswords(rawBody),
        idempotencyKey: idempotencyKey ?? null,
      })
      .returning();
    await keepProjectSecrets({ db: deps.db, securityKey: deps.securityKey }, row!.id, secrets.given, secrets.referenced);
    return { project: toProjectView(row!), created: true };
  } catch (error) {
    // The same key sent twice at once: the second insert meets the first's unique index.
    const winner = databaseErrorCode(error) === '23505' ? await earlier() : undefined;
    if (winner) return winner;
    throw error;
  }
}

export async function findProject(db: AnyDatabase, id: number, scope: Scope): Promise<Project> {
  const [row] = await db
    .select()
    .from(project)
    .where(and(eq(project.id, id), withinScope(project.userId, scope)))
    .limit(1);
  if (!row) throw notFound('Project not found');
  return row;
}

export async function updateProject(deps: ProjectDeps, id: number, scope: Scope, form: ProjectForm, rawBody: unknown): Promise<ProjectView> {
  const stored = await findProject(deps.db, id, scope);
  const given = await sealDockerHubPasswords(normaliseProjectForm(form), deps.securityKey, 'given');
  // Kept ones are sealed already, or (stored by an earlier version) in clear: sealed now.
  const metadata = await sealDockerHubPasswords(keepStoredPasswords(given, stored.metadata), deps.securityKey, 'stored');
  const secrets = separateSecrets(metadata as never, rawBody as never, stored.metadata);
  checkComposes(metadata);
  await verifyImages(deps.dockerHub, imagesOf(await openDockerHubPasswords(metadata, deps.securityKey)));
  await keepProjectSecrets({ db: deps.db, securityKey: deps.securityKey }, stored.id, secrets.given, secrets.referenced);
  const [row] = await deps.db
    .update(project)
    .set({
      name: metadata.custom.custom_stack_code,
      metadata: metadata as unknown as Record<string, unknown>,
      requestJson: withoutDockerHubPasswords(rawBody),
      updatedAt: sql`now()`,
    })
    .where(and(eq(project.id, id), withinScope(project.userId, scope)))
    .returning();
  if (!row) throw notFound('Project not found');
  return toProjectView(row);
}

export async function listProjects(db: AnyDatabase, ownerId: string): Promise<ProjectView[]> {
  const rows = await db.select().from(project).where(eq(project.userId, ownerId)).orderBy(desc(project.id));
  return rows.map(toProjectView);
}

/**
 * Projects whose name contains `search` (any case), newest first: one owner's (`ownerId`), or every
 * user's (admins), where the owner's id matches too. An empty search keeps them all.
 */
export async function searchProjects(db: AnyDatabase, request: { ownerId?: string; search: string; limit?: number }): Promise<ProjectView[]> {
  const pattern = `%${request.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const matches = request.search === '' ? undefined : request.ownerId === undefined ? or(ilike(project.name, pattern), ilike(project.userId, pattern)) : ilike(project.name, pattern);
  const query = db
    .select()
    .from(project)
    .where(and(request.ownerId === undefined ? undefined : eq(project.userId, request.ownerId), matches))
    .orderBy(desc(project.id));
  const rows = await (request.limit === undefined ? query : query.limit(request.limit));
  return rows.map(toProjectView);
}

/** Deleting a project deletes its deployments, servers, agents and commands with it. */
export async function deleteProject(db: AnyDatabase, id: number, scope: Scope): Promise<void> {
  const deleted = await db
    .delete(project)
    .where(and(eq(project.id, id), withinScope(project.userId, scope)))
    .returning({ id: project.id });
  if (deleted.length === 0) throw notFound('Project not found');
}

/** The docker-compose YAML of a project; nothing is written anywhere. */
export async function projectCompose(db: AnyDatabase, id: number, scope: Scope): Promise<{ projectId: number; yaml: string }> {
  const row = await findProject(db, id, scope);
  return { projectId: row.id, yaml: composeOfStored(row.metadata) };
}

/** The compose of stored metadata; rows written before validation existed may not make one (422). */
export function composeOfStored(metadata: unknown): string {
  const custom = (metadata as { custom?: { web?: unknown } } | null)?.custom;
  if (!custom || typeof custom !== 'object' || !Array.isArray(custom.web)) {
    throw new ApiError(422, 'Stored project has no apps (metadata.custom.web is missing)');
  }
  try {
    const { yaml, document } = buildCompose(metadata as never);
    const problems = specProblems(document);
    if (problems.length > 0) throw new ApiError(422, `Stored project cannot become a valid compose file: ${problems.map((p) => p.message).join('; ')}`);
    return yaml;
  } catch (error) {
    if (error instanceof ComposeError) throw new ApiError(422, `Stored project cannot become a compose file: ${error.message}`);
    throw error;
  }
}
