// A project's pages, the builder: its apps (from the catalog or the user's own image), each app's
// settings, networks, and the compose generated from it, regenerated on every save. Every change is a
// POST that edits the project form (services/stack-form.ts) and saves it through the project service.
// The pages: builder-page.tsx (the project), app-page.tsx (one app), deploy-section.tsx (its deployments).
import { Hono } from 'hono';
import { z } from 'zod';
import { projectDeps } from '../../http/deps.ts';
import type { AppEnv } from '../../http/env.ts';
import type { AuthenticatedUser } from '../../principal.ts';
import { catalogCodePattern, describePlan, templateCatalog } from '../../services/catalog.ts';
import { parseEnvFile } from '../../services/env-file.ts';
import { importIntoStack } from '../../services/project-import.ts';
import { composeOfStored, findProject } from '../../services/projects.ts';
import { scopeOfUser } from '../../services/scope.ts';
import type { TemplatePlan } from '../../services/templates.ts';
import { notFound } from '../../errors.ts';
import { addCatalogApp, addCustomApp, addNetwork, editableForm, findApp, loadStackForm, locate, removeApp, removeNetwork, saveStackForm, type RawForm, type StackApp } from '../../services/stack-form.ts';
import type { Project } from '../../../db/schema.ts';
import { asFormFailure, type FormFailure } from '../components/forms.tsx';
import { FormFields, idParam, invalidForm, pathParam, redirectWithNotice, userPage, type PageContext } from '../components/page.tsx';
import { appUrl, projectUrl } from '../components/urls.ts';
import { appFailure, appPage, applyValues, postedAppValues, type AppPageState } from './app-page.tsx';
import { builderFailure, builderPage, type BuilderState } from './builder-page.tsx';
import { str } from './raw.ts';
import { secretPages } from './secrets.tsx';

const loadStack = (c: PageContext, user: AuthenticatedUser) => loadStackForm(c.var.database.db, idParam(c), scopeOfUser(user));

/**
 * Saves the edited form as PUT /project/{id} would, then goes to `done.to` saying `done.notice`. A save
 * refused for the form's sake is answered by `refused` (the page again, with the message where it
 * belongs); any other error is thrown on, to the error page.
 */
async function saveStack(
  c: PageContext,
  user: AuthenticatedUser,
  stack: { row: Project; form: RawForm },
  done: { to: string; notice: string },
  refused: (error: unknown) => Response | Promise<Response> | undefined,
): Promise<Response> {
  try {
    await saveStackForm(projectDeps(c), stack.row.id, scopeOfUser(user), stack.form);
  } catch (error) {
    const answer = refused(error);
    if (answer === undefined) throw error;
    return answer;
  }
  return redirectWithNotice(c, done.to, done.notice);
}

/** The builder again after a refused save, as saved before it, with the failure where `shown` puts it. */
const builderAgain =
  (c: PageContext, user: AuthenticatedUser, row: Project, fieldOf: (path: string) => string | undefined, shown: (failure: FormFailure) => BuilderState) =>
  (error: unknown) => {
    const failure = asFormFailure(error, fieldOf);
    return failure && builderPage(c, user, row, editableForm(row), { status: 400, ...shown(failure) });
  };

/** The app's page again after a refused save, as saved before it, with what was sent. */
const appAgain = (c: PageContext, stack: { row: Project; form: RawForm }, entry: StackApp, shown: (failure: FormFailure) => AppPageState) => (error: unknown) => {
  const failure = appFailure(stack.form, entry, error);
  const saved = editableForm(stack.row);
  return failure && appPage(c, stack.row, saved, findApp(saved, pathParam(c, 'code')), shown(failure));
};

const listName = z.enum(['web', 'service']).catch('web');
const networkName = z.string().trim().min(1, 'must not be empty').max(100);
const nameField = (path: string) => (path === 'custom.custom_stack_code' ? 'name' : undefined);
const networkField = (path: string) => (path === 'network_name' || /^custom\.networks\.\d+\.(name|id)$/.test(path) ? 'network_name' : undefined);

export const builderPages = new Hono<AppEnv>()
  .route('/', secretPages)
  .get(
    '/projects/:id',
    userPage(async (c, user) => {
      const { row, form } = await loadStack(c, user);
      return builderPage(c, user, row, form);
    }),
  )
  .get(
    '/projects/:id/compose.yml',
    userPage(async (c, user) => {
      const row = await findProject(c.var.database.db, idParam(c), scopeOfUser(user));
      const yaml = composeOfStored(row.metadata);
      const filename = `${row.name.replace(/[^A-Za-z0-9._-]+/g, '-')}-docker-compose.yml`;
      return c.body(yaml, 200, { 'Content-Type': 'application/yaml; charset=utf-8', 'Content-Disposition': `attachment; filename="${filename}"`, 'Cache-Control': 'no-store' });
    }),
  )
  .post(
    '/projects/:id/rename',
    userPage(async (c, user) => {
      const stack = await loadStack(c, user);
      const name = (await FormFields.of(c)).one('name');
      stack.form.custom.custom_stack_code = name;
      return saveStack(c, user, stack, { to: projectUrl(stack.row.id), notice: `Project renamed to “${name}”.` }, builderAgain(c, user, stack.row, nameField, (failure) => ({ rename: { name, failure } })));
    }),
  )
  .post(
    '/projects/:id/apps',
    userPage(async (c, user) => {
      const stack = await loadStack(c, user);
      // Only a code the catalog could have reaches the database (a NUL in it is PostgreSQL's error, a 500).
      const code = z.string().trim().min(1).max(50).regex(catalogCodePattern).safeParse((await FormFields.of(c)).one('catalog'));
      if (!code.success) throw invalidForm('Pick an app from the catalog', [{ path: 'catalog', message: 'pick an app' }]);
      const catalog = await templateCatalog(c.var.database.db);
      if (!catalog.some((entry) => entry.code === code.data)) throw notFound(`No app "${code.data}" in the catalog`);
      let plan: TemplatePlan;
      try {
        plan = addCatalogApp(stack.form, catalog, code.data).plan;
      } catch (error) {
        const failure = asFormFailure(error, () => undefined);
        if (!failure) throw error;
        return builderPage(c, user, stack.row, editableForm(stack.row), { status: 400, failure });
      }
      return saveStack(c, user, stack, { to: projectUrl(stack.row.id), notice: describePlan(plan) }, (error) => {
        const shown = builderFailure(stack.form, error);
        return shown && builderPage(c, user, stack.row, editableForm(stack.row), { status: 400, ...shown });
      });
    }),
  )
  .post(
    '/projects/:id/containers',
    userPage(async (c, user) => {
      const stack = await loadStack(c, user);
      const fields = await FormFields.of(c);
      const input = { image: fields.one('image'), name: fields.one('app_name'), list: listName.parse(fields.one('list')) };
      const shownInput = { image: input.image, name: input.name, list: input.list };
      if (input.image === '') {
        const failure = { message: 'Name the Docker image to run', fields: { image: 'must not be empty' } };
        return builderPage(c, user, stack.row, stack.form, { status: 400, addCustom: { ...shownInput, failure } });
      }
      const added = addCustomApp(stack.form, input);
      // Errors of the new app belong to the add form's fields; others (rare) to the top.
      const addedField = (path: string) => {
        const located = locate(stack.form, path);
        if (!located || located.app.app !== added.app) return undefined;
        return located.rest === 'name' ? 'app_name' : 'image';
      };
      const notice = `${str(added.app.name)} added as service “${str(added.app.code)}”.`;
      return saveStack(c, user, stack, { to: projectUrl(stack.row.id), notice }, builderAgain(c, user, stack.row, addedField, (failure) => ({ addCustom: { ...shownInput, failure } })));
    }),
  )
  .post(
    '/projects/:id/import',
    userPage(async (c, user) => {
      const stack = await loadStack(c, user);
      const compose = (await FormFields.of(c)).raw('compose');
      const shown = (failure: FormFailure) => ({ importCompose: { compose, failure } });
      if (compose.trim() === '') return builderPage(c, user, stack.row, stack.form, { status: 400, ...shown({ message: 'Paste a compose file', fields: { compose: 'must not be empty' } }) });
      // Errors of the compose, or of an imported app when the project is saved, belong to the box.
      const webBefore = Array.isArray(stack.form.custom.web) ? stack.form.custom.web.length : 0;
      const importedField = (path: string) => {
        if (path === 'compose') return 'compose';
        const located = locate(stack.form, path);
        return located && located.app.list === 'web' && located.app.index >= webBefore ? 'compose' : undefined;
      };
      let result;
      try {
        result = importIntoStack(stack.form, compose);
      } catch (error) {
        const failure = asFormFailure(error, importedField);
        if (!failure) throw error;
        return builderPage(c, user, stack.row, stack.form, { status: 400, ...shown(failure) });
      }
      const notes = result.notes.map((note) => note.message);
      const notice = `Imported ${result.added.length} service${result.added.length === 1 ? '' : 's'} (${result.added.join(', ')}).${notes.length ? ` Not carried over: ${notes.join(' ')}` : ''}`;
      return saveStack(c, user, stack, { to: projectUrl(stack.row.id), notice }, builderAgain(c, user, stack.row, importedField, shown));
    }),
  )
  .post(
    '/projects/:id/networks',
    userPage(async (c, user) => {
      const stack = await loadStack(c, user);
      const name = (await FormFields.of(c)).one('network_name');
      const parsed = networkName.safeParse(name);
      const again = builderAgain(c, user, stack.row, networkField, (failure) => ({ addNetwork: { name, failure } }));
      if (!parsed.success) return again(invalidForm('The network needs a name', [{ path: 'network_name', message: parsed.error.issues[0]!.message }]))!;
      addNetwork(stack.form, parsed.data);
      return saveStack(c, user, stack, { to: projectUrl(stack.row.id), notice: `Network “${name}” added; attach apps to it on their pages.` }, again);
    }),
  )
  .post(
    '/projects/:id/networks/:network/delete',
    userPage(async (c, user) => {
      const stack = await loadStack(c, user);
      removeNetwork(stack.form, pathParam(c, 'network'));
      return saveStack(c, user, stack, { to: projectUrl(stack.row.id), notice: 'Network removed.' }, () => undefined);
    }),
  )
  .get(
    '/projects/:id/apps/:code',
    userPage(async (c, user) => {
      const { row, form } = await loadStack(c, user);
      return appPage(c, row, form, findApp(form, pathParam(c, 'code')));
    }),
  )
  .post(
    '/projects/:id/apps/:code',
    userPage(async (c, user) => {
      const stack = await loadStack(c, user);
      const entry = findApp(stack.form, pathParam(c, 'code'));
      const values = postedAppValues(await FormFields.of(c));
      applyValues(entry.app, values);
      return saveStack(c, user, stack, { to: projectUrl(stack.row.id), notice: `${values.name} saved; the compose below has the change.` }, appAgain(c, stack, entry, (failure) => ({ values, failure })));
    }),
  )
  .post(
    '/projects/:id/apps/:code/env',
    userPage(async (c, user) => {
      const stack = await loadStack(c, user);
      const entry = findApp(stack.form, pathParam(c, 'code'));
      const text = (await FormFields.of(c)).raw('env_file');
      const parsed = parseEnvFile(text);
      if (parsed.errors.length > 0) {
        const message = parsed.errors.map((e) => e.message).join('; ');
        return appPage(c, stack.row, stack.form, entry, { envText: text, envFailure: { message: 'The .env text has lines that are not KEY=value', fields: { env_file: message } } });
      }
      // Replaces, never merges: a variable missing from the text is gone.
      entry.app.environment = parsed.entries;
      const done = { to: appUrl(stack.row.id, entry.app.code), notice: `Environment replaced: ${parsed.entries.length} variables.` };
      return saveStack(c, user, stack, done, appAgain(c, stack, entry, (failure) => ({ envText: text, envFailure: { message: failure.message, fields: { env_file: Object.values(failure.fields).join('; ') || failure.message } } })));
    }),
  )
  .post(
    '/projects/:id/apps/:code/delete',
    userPage(async (c, user) => {
      const stack = await loadStack(c, user);
      const { app } = findApp(stack.form, pathParam(c, 'code'));
      removeApp(stack.form, str(app.code));
      return saveStack(c, user, stack, { to: projectUrl(stack.row.id), notice: `${str(app.name)} removed from the stack.` }, () => undefined);
    }),
  );
