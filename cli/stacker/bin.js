#!/usr/bin/env node
// The `stacker` command: runs cli/stacker/main.ts on the project's own Node (node_modules/node, a
// Node 24 that runs TypeScript by type stripping). Plain JavaScript so that any Node can start it: on
// a Node that strips types itself (>= 22.18) main.ts is imported in this process; otherwise (the
// system's Node 20, say) the project's Node is spawned with the same arguments, stdio and exit code.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import module from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const main = join(here, 'main.ts');
const [major, minor] = process.versions.node.split('.').map(Number);
const stripsTypes = major > 22 || (major === 22 && minor >= 18);

if (stripsTypes) {
  // A later start reuses the modules compiled (and stripped of their types) here: about half of what
  // a start costs. In the operating system's temporary folder; not with NODE_DISABLE_COMPILE_CACHE set.
  module.enableCompileCache?.();
  await import(pathToFileURL(main).href);
} else {
  const root = join(here, '..', '..');
  const candidates = [join(root, 'node_modules', 'node', 'bin', 'node'), join(root, 'node_modules', '.bin', 'node')];
  const node = candidates.find((path) => existsSync(path));
  if (!node) {
    process.stderr.write(`stacker: Node ${process.versions.node} cannot run it and the project's Node 24 is not installed: run \`npm ci\` in ${root}\n`);
    process.exit(1);
  }
  const child = spawn(node, [main, ...process.argv.slice(2)], { stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 + (signal === 'SIGINT' ? 2 : 15) : 1)));
}
