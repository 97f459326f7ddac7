// In-process benchmark of the compose builder: the YAML of custom-stack-payload.json, built in a loop.
// Run: node_modules/.bin/node bench/compose.ts
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildCompose } from '../functions/services/compose.ts';
import { projectFormSchema } from '../functions/services/inputs/projects.ts';
import { normaliseProjectForm } from '../functions/services/project-form.ts';

const WARM_UP_MS = 1_000;
const MEASURE_MS = 5_000;
const BATCH = 100;

const fixture = join(import.meta.dirname, '..', 'tests', 'fixtures', 'reference-payloads', 'custom-stack-payload.json');
const metadata = normaliseProjectForm(projectFormSchema.parse(JSON.parse(readFileSync(fixture, 'utf8'))));

/** Builds for `durationMs`, checking the clock once per batch; returns documents built and elapsed ms. */
function run(durationMs: number): { documents: number; elapsedMs: number; bytes: number } {
  let documents = 0;
  let bytes = 0;
  const start = performance.now();
  let elapsedMs = 0;
  while (elapsedMs < durationMs) {
    for (let i = 0; i < BATCH; i++) bytes += buildCompose(metadata).yaml.length;
    documents += BATCH;
    elapsedMs = performance.now() - start;
  }
  return { documents, elapsedMs, bytes };
}

run(WARM_UP_MS);
const { documents, elapsedMs, bytes } = run(MEASURE_MS);
const perSecond = Math.round((documents / elapsedMs) * 1000);
const meanMicros = ((elapsedMs * 1000) / documents).toFixed(1);
console.log(
  `compose custom-stack-payload.json: ${perSecond} documents/s, mean ${meanMicros} µs/document ` +
    `(${documents} documents, ${bytes / documents} bytes each, ${(elapsedMs / 1000).toFixed(1)} s after ${WARM_UP_MS / 1000} s warm-up, node ${process.version})`,
);
