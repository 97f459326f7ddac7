// Projects: /project (the owner, and read-only for the owner's API clients) and /admin/project (admins).
import { createRoute, z } from '@hono/zod-openapi';
import { callerOwnerId, callerScope, currentUser } from '../http/caller.ts';
import { projectDeps } from '../http/deps.ts';
import { createRouter } from '../http/router.ts';
import { authErrorResponses, errorResponses, ErrorBodySchema, idempotencyKeyHeader, idParam, jsonContent, userSecurity } from '../http/openapi.ts';
import { composeImportSchema } from '../services/inputs/project-import.ts';
import { projectFormSchema } from '../services/inputs/projects.ts';
import { importProject } from '../services/project-import.ts';
import {
  createProject,
  deleteProject,
  listProjects,
  projectCompose,
  toProjectView,
  findProject,
  updateProject,
} from '../services/projects.ts';

const FieldNote = z.object({ path: z.string(), message: z.string() }).openapi('ProjectWarning');

const Project = z
  .object({
    id: z.number().int(),
    stack_id: z.string(),
    user_id: z.string(),
    name: z.string(),
    metadata: z.record(z.string(), z.unknown()).openapi({ description: 'The normalised form (credentials removed)' }),
    request_json: z.record(z.string(), z.unknown()).openapi({ description: 'The body as sent (credentials removed)' }),
    created_at: z.string(),
    updated_at: z.string(),
    warnings: z
      .array(FieldNote)
      .openapi({ description: 'What may not work as meant, at the field of the form: an environment value naming a host that is no service of the stack' }),
  })
  .openapi('Project');

const item = z.object({ message: z.string(), item: Project });
const list = z.object({ message: z.string(), list: z.array(Project) });
const compose = z.object({ message: z.string(), id: z.number().int(), item: z.string().openapi({ description: 'docker-compose YAML' }) });
const params = z.object({ id: idParam });
const body = { required: true, content: { 'application/json': { schema: projectFormSchema } } } as const;
const responses = { ...authErrorResponses, ...errorResponses };
const imageResponses = {
  ...responses,
  503: jsonContent(ErrorBodySchema, 'Docker Hub (or another dependency) is unavailable'),
};

const ImportNote = z
  .object({ service: z.string().optional(), field: z.string().optional(), message: z.string() })
  .openapi('ComposeImportNote', { description: 'Something of the compose file not carried over (build:, a local file mounted, container_name, ...)' });
const imported = z.object({
  message: z.string(),
  item: z
    .object({
      form: z.record(z.string(), z.unknown()).optional().openapi({ description: 'Without create: the project form (ProjectForm) to POST to /project, or edit first. With create it is not echoed: its secret values are kept apart' }),
      notes: z.array(ImportNote),
      warnings: z.array(FieldNote),
      project: Project.optional().openapi({ description: 'With create: true, the project created' }),
    })
    .openapi('ComposeImported'),
});

const tags = ['projects'];
const listRoute = createRoute({
  method: 'get', path: '/project', tags, summary: 'The caller’s projects', security: userSecurity,
  responses: { 200: jsonContent(list, 'Projects'), ...responses },
});
const createRouteDef = createRoute({
  method: 'post', path: '/project', tags, security: userSecurity,
  summary: 'Create a project from the project form (images are checked on Docker Hub)',
  request: { headers: idempotencyKeyHeader('The same key again (e.g. a retry after a lost answer) answers the project it created, 200, instead of creating another'), body },
  responses: { 201: jsonContent(item, 'Created'), 200: jsonContent(item, 'Already created with this Idempotency-Key'), ...imageResponses },
});
const importRouteDef = createRoute({
  method: 'post', path: '/project/import', tags, security: userSecurity,
  summary: 'Import a docker-compose.yml: the project form that keeps every service (name, image, ports, environment, volumes, networks, depends_on, healthcheck, command, entrypoint, user, working_dir, labels, restart, cap_add/cap_drop, ulimits, logging, extra_hosts), with notes naming what cannot be carried; create: true also creates the project (images checked on Docker Hub)',
  request: { headers: idempotencyKeyHeader('With create: the same key again answers the project it created, 200, instead of creating another'), body: { required: true, content: { 'application/json': { schema: composeImportSchema } } } },
  responses: { 200: jsonContent(imported, 'The form (and, with create, the project already created with this Idempotency-Key)'), 201: jsonContent(imported, 'Created'), ...imageResponses },
});
const getRoute = createRoute({
  method: 'get', path: '/project/{id}', tags, summary: 'One of the caller’s projects', security: userSecurity,
  request: { params }, responses: { 200: jsonContent(item, 'The project'), ...responses },
});
const updateRouteDef = createRoute({
  method: 'put', path: '/project/{id}', tags, security: userSecurity,
  summary: 'Replace a project’s form (images are checked on Docker Hub; Docker Hub passwords left out are kept)',
  request: { params, body }, responses: { 200: jsonContent(item, 'Updated'), ...imageResponses },
});
const deleteRouteDef = createRoute({
  method: 'delete', path: '/project/{id}', tags, security: userSecurity,
  summary: 'Delete a project with its deployments and servers',
  request: { params }, responses: { 200: jsonContent(z.object({ message: z.string() }), 'Deleted'), ...responses },
});
const composeRoute = createRoute({
  method: 'get', path: '/project/{id}/compose', tags, summary: 'The docker-compose of one of the caller’s projects', security: userSecurity,
  request: { params }, responses: { 200: jsonContent(compose, 'The compose YAML in item'), ...responses },
});
const adminListRoute = createRoute({
  method: 'get', path: '/admin/project/user/{user_id}', tags, summary: 'Admin: the projects of a user', security: userSecurity,
  request: { params: z.object({ user_id: z.string().min(1).max(50).regex(/^[\w.@-]+$/, 'must be a user id') }) },
  responses: { 200: jsonContent(list, 'Projects'), ...responses },
});
const adminComposeRoute = createRoute({
  method: 'get', path: '/admin/project/{id}/compose', tags, summary: 'Admin: the docker-compose of any project', security: userSecurity,
  request: { params }, responses: { 200: jsonContent(compose, 'The compose YAML in item'), ...responses },
});

export const projectRoutes = createRouter()
  .openapi(listRoute, async (c) => c.json({ message: 'OK', list: await listProjects(c.var.database.db, callerOwnerId(c)) }, 200))
  .openapi(createRouteDef, async (c) => {
    const form = c.req.valid('json');
    const idempotencyKey = c.req.valid('header')['idempotency-key'];
    const { project, created } = await createProject(projectDeps(c), currentUser(c).id, form, await c.req.json(), idempotencyKey);
    if (!created) return c.json({ message: 'Project already created with this Idempotency-Key', item: project }, 200);
    return c.json({ message: 'Created', item: project }, 201);
  })
  .openapi(importRouteDef, async (c) => {
    const { project, created, form, ...rest } = await importProject(projectDeps(c), currentUser(c).id, c.req.valid('json'), c.req.valid('header')['idempotency-key']);
    if (!project) return c.json({ message: 'OK', item: { form, ...rest } }, 200);
    // The project's view, not the form: the form still holds the values its secrets were made from.
    if (created) return c.json({ message: 'Created', item: { ...rest, project } }, 201);
    return c.json({ message: 'Project already created with this Idempotency-Key', item: { ...rest, project } }, 200);
  })
  .openapi(getRoute, async (c) =>
    c.json({ message: 'OK', item: toProjectView(await findProject(c.var.database.db, c.req.valid('param').id, callerScope(c))) }, 200),
  )
  .openapi(updateRouteDef, async (c) => {
    const form = c.req.valid('json');
    const updated = await updateProject(projectDeps(c), c.req.valid('param').id, callerScope(c), form, await c.req.json());
    return c.json({ message: 'Updated', item: updated }, 200);
  })
  .openapi(deleteRouteDef, async (c) => {
    await deleteProject(c.var.database.db, c.req.valid('param').id, callerScope(c));
    return c.json({ message: 'Deleted' }, 200);
  })
  .openapi(composeRoute, async (c) => {
    const { projectId, yaml } = await projectCompose(c.var.database.db, c.req.valid('param').id, callerScope(c));
    return c.json({ message: 'OK', id: projectId, item: yaml }, 200);
  })
  .openapi(adminListRoute, async (c) => c.json({ message: 'OK', list: await listProjects(c.var.database.db, c.req.valid('param').user_id) }, 200))
  .openapi(adminComposeRoute, async (c) => {
    const { projectId, yaml } = await projectCompose(c.var.database.db, c.req.valid('param').id, { admin: true });
    return c.json({ message: 'OK', id: projectId, item: yaml }, 200);
  });
