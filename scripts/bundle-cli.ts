// The `stacker` command line in one ES module: cli/stacker/main.ts and everything it imports, bundled
// by esbuild for Node. The source runs as it is (cli/stacker/bin.js strips its types on the fly), but
// each start then resolves, reads and evaluates some 150 modules: a bundled start costs about half the
// CPU (BENCHMARKS.md, "The test suite's CPU"). The node project's CLI journeys run the bundle, made
// once per test run (tests/node/global-setup.ts); bin.js keeps its own tests.
//   node scripts/bundle-cli.ts <outfile.mjs>
import { join } from 'node:path';
import { build } from 'esbuild';

const entry = join(import.meta.dirname, '..', 'cli', 'stacker', 'main.ts');

/** Bundles the CLI into `outfile` (an .mjs file, run as `node outfile args...`). */
export async function bundleCli(outfile: string): Promise<void> {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
    // Some dependencies are CommonJS and call require() for Node's built-ins, which an ES module lacks.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  });
}

if (import.meta.main) {
  const outfile = process.argv[2];
  if (!outfile) {
    console.error('usage: node scripts/bundle-cli.ts <outfile.mjs>');
    process.exit(2);
  }
  await bundleCli(outfile);
}
