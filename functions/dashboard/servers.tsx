// Servers: the list, add one to a project of the user's, edit (its own page), delete (confirmed).
// Input is checked with the API's own ServerForm (services/inputs/servers.ts), so page and API accept the same values.
import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../http/env.ts';
import { ActionButton, asFormFailure, Field, FormMessage, formNumber, SelectField, type FieldErrors, type FormFailure } from './components/forms.tsx';
import { DataTable } from './components/data-table.tsx';
import type { AuthenticatedUser } from '../principal.ts';
import { listProjects, type ProjectView } from '../services/projects.ts';
import { createServer, deleteServer, getServer, listServers, updateServer, type ServerView } from '../services/servers.ts';
import { ServerForm } from '../services/inputs/servers.ts';
import { scopeOfUser } from '../services/scope.ts';
import { FormFields, idParam, redirectWithNotice, renderPage, userPage, type PageContext } from './components/page.tsx';
import { Breadcrumbs } from './components/layout.tsx';
import { projectUrl } from './components/urls.ts';

const TEXT_FIELDS = ['server', 'region', 'zone', 'os', 'disk_type', 'srv_ip', 'ssh_user'] as const;
const SERVER_FIELDS = [...TEXT_FIELDS, 'ssh_port'] as const;
type ServerField = (typeof SERVER_FIELDS)[number];
/** What the form shows in its fields: the stored values, or what was posted. */
type ServerValues = Partial<Record<ServerField | 'project_id', string>>;

/** Adding one: the API's server fields, and the project it belongs to. */
const NewServerForm = ServerForm.extend({
  project_id: z.number({ error: 'choose one of your projects' }).int('choose one of your projects').min(1, 'choose one of your projects').max(2_147_483_647, 'choose one of your projects'),
});

/** A port that is not a number reads as one in the form's words, not zod's. */
const portMessage = (issue: { code?: string; path?: PropertyKey[] }) =>
  issue.code === 'invalid_type' && issue.path?.[0] === 'ssh_port' ? 'must be a whole number from 20 to 65535' : undefined;

function postedValues(fields: FormFields): ServerValues {
  const values: ServerValues = {};
  for (const name of [...SERVER_FIELDS, 'project_id'] as const) values[name] = fields.one(name).slice(0, 200);
  return values;
}

/** The posted form as the API would take its JSON: blank fields are left out, numbers are numbers. */
function serverInputOf(values: ServerValues) {
  const input: Record<string, string | number | null> = {};
  for (const name of TEXT_FIELDS) input[name] = values[name] || null;
  input.ssh_port = formNumber(values.ssh_port ?? '');
  return input;
}

const fieldOf = (path: string) => ([...SERVER_FIELDS, 'project_id'] as readonly string[]).includes(path) ? path : undefined;

const storedValues = (s: ServerView): ServerValues => ({
  server: s.server ?? '',
  region: s.region ?? '',
  zone: s.zone ?? '',
  os: s.os ?? '',
  disk_type: s.disk_type ?? '',
  srv_ip: s.srv_ip ?? '',
  ssh_port: s.ssh_port === null ? '' : String(s.ssh_port),
  ssh_user: s.ssh_user ?? '',
});

/** The server's own fields, shared by the add and edit forms. */
function ServerFields(props: { values?: ServerValues; errors?: FieldErrors }) {
  const v = props.values ?? {};
  const e = props.errors;
  return (
    <>
      <Field label="Server type" name="server" value={v.server} errors={e} hint="The provider's size, e.g. cx11; 2 to 50 characters" />
      <div class="grid-2">
        <Field label="Region" name="region" value={v.region} errors={e} hint="e.g. fsn1; 2 to 50 characters" />
        <Field label="Zone" name="zone" value={v.zone} errors={e} hint="e.g. a; 1 to 50 characters" />
      </div>
      <div class="grid-2">
        <Field label="Operating system" name="os" value={v.os} errors={e} hint="e.g. ubuntu-22.04; 2 to 50 characters" />
        <Field label="Disk type" name="disk_type" value={v.disk_type} errors={e} hint="3 to 50 characters" />
      </div>
      <Field label="IP address" name="srv_ip" value={v.srv_ip} errors={e} hint="IPv4 or IPv6" />
      <div class="grid-2">
        <Field label="SSH port" name="ssh_port" type="number" value={v.ssh_port} errors={e} hint="20 to 65535" />
        <Field label="SSH user" name="ssh_user" value={v.ssh_user} errors={e} hint="3 to 50 characters" />
      </div>
    </>
  );
}

/** Deleting a server's record, wherever it is offered. */
const DeleteServer = (props: { server: ServerView; label?: string }) => (
  <ActionButton
    action={`/servers/${props.server.id}/delete`}
    label={props.label ?? 'Delete'}
    variant="secondary"
    outline
    confirm={`Delete the record of server “${props.server.server ?? props.server.id}”? The machine itself is not touched.`}
  />
);

const projectName = (projects: ProjectView[], id: number) => projects.find((p) => p.id === id)?.name ?? `Project ${id}`;

async function serversPage(c: PageContext, user: AuthenticatedUser, form?: { values: ServerValues; failure: FormFailure }) {
  const db = c.var.database.db;
  const [servers, projects] = await Promise.all([listServers(db, user.id), listProjects(db, user.id)]);
  // A project has one server (its deploys reuse it): only projects without one can get one here.
  const free = projects.filter((p) => !servers.some((s) => s.project_id === p.id));
  return renderPage(c, {
    title: 'Servers',
    status: form ? 400 : 200,
    body: (
      <>
        <h1>Servers</h1>
        <DataTable
          rows={servers}
          empty="No servers yet. Deploying a project adds its server; you can also add one below."
          columns={[
            { label: 'Server', cell: (s) => <a href={`/servers/${s.id}`}>{s.server ?? `Server ${s.id}`}</a> },
            { label: 'Project', cell: (s) => projectName(projects, s.project_id) },
            { label: 'Region', cell: (s) => [s.region, s.zone].filter(Boolean).join(' / ') || '—' },
            { label: 'IP address', cell: (s) => s.srv_ip ?? '—' },
            { label: 'SSH', cell: (s) => (s.ssh_user || s.ssh_port ? `${s.ssh_user ?? ''}${s.ssh_port ? `:${s.ssh_port}` : ''}` : '—') },
            {
              label: 'Actions',
              cell: (s) => (
                <>
                  <a href={`/servers/${s.id}`} role="button" class="secondary outline" style="padding:0.3rem 0.7rem;font-size:0.875rem;margin-right:0.25rem">
                    Edit
                  </a>
                  <DeleteServer server={s} />
                </>
              ),
            },
          ]}
        />
        <article>
          <h2>Add a server</h2>
          {projects.length === 0 ? (
            <p>
              A server belongs to a project: <a href="/projects">create a project</a> first.
            </p>
          ) : free.length === 0 && !form ? (
            <p>Each of your projects has its server already; edit it from the list.</p>
          ) : (
            <form method="post" action="/servers">
              <FormMessage failure={form?.failure} />
              <SelectField
                label="Project"
                name="project_id"
                value={form?.values.project_id ?? ''}
                options={[{ value: '', label: 'Choose a project' }, ...free.map((p) => ({ value: String(p.id), label: p.name }))]}
                errors={form?.failure.fields}
                required
              />
              <ServerFields values={form?.values} errors={form?.failure.fields} />
              <button type="submit">Add server</button>
            </form>
          )}
        </article>
      </>
    ),
  });
}

async function editPage(c: PageContext, user: AuthenticatedUser, form?: { values: ServerValues; failure: FormFailure }) {
  const db = c.var.database.db;
  const found = await getServer(db, idParam(c), scopeOfUser(user));
  const projects = await listProjects(db, found.user_id);
  const title = `Server ${found.server ?? found.id}`;
  return renderPage(c, {
    title,
    status: form ? 400 : 200,
    body: (
      <>
        <Breadcrumbs trail={[{ label: 'Servers', href: '/servers' }, { label: title }]} />
        <h1>{title}</h1>
        <p>
          Project: <a href={projectUrl(found.project_id)}>{projectName(projects, found.project_id)}</a>
        </p>
        <form method="post" action={`/servers/${found.id}`}>
          <FormMessage failure={form?.failure} />
          <ServerFields values={form?.values ?? storedValues(found)} errors={form?.failure.fields} />
          <button type="submit">Save server</button>
        </form>
        <DeleteServer server={found} label="Delete server" />
      </>
    ),
  });
}

export const serverPages = new Hono<AppEnv>()
  .get('/servers', userPage((c, user) => serversPage(c, user)))
  .post(
    '/servers',
    userPage(async (c, user) => {
      const values = postedValues(await FormFields.of(c));
      try {
        const projectId = formNumber(values.project_id ?? '');
        const input = NewServerForm.parse({ ...serverInputOf(values), project_id: projectId ?? undefined }, { error: portMessage });
        const { project_id, ...fields } = input;
        const created = await createServer(c.var.database.db, user.id, project_id, fields);
        return redirectWithNotice(c, '/servers', `Server “${created.server ?? created.id}” added.`);
      } catch (error) {
        const failure = asFormFailure(error, fieldOf);
        if (!failure) throw error;
        return serversPage(c, user, { values, failure });
      }
    }),
  )
  .get('/servers/:id', userPage((c, user) => editPage(c, user)))
  .post(
    '/servers/:id',
    userPage(async (c, user) => {
      const id = idParam(c);
      const values = postedValues(await FormFields.of(c));
      try {
        const input = ServerForm.parse(serverInputOf(values), { error: portMessage });
        const updated = await updateServer(c.var.database.db, id, scopeOfUser(user), input);
        return redirectWithNotice(c, '/servers', `Server “${updated.server ?? updated.id}” saved.`);
      } catch (error) {
        const failure = asFormFailure(error, fieldOf);
        if (!failure) throw error;
        return editPage(c, user, { values, failure });
      }
    }),
  )
  .post(
    '/servers/:id/delete',
    userPage(async (c, user) => {
      await deleteServer(c.var.database.db, idParam(c), scopeOfUser(user));
      return redirectWithNotice(c, '/servers', 'Server deleted.');
    }),
  );
