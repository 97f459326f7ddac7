// Where `stacker login` keeps what it got: $XDG_CONFIG_HOME/stacker/credentials.json (default
// ~/.config/stacker), mode 0600 in a 0700 folder, one entry per server URL. Never printed.
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';

const entrySchema = z.object({
  access_token: z.string().min(1),
  refresh_token: z.string().optional(),
  /** Seconds since the epoch, when known. */
  expires_at: z.number().optional(),
  token_url: z.string().optional(),
  client_id: z.string().optional(),
  /** How it was obtained: "browser" (code + PKCE) or "token" (--token). */
  method: z.enum(['browser', 'token']),
  user_id: z.string().optional(),
  saved_at: z.string(),
});
export type CredentialEntry = z.infer<typeof entrySchema>;
const fileSchema = z.object({ servers: z.record(z.string(), entrySchema) });

export function configDir(): string {
  const base = process.env.XDG_CONFIG_HOME && process.env.XDG_CONFIG_HOME.startsWith('/') ? process.env.XDG_CONFIG_HOME : join(homedir(), '.config');
  return join(base, 'stacker');
}

export const credentialsPath = () => join(configDir(), 'credentials.json');

function readAll(): z.infer<typeof fileSchema> {
  const path = credentialsPath();
  if (!existsSync(path)) return { servers: {} };
  try {
    return fileSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
  } catch {
    return { servers: {} };
  }
}

function writeAll(data: z.infer<typeof fileSchema>): void {
  const dir = configDir();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = credentialsPath();
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, path);
}

export const serverKey = (apiUrl: string) => apiUrl.replace(/\/+$/, '');

export function loadCredentials(apiUrl: string): CredentialEntry | undefined {
  return readAll().servers[serverKey(apiUrl)];
}

export function saveCredentials(apiUrl: string, entry: CredentialEntry): void {
  const data = readAll();
  data.servers[serverKey(apiUrl)] = entry;
  writeAll(data);
}

/** Forgets the server's credentials; true if there were some. */
export function removeCredentials(apiUrl: string): boolean {
  const data = readAll();
  const key = serverKey(apiUrl);
  if (!data.servers[key]) return false;
  delete data.servers[key];
  if (Object.keys(data.servers).length === 0) rmSync(credentialsPath(), { force: true });
  else writeAll(data);
  return true;
}
