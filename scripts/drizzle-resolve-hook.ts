// Loading drizzle-orm as ES modules costs Node 24 about a second of CPU: for each of its few hundred
// files, Node's resolver looks up the package's "type" by deserializing its package.json, and
// drizzle-orm's is 175 KB of "exports", parsed again every time (node:internal/modules/
// package_json_reader; --cpu-prof of a console command: 0.8 s of 1.6 s). The console and npm start
// pay it on every run, and the test suite runs them dozens of times.
//
// This resolve hook answers drizzle-orm's relative imports of its own .js files itself: the file
// next to the importer, as an ES module, which is what Node would answer (the package says
// "type": "module"; checked once here, or the hook stays off). Every other import goes to Node.
// Import this module before anything that imports drizzle-orm.
import { readFileSync } from 'node:fs';
import { registerHooks } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

function drizzleRoot(): string | undefined {
  try {
    const entry = import.meta.resolve('drizzle-orm');
    const root = new URL('./', entry).href;
    const manifest = JSON.parse(readFileSync(join(fileURLToPath(root), 'package.json'), 'utf8')) as { name?: string; type?: string };
    return manifest.name === 'drizzle-orm' && manifest.type === 'module' ? root : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the hook is on, and how many imports it has answered (for its test). */
export const drizzleResolveHook = { registered: false, answered: 0 };

const root = drizzleRoot();
if (root && typeof registerHooks === 'function') {
  drizzleResolveHook.registered = true;
  registerHooks({
    resolve(specifier, context, nextResolve) {
      const parent = context.parentURL;
      if (parent?.startsWith(root) && (specifier.startsWith('./') || specifier.startsWith('../')) && specifier.endsWith('.js')) {
        const url = new URL(specifier, parent).href;
        if (url.startsWith(root)) {
          drizzleResolveHook.answered++;
          return { url, format: 'module', shortCircuit: true };
        }
      }
      return nextResolve(specifier, context);
    },
  });
}
