// GET /project/{id}/compose through the whole local service (npm start: wrangler dev, the Neon driver
// over the WebSocket proxy, PostgreSQL), for the project of custom-stack-payload.json.
// Run: node_modules/.bin/node bench/compose-http.ts [--duration 10] [--connections 10]
import autocannon from 'autocannon';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { projectFormSchema } from '../functions/services/inputs/projects.ts';
import { normaliseProjectForm } from '../functions/services/project-form.ts';
import { machine, projectRoot, RATE_LIMITS_OFF, startService } from './lib/service.ts';

const { values } = parseArgs({
  options: { duration: { type: 'string', default: process.env.BENCH_DURATION ?? '10' }, connections: { type: 'string', default: process.env.BENCH_CONNECTIONS ?? '10' } },
});
const duration = Number(values.duration);
const connections = Number(values.connections);

const fixture = join(projectRoot, 'tests', 'fixtures', 'reference-payloads', 'custom-stack-payload.json');
const body = JSON.parse(readFileSync(fixture, 'utf8')) as unknown;
const metadata = normaliseProjectForm(projectFormSchema.parse(body));
const owner = 'composebench1';

const service = await startService('bench_compose', RATE_LIMITS_OFF);
let failed = false;
try {
  // The project row as POST /project writes it (no Docker Hub here: the bench has no stand-in for it).
  const client = new pg.Client({ connectionString: service.databaseUrl });
  await client.connect();
  const inserted = await client.query<{ id: number }>(
    `insert into project (stack_id, user_id, name, metadata, request_json) values (gen_random_uuid(), $1, $2, $3, $4) returning id`,
    [owner, metadata.custom.custom_stack_code, JSON.stringify(metadata), JSON.stringify(body)],
  );
  await client.end();
  const url = `${service.baseUrl}/project/${inserted.rows[0]!.id}/compose`;
  const headers = { authorization: `Bearer user-group_user-${owner}` };

  const check = await fetch(url, { headers });
  if (check.status !== 200) throw new Error(`GET compose answered ${check.status}: ${await check.text()}`);

  await autocannon({ url, headers, connections, duration: 2 });
  const result = await autocannon({ url, headers, connections, duration });
  const non2xx = result.non2xx;
  failed = non2xx > 0 || result.errors > 0;
  console.log(`\nMachine: ${machine()}`);
  console.log(`Command: node bench/compose-http.ts --duration ${duration} --connections ${connections}`);
  console.log(`Date: ${new Date().toISOString()}\n`);
  console.log('| route | requests/s | p50 ms | p99 ms | non-2xx | errors |');
  console.log('|---|--:|--:|--:|--:|--:|');
  console.log(`| GET /project/{id}/compose | ${Math.round(result.requests.average)} | ${result.latency.p50} | ${result.latency.p99} | ${non2xx} | ${result.errors} |`);
} finally {
  await service.stop();
}
process.exit(failed ? 1 : 0);
