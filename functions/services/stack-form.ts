// The builder's edits of a project form: the same JSON the API's POST /project takes (custom.web,
// custom.service, custom.feature, custom.networks), changed one step at a time and saved through the
// project service, so a stack built in the page and one posted as JSON are the same thing.
import type { Project } from '../../db/schema.ts';
import { ApiError, notFound } from '../errors.ts';
import { dockerImageString } from './compose.ts';
import { projectFormSchema } from './inputs/projects.ts';
import { trimDashes } from './inputs/text.ts';
import { findProject, updateProject, type ProjectDeps, type ProjectView } from './projects.ts';
import type { Scope } from './scope.ts';
import { listOfCategory, planTemplate, TemplateError, type PlannedService, type StackService, type TemplateEntry, type TemplatePlan } from './templates.ts';

export const APP_LISTS = ['web', 'service', 'feature'] as const;
export type AppListName = (typeof APP_LISTS)[number];

export type RawApp = Record<string, unknown>;
export interface RawForm {
  custom: Record<string, unknown> & { custom_stack_code?: unknown; networks?: unknown };
  [key: string]: unknown;
}

export interface StackApp {
  list: AppListName;
  index: number;
  app: RawApp;
}

export const RESTART_POLICIES = ['unless-stopped', 'always', 'on-failure', 'no'] as const;

/** The project and a copy of its form, to edit (a project the scope does not reach is 404). */
export async function loadStackForm(db: ProjectDeps['db'], projectId: number, scope: Scope): Promise<{ row: Project; form: RawForm }> {
  const row = await findProject(db, projectId, scope);
  return { row, form: editableForm(row) };
}

/** Saves an edited form as PUT /project/{id} does: the same schema, the same service. */
export function saveStackForm(deps: ProjectDeps, projectId: number, scope: Scope, form: RawForm): Promise<ProjectView> {
  return updateProject(deps, projectId, scope, projectFormSchema.parse(form), form);
}

/** A copy of the form the project was saved from, to edit. */
export function editableForm(row: Project): RawForm {
  const form = structuredClone(row.requestJson ?? {}) as Partial<RawForm>;
  if (!form.custom || typeof form.custom !== 'object' || !Array.isArray(form.custom.web)) {
    throw new ApiError(422, 'This project was stored without a stack form (custom.web); edit it through the API');
  }
  return form as RawForm;
}

export function appsOf(form: RawForm): StackApp[] {
  return APP_LISTS.flatMap((list) => {
    const apps = form.custom[list];
    return Array.isArray(apps) ? (apps as RawApp[]).map((app, index) => ({ list, index, app })) : [];
  });
}

export function findApp(form: RawForm, code: string): StackApp {
  const found = appsOf(form).find((entry) => entry.app.code === code);
  if (!found) throw notFound(`This project has no app "${code}"`);
  return found;
}

export function listOf(form: RawForm, list: AppListName): RawApp[] {
  const existing = form.custom[list];
  if (Array.isArray(existing)) return existing as RawApp[];
  const created: RawApp[] = [];
  form.custom[list] = created;
  return created;
}

export interface RawNetwork {
  id: string;
  name: string;
  [key: string]: unknown;
}

export function networksOf(form: RawForm): RawNetwork[] {
  return Array.isArray(form.custom.networks) ? (form.custom.networks as RawNetwork[]) : [];
}

const asString = (value: unknown) => (typeof value === 'string' ? value : '');

/** The image an app runs, split as the builder shows it: repository and tag. */
export function imageOf(app: RawApp): { image: string; tag: string } {
  const full = dockerImageString({
    dockerhub_user: asString(app.dockerhub_user),
    dockerhub_name: asString(app.dockerhub_name),
    dockerhub_image: asString(app.dockerhub_image),
  });
  const colon = full.lastIndexOf(':');
  if (colon > full.lastIndexOf('/')) return { image: full.slice(0, colon), tag: full.slice(colon + 1) };
  return { image: full, tag: '' };
}

/** Writes an image the way the builder stores it: `dockerhub_name` = `repository[:tag]`. */
export function setImage(app: RawApp, image: string, tag: string): void {
  const current = imageOf(app);
  if (current.image === image && current.tag === tag) return;
  app.dockerhub_name = tag ? `${image}:${tag}` : image;
  app.dockerhub_user = null;
  app.dockerhub_image = null;
}

const codeOf = (value: string) => trimDashes(value.toLowerCase().replace(/[^a-z0-9._-]+/g, '-'));

/** A service name not used yet in the stack: the wish, else wish-2, wish-3, ... */
export function uniqueCode(form: RawForm, wish: string): string {
  const base = (codeOf(wish) || 'app').slice(0, 57);
  const taken = new Set(appsOf(form).map((entry) => entry.app.code));
  if (!taken.has(base)) return base;
  for (let n = 2; ; n += 1) if (!taken.has(`${base}-${n}`)) return `${base}-${n}`;
}

interface RawPort {
  host_port?: unknown;
  container_port?: unknown;
  protocol?: unknown;
}

function publishedPorts(form: RawForm): Set<number> {
  const used = new Set<number>();
  for (const { app } of appsOf(form)) {
    for (const port of (Array.isArray(app.shared_ports) ? app.shared_ports : []) as RawPort[]) {
      const host = Number(port.host_port);
      if (host) used.add(host);
    }
  }
  return used;
}

/** The services of a form as the template planner reads them (image, environment, host ports). */
export function stackServicesOf(form: RawForm): StackService[] {
  return appsOf(form).map(({ app }) => ({
    code: asString(app.code),
    image: dockerImageString({ dockerhub_user: asString(app.dockerhub_user), dockerhub_name: asString(app.dockerhub_name), dockerhub_image: asString(app.dockerhub_image) }),
    environment: (Array.isArray(app.environment) ? (app.environment as Array<{ key?: unknown; value?: unknown }>) : []).map((v) => ({ key: asString(v.key), value: asString(v.value) })),
    hostPorts: [...publishedPorts({ custom: { web: [app] } } as RawForm)],
    healthcheck: Boolean(app.healthcheck && typeof app.healthcheck === 'object'),
  }));
}

/** One service a template plan adds, as the project form's app. */
function appOfPlanned(planned: PlannedService): { list: AppListName; app: RawApp } {
  const list = listOfCategory(planned.entry.category);
  const app: RawApp = {
    _id: crypto.randomUUID(),
    name: planned.entry.name,
    code: planned.code,
    type: list,
    dockerhub_name: `${planned.entry.image}:${planned.entry.tag}`,
    restart: 'unless-stopped',
    shared_ports: planned.ports,
    environment: planned.environment,
    volumes: planned.volumes,
    network: [],
    ...(planned.command && { command: planned.command }),
    ...(planned.healthcheck && { healthcheck: planned.healthcheck }),
    ...(planned.depends_on && { depends_on: planned.depends_on }),
  };
  return { list, app };
}

/**
 * Adds catalog app `code` as a template: with what it requires (linked to an app of the stack that
 * provides it, or added), its environment wired to them, its code and host ports moved aside if the
 * stack uses them. A template that cannot be planned is a 400 naming the catalog field.
 */
export function addCatalogApp(form: RawForm, catalog: readonly TemplateEntry[], code: string): { added: StackApp[]; plan: TemplatePlan } {
  let plan: TemplatePlan;
  try {
    plan = planTemplate(catalog, code, stackServicesOf(form));
  } catch (error) {
    if (error instanceof TemplateError) throw new ApiError(400, error.message, { errors: [{ path: 'catalog', message: error.message }] });
    throw error;
  }
  const added = plan.services.map((planned) => {
    const { list, app } = appOfPlanned(planned);
    const apps = listOf(form, list);
    apps.push(app);
    return { list, index: apps.length - 1, app };
  });
  return { added, plan };
}

/** Adds the user's own container by image (`repository[:tag]`). */
export function addCustomApp(form: RawForm, input: { image: string; name: string; list: AppListName }): StackApp {
  const colon = input.image.lastIndexOf(':');
  const hasTag = colon > input.image.lastIndexOf('/');
  const repository = hasTag ? input.image.slice(0, colon) : input.image;
  const name = input.name || repository.split('/').pop() || 'app';
  const app: RawApp = {
    _id: crypto.randomUUID(),
    name,
    code: uniqueCode(form, name),
    type: input.list,
    custom: true,
    dockerhub_name: input.image,
    restart: 'unless-stopped',
    shared_ports: [],
    environment: [],
    volumes: [],
    network: [],
  };
  const apps = listOf(form, input.list);
  apps.push(app);
  return { list: input.list, index: apps.length - 1, app };
}

export function removeApp(form: RawForm, code: string): void {
  const { list, index } = findApp(form, code);
  listOf(form, list).splice(index, 1);
}

export function addNetwork(form: RawForm, name: string): void {
  const networks = networksOf(form);
  networks.push({ id: crypto.randomUUID(), name });
  form.custom.networks = networks;
}

/** Removes a network and every app's reference to it. */
export function removeNetwork(form: RawForm, id: string): void {
  const networks = networksOf(form);
  if (!networks.some((network) => network.id === id)) throw notFound('This project has no such network');
  form.custom.networks = networks.filter((network) => network.id !== id);
  for (const { app } of appsOf(form)) {
    if (Array.isArray(app.network)) app.network = (app.network as unknown[]).filter((ref) => ref !== id);
  }
}

/** Where a service error's path (`custom.web.2.shared_ports.0.host_port`) points: the app and the rest. */
export function locate(form: RawForm, path: string): { app: StackApp; rest: string } | undefined {
  const match = /^custom\.(web|service|feature)\.(\d+)(?:\.(.*))?$/.exec(path);
  if (!match) return undefined;
  const list = match[1] as AppListName;
  const index = Number(match[2]);
  const app = (form.custom[list] as RawApp[] | undefined)?.[index];
  return app ? { app: { list, index, app }, rest: match[3] ?? '' } : undefined;
}
