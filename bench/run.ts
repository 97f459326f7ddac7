// npm run bench: every benchmark in bench/ (each bench/<name>.ts but this one), one after another.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const benches = readdirSync(import.meta.dirname)
  .filter((file) => file.endsWith('.ts') && file !== 'run.ts')
  .sort();

// Ctrl-C reaches the running benchmark too (same process group): let it clean up, then stop here.
let interrupted = false;
process.on('SIGINT', () => (interrupted = true));

const failed: string[] = [];
for (const bench of benches) {
  if (interrupted) break;
  console.log(`\n## bench/${bench}\n`);
  const code = await new Promise<number | null>((resolve) => {
    spawn(process.execPath, [join(import.meta.dirname, bench)], { stdio: 'inherit' }).once('exit', resolve);
  });
  if (code !== 0) failed.push(bench);
}
if (failed.length) console.error(`\nbenchmarks failed: ${failed.join(', ')}`);
process.exit(failed.length || interrupted ? 1 : 0);
