// A project's secrets (issue 28): the passwords and keys its templates need, generated with the CSPRNG,
// and the values a user marked secret or gave under a secret-looking key (*PASSWORD*, *SECRET*,
// *TOKEN*, *KEY*). Each is kept sealed with SECURITY_KEY (AES-GCM, as cloud keys are); the project's
// form and its compose name it `${NAME}`; its value leaves Stacker only in the deploy step's env_vars,
// or to the project's owner who asks for it (reveal). Never in an event, a log line or the compose.
import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import { isScalar, parseDocument, visit } from 'yaml';
import type { AnyDatabase } from '../../db/client.ts';
import { project, projectSecret } from '../../db/schema.ts';
import { ApiError, notFound } from '../errors.ts';
import { decryptSecret, encryptSecret } from './crypto.ts';
import { secretNameFor } from './templates.ts';

/** Environment keys whose values are secrets. */
export const SECRET_KEY_PATTERN = /PASSWORD|PASSWD|SECRET|TOKEN|KEY/i;
/** A `${NAME}` reference (not `$${NAME}`, compose's escape; `${NAME:-default}` has its default). */
const REFERENCE = /(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
export const secretNamePattern = /^[A-Za-z_][A-Za-z0-9_]{0,99}$/;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
export const GENERATED_LENGTH = 64;

export interface SecretsDeps {
  db: AnyDatabase;
  /** SECURITY_KEY; without it a project that has secrets cannot be saved or deployed. */
  securityKey: Uint8Array | undefined;
}

/**
 * A secret from the CSPRNG: letters and digits only, so it is safe in a URL (postgres://user:pass@host),
 * a shell and YAML; 64 of them are 381 bits. Rejection sampling keeps every character equally likely.
 */
export function generateSecretValue(length = GENERATED_LENGTH): string {
  let out = '';
  while (out.length < length) {
    for (const byte of crypto.getRandomValues(new Uint8Array(length * 2))) {
      if (byte < 248 && out.length < length) out += ALPHABET[byte % 62];
    }
  }
  return out;
}

/** The names a text refers to as `${NAME}`. */
export function referencedNames(text: string): string[] {
  return [...new Set([...text.matchAll(REFERENCE)].map((match) => match[1]!))];
}

type EnvEntry = { key?: unknown; value?: unknown; secret?: unknown };
type AppsOf = { custom?: Record<string, unknown> | null } | null | undefined;

function environmentsOf(form: AppsOf): Array<{ code: string; environment: EnvEntry[] }> {
  const custom = form?.custom ?? {};
  return ['web', 'service', 'feature'].flatMap((list) => {
    const apps = custom[list];
    if (!Array.isArray(apps)) return [];
    return (apps as Array<{ code?: unknown; environment?: unknown }>).map((app) => ({
      code: typeof app?.code === 'string' ? app.code : '',
      environment: Array.isArray(app?.environment) ? (app.environment as EnvEntry[]) : [],
    }));
  });
}

const isReference = (value: string) => /^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/.test(value);

/**
 * Takes the secret values out of a project form: in every app's environment, a value marked
 * `secret: true` or under a secret-looking key becomes `${SERVICE_KEY}` (or the `${NAME}` the same
 * variable had in the `stored` metadata) in both the raw form and its normalised metadata (changed in
 * place; they list the same apps in the same order). Returns the values
 * taken, by name, and every name the environments refer to, to generate those not kept yet.
 */
export function separateSecrets(metadata: AppsOf, raw: AppsOf, stored?: unknown): { given: Map<string, string>; referenced: Set<string> } {
  const given = new Map<string, string>();
  // A variable that referred to a secret before keeps that secret's name: typing a new MariaDB password
  // changes the one WordPress uses too.
  const before = new Map(
    environmentsOf(stored as AppsOf).flatMap((app) =>
      app.environment.flatMap((variable) => (typeof variable.value === 'string' && isReference(variable.value) ? [[`${app.code}\u0000${String(variable.key)}`, variable.value.slice(2, -1)] as const] : [])),
    ),
  );
  const normalised = environmentsOf(metadata);
  const rawApps = environmentsOf(raw);
  normalised.forEach((app, appIndex) => {
    const rawEnvironment = rawApps[appIndex]?.environment ?? [];
    app.environment.forEach((variable, index) => {
      const key = typeof variable.key === 'string' ? variable.key : '';
      const value = typeof variable.value === 'string' ? variable.value : '';
      const rawVariable = rawEnvironment[index]?.key === key ? rawEnvironment[index] : undefined;
      const marked = rawVariable?.secret === true;
      if (value === '' || isReference(value) || !(marked || SECRET_KEY_PATTERN.test(key))) return;
      // A value that only refers to others (a URL holding ${DB_PASSWORD}) carries no secret of its own.
      if (referencedNames(value).length > 0 && !marked) return;
      const name = before.get(`${app.code}\u0000${key}`) ?? secretNameFor(app.code, key);
      given.set(name, value);
      variable.value = `\${${name}}`;
      if (rawVariable) rawVariable.value = `\${${name}}`;
    });
  });
  const referenced = new Set(normalised.flatMap((app) => app.environment.flatMap((variable) => (typeof variable.value === 'string' ? referencedNames(variable.value) : []))));
  return { given, referenced };
}

const keyOf = (deps: SecretsDeps): Uint8Array => {
  if (!deps.securityKey) throw new ApiError(503, 'SECURITY_KEY is not set: Stacker cannot keep this project\'s secrets');
  return deps.securityKey;
};

/**
 * Keeps a project's secrets: `given` values replace what is kept under their names; every name in
 * `referenced` not kept yet is generated. Nothing to keep needs no key.
 */
export async function keepProjectSecrets(deps: SecretsDeps, projectId: number, given: Map<string, string>, referenced: Iterable<string>): Promise<void> {
  const missing = [...new Set(referenced)].filter((name) => !given.has(name) && secretNamePattern.test(name));
  if (given.size === 0 && missing.length === 0) return;
  const kept = new Set(
    missing.length === 0
      ? []
      : (await deps.db.select({ name: projectSecret.name }).from(projectSecret).where(and(eq(projectSecret.projectId, projectId), inArray(projectSecret.name, missing)))).map((row) => row.name),
  );
  const key = keyOf(deps);
  for (const [name, value] of given) {
    const sealedValue = await encryptSecret(key, value);
    await deps.db
      .insert(projectSecret)
      .values({ projectId, name, sealedValue, generated: false })
      .onConflictDoUpdate({ target: [projectSecret.projectId, projectSecret.name], set: { sealedValue, generated: false, updatedAt: sql`now()` } });
  }
  const generated = await Promise.all(missing.filter((name) => !kept.has(name)).map(async (name) => ({ projectId, name, sealedValue: await encryptSecret(key, generateSecretValue()), generated: true })));
  // Two saves at once: the first one's value stays, so both sides of a link keep one password.
  if (generated.length > 0) await deps.db.insert(projectSecret).values(generated).onConflictDoNothing();
}

export interface SecretView {
  name: string;
  /** Always masked here; the value is only in revealProjectSecret's answer. */
  value: '********';
  generated: boolean;
  /** The services whose environment refers to it. */
  used_by: string[];
  created_at: string;
  updated_at: string;
}

/** The project of the owner (`ownerId`), or 404: secrets are the owner's alone, an admin's role adds none. */
async function ownProject(db: AnyDatabase, projectId: number, ownerId: string) {
  const [row] = await db.select({ id: project.id, metadata: project.metadata }).from(project).where(and(eq(project.id, projectId), eq(project.userId, ownerId))).limit(1);
  if (!row) throw notFound('Project not found');
  return row;
}

function usersOf(metadata: unknown): Map<string, string[]> {
  const users = new Map<string, string[]>();
  for (const app of environmentsOf(metadata as AppsOf)) {
    for (const variable of app.environment) {
      for (const name of typeof variable.value === 'string' ? referencedNames(variable.value) : []) {
        const list = users.get(name) ?? [];
        if (!list.includes(app.code)) list.push(app.code);
        users.set(name, list);
      }
    }
  }
  return users;
}

/** The project's secrets, masked, with the services that use each. */
export async function listProjectSecrets(db: AnyDatabase, projectId: number, ownerId: string): Promise<SecretView[]> {
  const owned = await ownProject(db, projectId, ownerId);
  const users = usersOf(owned.metadata);
  const rows = await db.select().from(projectSecret).where(eq(projectSecret.projectId, projectId)).orderBy(asc(projectSecret.name));
  return rows.map((row) => ({
    name: row.name,
    value: '********',
    generated: row.generated,
    used_by: users.get(row.name) ?? [],
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  }));
}

async function secretRow(db: AnyDatabase, projectId: number, name: string) {
  const [row] = await db.select().from(projectSecret).where(and(eq(projectSecret.projectId, projectId), eq(projectSecret.name, name))).limit(1);
  if (!row) throw notFound(`This project has no secret ${name}`);
  return row;
}

/** One secret's value, for its owner. */
export async function revealProjectSecret(deps: SecretsDeps, projectId: number, ownerId: string, name: string): Promise<{ name: string; value: string }> {
  await ownProject(deps.db, projectId, ownerId);
  const row = await secretRow(deps.db, projectId, name);
  return { name, value: await decryptSecret(keyOf(deps), row.sealedValue) };
}

/** Sets a secret to the owner's value (a new name is kept too: a `${NAME}` the compose will use). */
export async function setProjectSecret(deps: SecretsDeps, projectId: number, ownerId: string, name: string, value: string): Promise<SecretView> {
  await ownProject(deps.db, projectId, ownerId);
  await keepProjectSecrets(deps, projectId, new Map([[name, value]]), []);
  return (await listProjectSecrets(deps.db, projectId, ownerId)).find((secret) => secret.name === name)!;
}

/** Replaces a secret with a new generated value; the next deploy takes it to the server. */
export async function rotateProjectSecret(deps: SecretsDeps, projectId: number, ownerId: string, name: string): Promise<SecretView> {
  await ownProject(deps.db, projectId, ownerId);
  await secretRow(deps.db, projectId, name);
  const sealedValue = await encryptSecret(keyOf(deps), generateSecretValue());
  await deps.db.update(projectSecret).set({ sealedValue, generated: true, updatedAt: sql`now()` }).where(and(eq(projectSecret.projectId, projectId), eq(projectSecret.name, name)));
  return (await listProjectSecrets(deps.db, projectId, ownerId)).find((secret) => secret.name === name)!;
}

/**
 * The values of the secrets a compose refers to, for the deploy step's env_vars (generated first where
 * a name has none yet, e.g. a project saved before secrets were kept).
 */
export async function secretValuesFor(deps: SecretsDeps, projectId: number, composeYaml: string): Promise<Record<string, string>> {
  const names = referencedNames(composeYaml).filter((name) => secretNamePattern.test(name));
  if (names.length === 0) return {};
  await keepProjectSecrets(deps, projectId, new Map(), names);
  const rows = await deps.db.select().from(projectSecret).where(and(eq(projectSecret.projectId, projectId), inArray(projectSecret.name, names)));
  const key = keyOf(deps);
  return Object.fromEntries(await Promise.all(rows.map(async (row) => [row.name, await decryptSecret(key, row.sealedValue)] as const)));
}

/**
 * The compose with its `${NAME}` references to secrets replaced by their values, for the install
 * service (DEPLOY_ENGINE=install-service), whose job carries the compose alone. Values are put into the
 * YAML's scalars, so a value with quotes or a colon stays one value.
 */
export async function composeWithSecrets(deps: SecretsDeps, projectId: number, composeYaml: string): Promise<string> {
  const values = await secretValuesFor(deps, projectId, composeYaml);
  if (Object.keys(values).length === 0) return composeYaml;
  const document = parseDocument(composeYaml);
  visit(document, {
    Scalar(_key, node) {
      if (isScalar(node) && typeof node.value === 'string') node.value = node.value.replace(REFERENCE, (whole, name: string) => values[name] ?? whole);
    },
  });
  return document.toString({ lineWidth: 0 });
}
