// The operators' console: npm run console -- <command> [options]
// Each command imports what it needs when it runs (the database, Vault and casbin code is most of
// the start-up): --help and a command line refused are answered without loading any of it.
import '../scripts/drizzle-resolve-hook.ts'; // first: before anything imports drizzle-orm
import { enableCompileCache } from 'node:module';
import { parseArgs } from 'node:util';
import type pg from 'pg';
import type { AnyDatabase } from '../db/client.ts';
import type { Config } from '../functions/config.ts';
import { HEARTBEAT_FLUSH_MS } from '../functions/durable/agent-gate-types.ts';
import { DEFAULT_GRACE_SECONDS } from '../functions/services/agent-token-grace.ts';
import type { LocalService } from '../scripts/local-services.ts';

interface Command {
  summary: string;
  /** Each option takes a value, but a `flag` (given or not; its value is then "on"). */
  options: Record<string, { description: string; required?: boolean; flag?: boolean }>;
  run(values: Record<string, string>, context: { config: Config; db: () => Promise<AnyDatabase> }): Promise<void>;
}

const commands: Record<string, Command> = {
  'appclient new': {
    summary: 'Create an API client for a user and print its id and secret (shown only here).',
    options: {
      'user-id': { description: 'the TryDirect user id that owns the client', required: true },
      format: { description: 'text (default), or env: STACKER_CLIENT_ID=… and STACKER_CLIENT_SECRET=… lines for a shell' },
    },
    async run(values, { config, db }) {
      const format = values.format ?? 'text';
      if (format !== 'text' && format !== 'env') throw new Error(`--format must be text or env, not "${format}"`);
      const { requireSetting } = await import('../functions/config.ts');
      const { createApiClient } = await import('../functions/services/api-clients.ts');
      const { client: created } = await createApiClient(
        { db: await db(), securityKey: requireSetting(config, 'SECURITY_KEY'), maxClientsPerUser: config.MAX_CLIENTS_NUMBER },
        values['user-id']!,
      );
      if (format === 'env') {
        console.log(`STACKER_CLIENT_ID=${created.id}`);
        console.log(`STACKER_CLIENT_SECRET=${created.secret}`);
        return;
      }
      console.log(`Created API client ${created.id} for user ${created.user_id}.`);
      console.log(`Secret (shown once, keep it safe): ${created.secret}`);
      console.log('');
      console.log(signedCurlExample(created.id, config.PUBLIC_URL?.replace(/\/$/, '') ?? `http://127.0.0.1:${config.PORT}`));
    },
  },
  'agent rotate-token': {
    summary: `Give a deployment's agent a new token: stored in Vault, the previous one valid ${DEFAULT_GRACE_SECONDS / 60} more minutes (--grace-seconds, --revoke-now).`,
    options: {
      'deployment-hash': { description: 'the deployment whose agent gets the token', required: true },
      'new-token': { description: 'the token to set (32-256 of A-Z a-z 0-9 _ -); generated and printed when absent' },
      'grace-seconds': { description: `how long the previous token keeps working, 0 to 3600 (default ${DEFAULT_GRACE_SECONDS})` },
      'revoke-now': { description: 'refuse the previous token at once (--grace-seconds 0)', flag: true },
    },
    async run(values, { config, db }) {
      const hash = values['deployment-hash']!;
      const grace = await graceOption(values);
      const { vaultFromConfig } = await import('../functions/services/vault-kv.ts');
      // Before the rotation's code is loaded: a missing VAULT_ADDRESS is said at once.
      const vault = vaultFromConfig(config);
      const { rotateAgentToken } = await import('../functions/services/agent-tokens.ts');
      const rotated = await rotateAgentToken(
        { db: await db(), vault, agentBaseUrl: config.AGENT_BASE_URL },
        hash,
        values['new-token'],
        grace,
      );
      console.log(`Rotated agent token for deployment_hash ${rotated.deployment_hash} (stored in Vault)`);
      if (values['new-token'] === undefined) console.log(`New agent token (shown once, keep it safe): ${rotated.agent_token}`);
      if (grace === 0) {
        // The console cannot reach the service's Durable Objects: the wait route's cache learns it at its next re-read.
        console.log(
          `The previous token is refused from now on by every route that reads the database; an agent's long-poll may still be let in by the service's cache until it re-reads the agent, within ${HEARTBEAT_FLUSH_MS / 1000} s (POST /admin/agent/{deployment_hash}/rotate-token or the dashboard revoke it there at once too).`,
        );
      } else console.log(`The previous token is accepted until ${rotated.previous_token_valid_until}.`);
      if (rotated.agent_notified) console.log('The agent at AGENT_BASE_URL was told its new token.');
    },
  },
  'debug casbin': {
    summary: 'Explain the access decision for a subject, a path and a method, from the casbin_rule table.',
    options: {
      path: { description: 'request path, e.g. /project/12', required: true },
      action: { description: 'HTTP method, e.g. GET', required: true },
      subject: { description: 'casbin subject: a role (group_user, group_admin), anonym, client or agent', required: true },
    },
    async run(values, { db }) {
      const { buildEnforcer, decide, loadRules } = await import('../functions/services/access-control.ts');
      const rules = await loadRules(await db());
      const enforcer = await buildEnforcer(rules);
      const subject = values.subject!;
      const action = values.action!.toUpperCase();
      const roles = await enforcer.getImplicitRolesForUser(subject);
      const decision = await decide(enforcer, subject, values.path!, action);
      console.log(`subject ${subject} (roles: ${roles.length ? roles.join(' -> ') : 'none'})`);
      console.log(`${decision.allowed ? 'ALLOW' : 'DENY'} ${action} ${values.path}`);
      if (decision.matchedRule) console.log(`matched rule: p, ${decision.matchedRule.join(', ')}`);
      else console.log(`no rule allows it (${rules.length} rules loaded)`);
    },
  },
};

/**
 * A request signed as docs/api-clients.md says, for a shell with openssl and curl: the secret is read
 * from STACKER_CLIENT_SECRET (it is printed once, above, and never again).
 */
function signedCurlExample(clientId: number, origin: string): string {
  return [
    'Sign each request (docs/api-clients.md). With the secret in STACKER_CLIENT_SECRET, GET /whoami from a shell:',
    `  STACKER_CLIENT_ID=${clientId}`,
    '  P=/whoami TS=$(date +%s) NONCE=$(openssl rand -hex 16)',
    "  BODY_SHA=$(printf '' | openssl dgst -sha256 -r | cut -d' ' -f1)",
    `  HASH=$(printf 'GET\\n%s\\n%s\\n%s\\n%s' "$P" "$TS" "$NONCE" "$BODY_SHA" | openssl dgst -sha256 -hmac "$STACKER_CLIENT_SECRET" -r | cut -d' ' -f1)`,
    `  curl -s "${origin}$P" -H "stacker-id: $STACKER_CLIENT_ID" -H "stacker-timestamp: $TS" -H "stacker-nonce: $NONCE" -H "stacker-hash: $HASH"`,
  ].join('\n');
}

/** --grace-seconds or --revoke-now, checked; undefined: the default grace. */
async function graceOption(values: Record<string, string>): Promise<number | undefined> {
  const given = values['grace-seconds'];
  if (values['revoke-now'] !== undefined) {
    if (given !== undefined) throw new UsageError('agent rotate-token: --revoke-now is --grace-seconds 0; give one of them');
    return 0;
  }
  if (given === undefined) return undefined;
  const { z } = await import('zod');
  const { graceSecondsSchema } = await import('../functions/services/agent-token-grace.ts');
  const parsed = z.string().regex(/^\d{1,4}$/).transform(Number).pipe(graceSecondsSchema).safeParse(given);
  if (!parsed.success) throw new UsageError('agent rotate-token: --grace-seconds must be a whole number of seconds, 0 to 3600');
  return parsed.data;
}

/** A command line the console refuses before doing anything: exit code 2. */
class UsageError extends Error {}

function usage(): string {
  const lines = ['Usage: npm run console -- <command> [options]', '', 'Commands:'];
  for (const [name, command] of Object.entries(commands)) {
    lines.push(`  ${name}`, `      ${command.summary}`);
    for (const [option, spec] of Object.entries(command.options)) {
      lines.push(`      --${option}${spec.flag ? '' : ' <value>'}  ${spec.description}${spec.required ? ' (required)' : ''}`);
    }
  }
  lines.push(
    '',
    'Settings come from the environment (DATABASE_URL, SECURITY_KEY, ...) or configuration.yaml.',
    'With DATABASE_URL unset it works on the embedded database of `npm start` (STACKER_DATA_DIR, default .data),',
    'whether `npm start` runs or not, with the same local secrets and Vault stand-in.',
  );
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv.includes('--help') || argv.includes('-h')) {
    console.log(usage());
    return argv.length === 0 ? 1 : 0;
  }
  const name = argv.slice(0, 2).join(' ');
  const command = commands[name];
  if (!command) {
    console.error(`console: unknown command "${argv.slice(0, 2).join(' ')}" (see --help)`);
    return 2;
  }
  const { values } = parseArgs({
    args: argv.slice(2),
    options: Object.fromEntries(Object.entries(command.options).map(([option, spec]) => [option, { type: spec.flag ? ('boolean' as const) : ('string' as const) }])),
    strict: true,
  });
  const given = Object.fromEntries(Object.entries(values).map(([option, value]) => [option, value === true ? 'on' : String(value)])) as Record<string, string>;
  const missing = Object.entries(command.options).filter(([option, spec]) => spec.required && !given[option]);
  if (missing.length) {
    console.error(`console: ${name}: missing ${missing.map(([option]) => `--${option}`).join(', ')}`);
    return 2;
  }

  // Its default folder (the operating system's temporary one): a later start reuses the modules compiled
  // (and stripped of their types) here. Unless NODE_DISABLE_COMPILE_CACHE is set.
  enableCompileCache();
  const { loadLocalSettings } = await import('../scripts/local-config.ts');
  const { parseConfig, requireSetting } = await import('../functions/config.ts');
  const settings = loadLocalSettings();
  const local = settings.DATABASE_URL ? undefined : await useLocalRun(settings);
  const config = parseConfig(settings);
  let pool: pg.Pool | undefined;
  const db = async (): Promise<AnyDatabase> => {
    const [{ default: pg }, { drizzle }, schema] = await Promise.all([import('pg'), import('drizzle-orm/node-postgres'), import('../db/schema.ts')]);
    if (!pool) {
      pool = new pg.Pool({ connectionString: requireSetting(config, 'DATABASE_URL'), max: 1 });
      // An idle connection the server ends (it is shutting down) must not crash the console; a query
      // still to come reports it.
      pool.on('error', () => undefined);
    }
    return drizzle({ client: pool, schema }) as unknown as AnyDatabase;
  };
  try {
    await command.run(given, { config, db });
    return 0;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`console: ${error.message}`);
    return 2;
  } finally {
    await pool?.end();
    await local?.close();
  }
}

/**
 * With DATABASE_URL unset: what `npm start` runs on. Its embedded database (served by `npm start` if
 * it runs, else opened here), its generated secrets, and its Vault stand-in (or one started here on
 * the same file) for settings left unset.
 */
async function useLocalRun(settings: Record<string, string>): Promise<{ close(): Promise<void> }> {
  const { reachEmbeddedDatabase } = await import('../scripts/embedded-database.ts');
  const { migrateDatabase } = await import('../db/migrate.ts');
  const { readLocalRun } = await import('../scripts/local-run.ts');
  const { localSecrets, startLocalVault } = await import('../scripts/local-services.ts');
  const dataDir = process.env.STACKER_DATA_DIR || '.data';
  const database = await reachEmbeddedDatabase(dataDir);
  settings.DATABASE_URL = database.url;
  // Opened here: `npm start` may have stopped before its migrations ran (they are idempotent).
  if (database.opened) await migrateDatabase(database.url);
  const secrets = localSecrets(dataDir);
  settings.SECURITY_KEY ??= secrets.SECURITY_KEY;
  let vault: LocalService | undefined;
  if (!settings.VAULT_ADDRESS) {
    settings.VAULT_TOKEN = secrets.VAULT_TOKEN;
    const running = readLocalRun(dataDir)?.services.VAULT_ADDRESS;
    if (running) settings.VAULT_ADDRESS = running;
    else {
      vault = await startLocalVault({ dataDir, token: secrets.VAULT_TOKEN });
      settings.VAULT_ADDRESS = vault.url;
    }
  }
  return {
    async close() {
      await vault?.close();
      await database.close();
    },
  };
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const text = error instanceof Error ? error.message : String(error);
    console.error(`console: ${text}`);
    process.exit(1);
  },
);
