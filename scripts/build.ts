// npm run build: bundles the Worker as `wrangler deploy` would (without deploying) into dist/, and
// fails if the compressed Worker is over this project's budget of 1 MiB.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const LIMIT_BYTES = 1024 * 1024;
const outdir = 'dist';
const build = spawnSync('wrangler', ['deploy', '--dry-run', '--outdir', outdir], {
  stdio: ['ignore', 'inherit', 'inherit'],
  env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false' },
});
if (build.status !== 0) {
  console.error(`build: wrangler deploy --dry-run failed (${build.status ?? build.signal})`);
  process.exit(1);
}
const bundle = readFileSync(join(outdir, 'index.js'));
const compressed = gzipSync(bundle, { level: 9 }).length;
const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
console.log(`build: ${join(outdir, 'index.js')} is ${kib(bundle.length)}, ${kib(compressed)} gzipped (budget ${kib(LIMIT_BYTES)})`);
if (compressed > LIMIT_BYTES) {
  console.error('build: the compressed Worker is over budget');
  process.exit(1);
}
