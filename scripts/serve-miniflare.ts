// The Worker served by Miniflare alone: one workerd process listening on --ip:--port, with no
// `wrangler dev` and so no wrangler "ProxyWorker" (a second workerd in front of the Worker).
//   node scripts/serve-miniflare.ts --port 8000 [--ip 127.0.0.1] --env-file .data/wrangler.env
//                                   --persist-to .data/wrangler [--outdir .data/miniflare-bundle | --bundle DIR]
// scripts/start.ts runs it instead of `wrangler dev` when STACKER_WORKER_HOST=miniflare: wrangler's
// proxy holds ~6 descriptors (and CLOSE-WAIT sockets) per held long poll, so on a machine whose hard
// open-files limit cannot be raised (20,000 here) one `wrangler dev` cannot hold much more than ~3,000
// agents (BENCHMARKS.md, "Capacity after the Postgres-free idle poll"). Production is Cloudflare, not
// wrangler's proxy, so this is the closer stand-in for capacity runs.
//
// The Worker is bundled as `wrangler deploy` bundles it (`wrangler deploy --dry-run --outdir`, as
// scripts/build.ts does), once at start (no rebuild on file changes, unlike `wrangler dev`), or taken
// as it is from --bundle, a folder bundleWorker wrote earlier with the options it read then (the
// tests bundle once for all their services: bundling and loading wrangler are most of a start's
// CPU); its
// options (compatibility date and flags, [vars], Durable Objects with SQLite, module rules) come from
// wrangler.toml through wrangler's own unstable_getMiniflareWorkerOptions; the settings in --env-file
// (as start.ts writes it) are added on top of [vars], as `wrangler dev --env-file` does. Durable Object
// storage goes where `wrangler dev --persist-to` puts it (<persist-to>/v3). Scheduled handlers: GET
// /cdn-cgi/local/scheduled?cron=... (Miniflare's trigger; `wrangler dev --test-scheduled` has /__scheduled).
// Logs as `wrangler dev --log-level warn`: the Worker's console.warn/error and uncaught errors only.
// SIGTERM/SIGINT stop workerd (Miniflare's dispose) and exit. STACKER_INSPECTOR_PORT=N opens workerd's
// inspector (Chrome DevTools protocol) on that port, for CPU profiles.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Log, LogLevel, Miniflare, convertV4MiniflareOptions, type V4MiniflareOptions, type V4WorkerOptions } from 'miniflare';

/** Miniflare's trigger for a Worker's scheduled handler (with unsafeTriggerHandlers). */
export const MINIFLARE_SCHEDULED_PATH = '/cdn-cgi/local/scheduled';

function say(message: string) {
  console.error(`[miniflare] ${message}`);
}

/** Reads an env file as scripts/local-config.ts's toDotenv writes it: NAME=<JSON string> a line. */
export function readEnvFile(path: string): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line.trim());
    if (!match) continue;
    const raw = match[2]!;
    let value = raw;
    if (raw.startsWith('"')) {
      try {
        value = String(JSON.parse(raw));
      } catch {
        value = raw.slice(1, raw.endsWith('"') ? -1 : undefined);
      }
    }
    settings[match[1]!] = value;
  }
  return settings;
}

/** The Worker's Miniflare options from wrangler.toml, and its name, as wrangler itself reads them. */
interface ConfiguredWorker {
  name: string;
  workerOptions: V4WorkerOptions & { modulesRules?: Array<{ type: string; include: string[] }> };
}

/** Where bundleWorker keeps the options it read with the bundle (plain JSON for our wrangler.toml). */
const OPTIONS_FILE = 'worker-options.json';

async function configuredWorker(configPath: string): Promise<ConfiguredWorker> {
  // Loaded only here: wrangler is a 15 MB module, ~2 s of CPU to load (a start from a bundle made
  // earlier does without it).
  const { unstable_getMiniflareWorkerOptions, unstable_readConfig } = await import('wrangler');
  const config = unstable_readConfig({ config: configPath }, { hideWarnings: true });
  const { workerOptions } = unstable_getMiniflareWorkerOptions(config);
  return { name: config.name ?? 'worker', workerOptions: workerOptions as ConfiguredWorker['workerOptions'] };
}

/**
 * The Worker bundled as it would be deployed, into an emptied `outdir` (no stale modules from an
 * earlier bundle), with the options wrangler.toml gives it (OPTIONS_FILE), for `--bundle`.
 */
export async function bundleWorker(outdir: string, configPath = 'wrangler.toml'): Promise<ConfiguredWorker> {
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  say(`bundling the Worker into ${outdir} ...`);
  const [configured] = await Promise.all([configuredWorker(configPath), bundle(outdir)]);
  writeFileSync(join(outdir, OPTIONS_FILE), JSON.stringify(configured));
  return configured;
}

/** `wrangler deploy --dry-run --outdir <outdir>`. */
function bundle(outdir: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('wrangler', ['deploy', '--dry-run', '--outdir', outdir], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false' },
    });
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      code === 0 ? resolvePromise() : reject(new Error(`wrangler deploy --dry-run failed (${code ?? signal})`)),
    );
  });
}

type ModuleType = 'ESModule' | 'CommonJS' | 'Text' | 'Data' | 'CompiledWasm';

/**
 * The bundle's modules: index.js (ESM), then any other file wrangler wrote next to it (e.g. a .wasm
 * or .txt it did not inline), typed by wrangler.toml's module rules (Miniflare 5 no longer applies
 * `modulesRules` itself). Only the `**\/*.ext` patterns wrangler's defaults use are understood.
 */
function bundleModules(outdir: string, rules: ReadonlyArray<{ type: string; include: readonly string[] }>): Array<{ type: ModuleType; path: string }> {
  const modules: Array<{ type: ModuleType; path: string }> = [{ type: 'ESModule', path: join(outdir, 'index.js') }];
  for (const name of readdirSync(outdir, { recursive: true, encoding: 'utf8' }).sort()) {
    if (name === 'index.js' || name === 'README.md' || name === OPTIONS_FILE || name.endsWith('.map') || statSync(join(outdir, name)).isDirectory()) continue;
    const rule = rules.find((candidate) =>
      candidate.include.some((glob) => {
        const suffix = /^\*\*\/\*(\.[^*/?]+)(\?module)?$/.exec(glob)?.[1];
        return suffix !== undefined && name.endsWith(suffix);
      }),
    );
    const type = (rule?.type ?? (name.endsWith('.js') || name.endsWith('.mjs') ? 'ESModule' : name.endsWith('.cjs') ? 'CommonJS' : undefined)) as ModuleType | undefined;
    if (!type) throw new Error(`${join(outdir, name)}: no module rule for this file in the bundle`);
    modules.push({ type, path: join(outdir, name) });
  }
  if (modules.length > 1) say(`extra modules in the bundle: ${modules.slice(1).map((module) => `${module.path} (${module.type})`).join(', ')}`);
  return modules;
}

export interface MiniflareServer {
  url: string;
  mf: Miniflare;
  close(): Promise<void>;
}

export async function serveWithMiniflare(options: {
  ip: string;
  port: number;
  settings: Record<string, string>;
  persistTo: string;
  outdir: string;
  /** A bundle already made by `wrangler deploy --dry-run --outdir` (bundleWorker): used as it is, not rebuilt. */
  bundled?: boolean;
  configPath?: string;
}): Promise<MiniflareServer> {
  // No outbound calls to Cloudflare (request.cf is Miniflare's fixed stand-in).
  process.env.CLOUDFLARE_CF_FETCH_ENABLED = 'false';
  const configPath = options.configPath ?? 'wrangler.toml';
  const outdir = resolve(options.outdir);
  let configured: ConfiguredWorker;
  if (options.bundled) {
    if (!existsSync(join(outdir, 'index.js'))) throw new Error(`${outdir}: no index.js (make it with \`wrangler deploy --dry-run --outdir ${outdir}\`)`);
    say(`serving the Worker bundled earlier in ${outdir}`);
    // A folder bundleWorker made has the options it read then; one `wrangler deploy` made has not.
    const saved = join(outdir, OPTIONS_FILE);
    configured = existsSync(saved) ? (JSON.parse(readFileSync(saved, 'utf8')) as ConfiguredWorker) : await configuredWorker(configPath);
  } else {
    configured = await bundleWorker(outdir, configPath);
  }
  const { modulesRules, ...fromConfig } = configured.workerOptions;
  const vars = fromConfig.bindings ?? {};
  const worker: V4WorkerOptions = {
    ...fromConfig,
    name: configured.name,
    rootPath: outdir,
    modulesRoot: outdir,
    modules: bundleModules(outdir, modulesRules ?? []),
    // [vars] first, then the settings: `wrangler dev --env-file` lets the file override [vars].
    bindings: { ...vars, ...options.settings },
    // Crons are triggered by start.ts (MINIFLARE_SCHEDULED_PATH), as under `wrangler dev`.
    cronTriggers: undefined,
  };

  const miniflareOptions: V4MiniflareOptions = {
    host: options.ip,
    port: options.port,
    log: new Log(LogLevel.WARN),
    logRequests: false,
    handleStructuredLogs: ({ level, message }: { level: string; message: string }) => {
      if (level === 'error' || level === 'warn') console.error(message);
    },
    unsafeHandleRuntimeRestart: () => say('workerd crashed and was restarted (requests in flight were lost)'),
    cf: false,
    unsafeTriggerHandlers: true,
    unsafeObservability: false,
    unsafeLocalExplorer: false,
    enableDevRegistry: false,
    telemetry: { enabled: false },
    resourcePersistencePath: join(resolve(options.persistTo), 'v3'),
    // For CPU profiles (bench/profile-first-poll.ts): the Worker's isolate on the DevTools protocol.
    ...(process.env.STACKER_INSPECTOR_PORT ? { inspectorPort: Number(process.env.STACKER_INSPECTOR_PORT) } : {}),
    resourceTmpPath: join(resolve(options.persistTo), '..', 'miniflare-tmp'),
    workers: [worker],
  };
  // Miniflare 5 takes a per-worker `config` shape; wrangler's helper gives the older flat ("V4")
  // options, which Miniflare converts as wrangler does.
  const mf = new Miniflare(convertV4MiniflareOptions(miniflareOptions));
  const url = await mf.ready;
  let closing: Promise<void> | undefined;
  return { url: url.origin, mf, close: () => (closing ??= mf.dispose()) };
}

async function main() {
  const { values } = parseArgs({
    options: {
      ip: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string' },
      'env-file': { type: 'string' },
      'persist-to': { type: 'string' },
      outdir: { type: 'string' },
      bundle: { type: 'string' },
      config: { type: 'string', default: 'wrangler.toml' },
    },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || !values['persist-to']) {
    console.error('usage: node scripts/serve-miniflare.ts --port N [--ip 127.0.0.1] [--env-file F] --persist-to DIR [--outdir DIR | --bundle DIR] [--config wrangler.toml]');
    process.exit(2);
  }
  let server: MiniflareServer | undefined;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    await server?.close().catch(() => undefined);
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  server = await serveWithMiniflare({
    ip: values.ip!,
    port,
    settings: values['env-file'] ? readEnvFile(values['env-file']) : {},
    persistTo: values['persist-to'],
    outdir: values.bundle ?? values.outdir ?? join(values['persist-to'], '..', 'miniflare-bundle'),
    bundled: values.bundle !== undefined,
    configPath: values.config,
  });
  if (stopping) await server.close();
  else say(`the Worker is served by Miniflare (one workerd, no wrangler proxy) on ${server.url}`);
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    console.error(`[miniflare] failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  });
}
