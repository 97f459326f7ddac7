// What a running `npm start` tells the other local tools (the console, dev-login): the addresses of
// the Worker and of the stand-ins it started, in <data dir>/local-run.json while it runs.
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface LocalRun {
  pid: number;
  /** The Worker's base URL. */
  url: string;
  /** VAULT_ADDRESS, OAUTH_ISSUER, INSTALL_SERVICE_URL: those of them npm start stands in for. */
  services: Record<string, string>;
}

const runFile = (dataDir: string) => join(dataDir, 'local-run.json');

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function writeLocalRun(dataDir: string, run: Omit<LocalRun, 'pid'>): () => void {
  const path = runFile(dataDir);
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify({ pid: process.pid, ...run }, null, 2), { mode: 0o600 });
  renameSync(temporary, path);
  return () => {
    if (readLocalRun(dataDir)?.pid === process.pid) rmSync(path, { force: true });
  };
}

/** The running `npm start` of this data folder, if one runs. */
export function readLocalRun(dataDir: string): LocalRun | undefined {
  try {
    const run = JSON.parse(readFileSync(runFile(dataDir), 'utf8')) as LocalRun;
    return isAlive(run.pid) ? run : undefined;
  } catch {
    return undefined;
  }
}
