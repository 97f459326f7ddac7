// The leak check's Node side (issue 7, "secrets never leak"), in the main vitest process:
//  - collectConsoleLine (vitest.config.ts's onConsoleLog) keeps every console line of the workers
//    project: the Worker runs in the tests' isolate, so its log lines arrive here too;
//  - startLeakCollector is a loopback server to which tests/helpers/api.ts posts every response it saw;
//  - runLeakCheck (tests/global-setup.ts's teardown) reads the stored secrets and searches all of it.
// vitest loads the config and the global setup as separate module instances: what they share lives
// on globalThis.
import { relative } from 'node:path';
import pg from 'pg';
import type { TestCase, TestModule, TestSuite } from 'vitest/node';
import { parseConfig } from '../../functions/config.ts';
import { decryptSecret } from '../../functions/services/crypto.ts';
import { startStubServer, type StubServer } from '../stubs/http.ts';
import {
  AGENT_TOKEN,
  AGENT_TOKEN_CANDIDATES,
  PROJECT_SECRET,
  searchedProjectSecret,
  CLIENT_SECRET,
  describeLeaks,
  handedOverSecrets,
  isSearchable,
  scanForSecrets,
  type Collected,
  type HashedSecrets,
  type Secret,
} from './leak-check.ts';

/** What tests/helpers/api.ts posts for each response. */
export interface RecordedResponse {
  method: string;
  path: string;
  status: number;
  body: string;
  test: string;
}

interface Store {
  texts: Collected[];
  logLines: number;
  responses: number;
}

const STORE_KEY = Symbol.for('stacker.leak-check');

function store(): Store {
  const global = globalThis as { [STORE_KEY]?: Store };
  return (global[STORE_KEY] ??= { texts: [], logLines: 0, responses: 0 });
}

/**
 * For vitest.config.ts's onConsoleLog: keeps every console line of the two workerd projects (workers, engine), and keeps the
 * service's debug and info lines (one per request) off the screen, where warnings and errors still go.
 */
export function collectConsoleLine(line: string, _type: string, entity: TestModule | TestCase | TestSuite | undefined): false | undefined {
  if (entity && entity.project.name === 'node') return undefined; // both workerd projects' lines are checked
  const collected = store();
  collected.logLines++;
  collected.texts.push({ source: 'log', where: describeEntity(entity), text: line });
  // The service's own JSON lines stay off the screen (the dependency-failure tests alone write
  // hundreds of expected "database unavailable" errors), except a bug's "unhandled error".
  if (!line.startsWith('{"level":')) return undefined;
  return line.includes('"msg":"unhandled error"') ? undefined : false;
}

function describeEntity(entity: TestModule | TestCase | TestSuite | undefined): string {
  if (!entity) return '(outside any test)';
  const file = relative(process.cwd(), entity.type === 'module' ? entity.moduleId : entity.module.moduleId);
  return entity.type === 'module' ? file : `${file} > ${entity.fullName}`;
}

/** The loopback server tests/helpers/api.ts posts its batches of responses to (JSON arrays of RecordedResponse). */
export function startLeakCollector(): Promise<StubServer> {
  return startStubServer((req, res, body) => {
    const collected = store();
    for (const response of JSON.parse(body) as RecordedResponse[]) {
      collected.responses++;
      const path = response.path.length > 120 ? `${response.path.slice(0, 120)}…` : response.path;
      collected.texts.push({
        source: 'response',
        where: `${response.test}: ${response.method} ${path} → ${response.status}`,
        text: response.body,
        method: response.method,
        path: response.path,
      });
    }
    res.writeHead(204).end();
  });
}

export interface SecretSources {
  /** The Worker's settings (tests/global-setup.ts). */
  settings: Record<string, string>;
  /** Every database the Worker wrote to, with the credentials it used (the test run's own role: its password is searched for). */
  databaseUrls: string[];
  /** Everything written to the Vault stub (tests/stubs/vault.ts). */
  vaultWrites: Record<string, unknown>[];
}

const SECRET_SETTINGS = ['SECURITY_KEY', 'VAULT_TOKEN', 'INSTALL_WEBHOOK_SECRET', 'QSTASH_CURRENT_SIGNING_KEY', 'QSTASH_NEXT_SIGNING_KEY', 'QSTASH_TOKEN'];

/** Reads every stored secret: settings, decrypted database columns, Vault's agent tokens, hashed agent tokens. */
export async function storedSecrets(sources: SecretSources): Promise<{ secrets: Secret[]; hashed: HashedSecrets[]; undecryptable: number }> {
  const secrets: Secret[] = [];
  for (const name of SECRET_SETTINGS) {
    const value = sources.settings[name];
    if (value) secrets.push({ kind: name, value });
  }
  for (const url of sources.databaseUrls) {
    const password = decodeURIComponent(new URL(url).password);
    if (password) secrets.push({ kind: 'database password', value: password });
  }
  for (const data of sources.vaultWrites) {
    if (typeof data.token === 'string') secrets.push({ kind: AGENT_TOKEN, value: data.token });
  }

  const key = parseConfig({ SECURITY_KEY: sources.settings.SECURITY_KEY }).SECURITY_KEY!;
  let undecryptable = 0;
  const decrypted = async (kind: string, sealed: string | null) => {
    if (sealed === null) return;
    try {
      secrets.push({ kind, value: await decryptSecret(key, sealed) });
    } catch {
      undecryptable++; // sealed with another SECURITY_KEY by a test that changes it
    }
  };
  const tokenHashes = new Set<string>();
  for (const url of new Set(sources.databaseUrls)) {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const tables = await client.query<{ name: string }>(`select to_regclass('public.cloud')::text as name`);
      if (tables.rows[0]?.name === null) continue; // the admin database holds no tables of ours
      const clouds = await client.query<{ cloud_token: string | null; cloud_key: string | null; cloud_secret: string | null }>(
        'select cloud_token, cloud_key, cloud_secret from cloud',
      );
      for (const row of clouds.rows) {
        await decrypted('cloud_token', row.cloud_token);
        await decrypted('cloud_key', row.cloud_key);
        await decrypted('cloud_secret', row.cloud_secret);
      }
      // A project's secrets (issue 28): generated passwords and values kept secret (searchedProjectSecret).
      const projectSecrets = await client.query<{ name: string | null }>(`select to_regclass('public.project_secret')::text as name`);
      if (projectSecrets.rows[0]?.name !== null) {
        const rows = await client.query<{ sealed_value: string }>('select sealed_value from project_secret');
        for (const row of rows.rows) {
          const before = secrets.length;
          await decrypted(PROJECT_SECRET, row.sealed_value);
          if (secrets.length > before && !searchedProjectSecret(secrets.at(-1)!.value)) secrets.pop();
        }
      }
      // Docker Hub passwords of projects, sealed in their metadata (functions/services/dockerhub-passwords.ts).
      const sealed = await client.query<{ value: string }>(
        `select app->>'dockerhub_password' as value from project, jsonb_array_elements(coalesce(metadata::jsonb->'custom'->'web', '[]') || coalesce(metadata::jsonb->'custom'->'service', '[]') || coalesce(metadata::jsonb->'custom'->'feature', '[]')) as app where app->>'dockerhub_password' like 'sealed:v1:%'`,
      );
      for (const row of sealed.rows) await decrypted('Docker Hub password', row.value.slice('sealed:v1:'.length));
      const clients = await client.query<{ secret: string | null }>('select secret from client');
      for (const row of clients.rows) await decrypted(CLIENT_SECRET, row.secret);
      const agents = await client.query<{ token_hash: string | null; previous_token_hash: string | null }>(
        'select token_hash, previous_token_hash from agents',
      );
      for (const row of agents.rows) {
        if (row.token_hash) tokenHashes.add(row.token_hash);
        if (row.previous_token_hash) tokenHashes.add(row.previous_token_hash);
      }
    } finally {
      await client.end();
    }
  }
  return { secrets, hashed: [{ kind: AGENT_TOKEN, sha256: tokenHashes, candidates: AGENT_TOKEN_CANDIDATES }], undecryptable };
}

export interface LeakCheckResult {
  summary: string;
  /** Set when a secret leaked: what to fail the run with. */
  failure?: string;
}

const MAX_REPORTED = 40;

/** Searches everything collected during the run for every stored secret. */
export async function runLeakCheck(sources: SecretSources): Promise<LeakCheckResult> {
  const started = performance.now();
  const { texts, logLines, responses } = store();
  const stored = await storedSecrets(sources);
  const unique = new Map<string, Secret>();
  for (const secret of [...stored.secrets, ...handedOverSecrets(texts)]) unique.set(`${secret.kind}\u0000${secret.value}`, secret);
  const secrets = [...unique.values()];
  const searchable = secrets.filter((secret) => isSearchable(secret.value));
  const kinds = new Set(secrets.map((secret) => secret.kind));

  const leaks = scanForSecrets(texts, secrets, stored.hashed);
  const hashedCount = stored.hashed.reduce((sum, hashed) => sum + hashed.sha256.size, 0);
  const megabytes = (texts.reduce((sum, collected) => sum + collected.text.length, 0) / 1e6).toFixed(1);
  const summary =
    `Leak check: ${logLines} log lines and ${responses} response bodies (${megabytes} MB) searched for ${searchable.length} stored secrets ` +
    `(${[...kinds].join(', ')}) and ${hashedCount} agent-token hashes` +
    (secrets.length > searchable.length ? `; ${secrets.length - searchable.length} too short or repetitive to search` : '') +
    (stored.undecryptable > 0 ? `; ${stored.undecryptable} stored values sealed with another SECURITY_KEY` : '') +
    `: ${leaks.length === 0 ? 'no leak' : `${leaks.length} LEAKS`} (${Math.round(performance.now() - started)} ms).`;
  if (leaks.length === 0) return { summary };

  const shown = describeLeaks(leaks.slice(0, MAX_REPORTED));
  const more = leaks.length > MAX_REPORTED ? `\n  … and ${leaks.length - MAX_REPORTED} more` : '';
  return { summary, failure: `Secrets appeared where they must not (values not shown):\n${shown}${more}` };
}
