// Hostile input, every operation of the OpenAPI document the app serves (issue 7, point 1).
//
// For each operation, fast-check generates requests that are certainly invalid: bodies of wrong
// types, with missing fields or values out of range, huge strings and arrays, deep nesting, invalid
// UTF-8 and malformed JSON; wrong or duplicated content types; path parameters out of range, not
// numbers, unicode, very long, traversal attempts and NUL; broken query and header parameters; and
// malformed, duplicated, forged or stale credentials. Each is sent as a subject allowed on the route
// (so it reaches validation), except the credential cases, and must be answered with a 4xx JSON
// error. All of it runs against a database of its own, seeded through the API; no refused request
// may change a stored row.
//
// Reproduce a failure: fast-check prints the failing case with its `seed` and `path`; pass both to that
// fc.assert (options `{ seed, path }`) to replay exactly it. Change SEED to explore other cases.
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { apiWith, jsonRequest } from '../helpers/api.ts';
import { categoriesFor, CATEGORIES, HostileRequests, send, subjectsFor, type Category, type Plan, type Subject } from '../helpers/hostile/requests.ts';
import { OpenApiDocument } from '../helpers/hostile/schema.ts';
import { fingerprintTables, isolated, recordedSignedRequestIds, seedThroughApi } from '../helpers/hostile/seed.ts';

const SEED = 20_260_701;

/** Cases per operation and category: enough to vary each defect, small enough for ~60 s on 2 cores. */
const RUNS: Record<Category, number> = { body: 20, 'content-type': 12, path: 10, query: 15, header: 4, auth: 8 };

// The document is read from the app before the tests are collected, so each operation gets its own test.
const document = new OpenApiDocument(await (await apiWith(isolated(), '/openapi.json')).json());

function seedFor(...parts: string[]): number {
  let hash = SEED;
  for (const char of parts.join(' ')) hash = (Math.imul(hash, 31) + char.charCodeAt(0)) | 0;
  return hash;
}

async function expectRefused(plan: Plan): Promise<void> {
  const response = await send(plan);
  const text = await response.text();
  const where = `${plan.category} case for ${plan.op.key} as ${plan.who} (${plan.defect}) answered ${response.status}: ${text.slice(0, 300)}`;
  expect(plan.expected, where).toContain(response.status);
  expect(response.headers.get('content-type') ?? '', where).toMatch(/^application\/json/);
  const body = JSON.parse(text) as { message?: unknown };
  expect(typeof body.message, where).toBe('string');
}

describe('hostile input to every operation of /openapi.json', () => {
  let requests: HostileRequests;
  let agentDeployment: string;
  let before: Record<string, string>;
  /** Correctly signed agent requests that reached authentication: each records its X-Request-Id. */
  let signedAgentRequests = 0;
  /** Hostile requests sent, by operation and category. */
  const sent = new Map<string, Map<Category, number>>();

  beforeAll(async () => {
    const seeded = await seedThroughApi();
    agentDeployment = seeded.agent.deploymentHash;
    requests = new HostileRequests(document, seeded);
    before = await fingerprintTables();
  }, 60_000);

  it('reads the operations and security of the document, and has a clean request for each', async () => {
    expect(document.operations.length).toBeGreaterThan(50);
    expect(document.unsupported).toEqual([]);
    for (const op of document.operations) {
      expect(subjectsFor(op), `${op.key}: no subject may call it`).not.toEqual([]);
      if (op.body) expect(document.conforms(op.body.schema, requests.cleanBody(op)!), `${op.key}: the clean body does not fit its schema`).toBe(true);
      for (const parameter of op.parameters.filter((p) => p.in === 'path')) {
        expect(requests.pathVerdict(op, parameter, requests.url(op)), `${op.key} {${parameter.name}}`).toBeUndefined();
      }
    }
  });

  it('authenticates each subject with the credentials the hostile cases use', async () => {
    const kinds: Record<Exclude<Subject, 'webhook'>, string> = { anonymous: 'anonymous', user: 'user', admin: 'user', client: 'client', agent: 'agent', 'agent-signed': 'agent' };
    for (const [subject, kind] of Object.entries(kinds)) {
      const headers = await requests.credentialsOf(subject as Subject)(new Uint8Array(), { method: 'GET', url: '/whoami' });
      const response = await apiWith(isolated(), '/whoami', { headers });
      expect(response.status, subject).toBe(200);
      expect(((await response.json()) as { item: { kind: string } }).item.kind, subject).toBe(kind);
      if (subject === 'agent-signed') signedAgentRequests++;
    }
    // A correctly signed progress message for no deployment: past the signature check, refused as unknown.
    const body = new TextEncoder().encode(JSON.stringify({ deploy_id: 2_147_483_647, status: 'in_progress' }));
    const headers = [['content-type', 'application/json'], ...(await requests.credentialsOf('webhook')(body, { method: 'POST', url: '/webhooks/install' }))] as Array<[string, string]>;
    const response = await apiWith(isolated(), '/webhooks/install', { method: 'POST', headers, body });
    expect(response.status).toBe(404);
    // Unsigned, the same message stops at the signature check.
    const unsigned = await apiWith(isolated(), '/webhooks/install', jsonRequest('POST', { deploy_id: 2_147_483_647, status: 'in_progress' }));
    expect(unsigned.status).toBe(401);
  });

  describe.each(document.operations.map((op) => [op.key, op] as const))('%s', (key, op) => {
    it.each(categoriesFor(op).map((category) => [category] as const))('refuses %s defects with a 4xx JSON error', async (category) => {
      await fc.assert(
        fc.asyncProperty(requests.plans(op, category), async (plan) => {
          if (plan.who === 'agent-signed' && !plan.beforeAuthentication) signedAgentRequests++;
          const counts = sent.get(key) ?? new Map<Category, number>();
          sent.set(key, counts.set(category, (counts.get(category) ?? 0) + 1));
          await expectRefused(plan);
        }),
        { seed: seedFor(key, category), numRuns: RUNS[category] },
      );
    });
  });

  it('gave every operation of the document a hostile case of each kind it can take', () => {
    const missing = document.operations.flatMap((op) =>
      categoriesFor(op)
        .filter((category) => !sent.get(op.key)?.get(category))
        .map((category) => `${op.key}: ${category}`),
    );
    expect(missing).toEqual([]);
    // Every kind of defect was sent somewhere (a category no operation can take would be a dead generator).
    expect(CATEGORIES.filter((category) => !document.operations.some((op) => sent.get(op.key)?.get(category)))).toEqual([]);
  });

  it('changed no stored row while refusing them', async () => {
    const after = await fingerprintTables();
    const changed = Object.keys({ ...before, ...after }).filter((table) => before[table] !== after[table]);
    expect(changed.map((table) => `${table}: ${before[table]} -> ${after[table]}`)).toEqual([]);
    // The one table allowed to grow did so by exactly the correctly signed agent requests the suite sent.
    expect(signedAgentRequests).toBeGreaterThan(0);
    expect(await recordedSignedRequestIds(agentDeployment)).toBe(signedAgentRequests);
  });
});
