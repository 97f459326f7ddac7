// A project's secrets page (issue 28), for its owner only: the generated passwords and keys and the
// values kept secret, masked, each with the services that use it; Reveal shows one value on the page
// answering the POST (never in a URL, a notice or a link), Rotate generates a new one, Set takes the
// owner's. The same services as the API's /project/{id}/secrets routes.
import { Hono } from 'hono';
import { notFound } from '../../errors.ts';
import type { AppEnv } from '../../http/env.ts';
import type { AuthenticatedUser } from '../../principal.ts';
import { SecretName, SecretValueForm } from '../../services/inputs/secrets.ts';
import { listProjectSecrets, revealProjectSecret, rotateProjectSecret, setProjectSecret, type SecretsDeps } from '../../services/project-secrets.ts';
import { findProject } from '../../services/projects.ts';
import { ActionButton, asFormFailure, Field, FormMessage, type FormFailure } from '../components/forms.tsx';
import { DataTable } from '../components/data-table.tsx';
import { Breadcrumbs } from '../components/layout.tsx';
import { FormFields, idParam, invalidForm, pathParam, redirectWithNotice, renderPage, userPage, type PageContext } from '../components/page.tsx';
import { projectUrl } from '../components/urls.ts';

export const secretsUrl = (projectId: number) => `${projectUrl(projectId)}/secrets`;
const secretUrl = (projectId: number, name: string) => `${secretsUrl(projectId)}/${encodeURIComponent(name)}`;

const depsOf = (c: PageContext): SecretsDeps => ({ db: c.var.database.db, securityKey: c.var.config.SECURITY_KEY });

/** The secret's name from the path; anything else names no secret. */
function nameParam(c: PageContext): string {
  const parsed = SecretName.safeParse(pathParam(c, 'name'));
  if (!parsed.success) throw notFound('There is no such page');
  return parsed.data;
}

interface SecretsState {
  status?: number;
  revealed?: { name: string; value: string };
  set?: { name: string; failure: FormFailure };
}

async function secretsPage(c: PageContext, user: AuthenticatedUser, projectId: number, state: SecretsState = {}) {
  // The owner's own projects only: an admin's role shows no one else's secrets.
  const project = await findProject(c.var.database.db, projectId, { ownerId: user.id });
  const secrets = await listProjectSecrets(c.var.database.db, project.id, user.id);
  return renderPage(c, {
    title: `Secrets of ${project.name}`,
    status: state.status ?? 200,
    body: (
      <>
        <Breadcrumbs trail={[{ label: 'Projects', href: '/projects' }, { label: project.name, href: projectUrl(project.id) }, { label: 'Secrets' }]} />
        <h1>Secrets</h1>
        <p>
          Passwords and keys Stacker generated for this stack, and the values you gave under secret-looking names. The compose names each one as{' '}
          <code>{'${NAME}'}</code>; the values go to the server only when it deploys, and are shown here only when you ask.
        </p>
        {state.revealed && (
          <article aria-live="polite">
            <p>
              <strong>{state.revealed.name}</strong>: <code id="revealed-secret">{state.revealed.value}</code>
            </p>
          </article>
        )}
        <DataTable
          rows={secrets}
          empty="This project has no secrets."
          columns={[
            { label: 'Name', cell: (secret) => <code>{secret.name}</code> },
            { label: 'Value', cell: (secret) => (state.revealed?.name === secret.name ? 'shown above' : secret.value) },
            { label: 'Used by', cell: (secret) => secret.used_by.join(', ') || '—' },
            { label: 'Origin', cell: (secret) => (secret.generated ? 'generated' : 'set by you') },
            {
              label: 'Actions',
              cell: (secret) => (
                <>
                  <ActionButton action={`${secretUrl(project.id, secret.name)}/reveal`} label="Reveal" variant="secondary" outline />{' '}
                  <ActionButton
                    action={`${secretUrl(project.id, secret.name)}/rotate`}
                    label="Rotate"
                    variant="secondary"
                    outline
                    confirm={`Generate a new ${secret.name}? The server gets it at the next deploy; a database keeps the password it was created with until you change it there too.`}
                  />
                </>
              ),
            },
          ]}
        />
        <article>
          <h2>Set a secret</h2>
          <form method="post" action={`${secretsUrl(project.id)}/set`}>
            <FormMessage failure={state.set?.failure} />
            <div class="grid">
              <Field label="Name" name="name" value={state.set?.name} errors={state.set?.failure.fields} placeholder="MARIADB_PASSWORD" required />
              <Field label="Value" name="value" type="password" errors={state.set?.failure.fields} required />
            </div>
            <button type="submit">Set</button>
          </form>
        </article>
      </>
    ),
  });
}

export const secretPages = new Hono<AppEnv>()
  .get(
    '/projects/:id/secrets',
    userPage((c, user) => secretsPage(c, user, idParam(c))),
  )
  .post(
    '/projects/:id/secrets/set',
    userPage(async (c, user) => {
      const projectId = idParam(c);
      const fields = await FormFields.of(c);
      const name = fields.one('name');
      const parsedName = SecretName.safeParse(name);
      const parsedValue = SecretValueForm.safeParse({ value: fields.raw('value') });
      const errors = [
        ...(parsedName.success ? [] : [{ path: 'name', message: parsedName.error.issues[0]!.message }]),
        ...(parsedValue.success ? [] : [{ path: 'value', message: parsedValue.error.issues[0]!.message }]),
      ];
      if (errors.length > 0) {
        const failure = asFormFailure(invalidForm('The secret was not set', errors), (path) => path)!;
        return secretsPage(c, user, projectId, { status: 400, set: { name, failure } });
      }
      await setProjectSecret(depsOf(c), projectId, user.id, parsedName.data!, parsedValue.data!.value);
      return redirectWithNotice(c, secretsUrl(projectId), `${parsedName.data} set; the next deploy takes it to the server.`);
    }),
  )
  .post(
    '/projects/:id/secrets/:name/reveal',
    userPage(async (c, user) => {
      const projectId = idParam(c);
      const revealed = await revealProjectSecret(depsOf(c), projectId, user.id, nameParam(c));
      const response = await secretsPage(c, user, projectId, { revealed });
      response.headers.set('Cache-Control', 'no-store');
      return response;
    }),
  )
  .post(
    '/projects/:id/secrets/:name/rotate',
    userPage(async (c, user) => {
      const projectId = idParam(c);
      const name = nameParam(c);
      await rotateProjectSecret(depsOf(c), projectId, user.id, name);
      return redirectWithNotice(c, secretsUrl(projectId), `${name} rotated; the next deploy takes the new value to the server.`);
    }),
  );
