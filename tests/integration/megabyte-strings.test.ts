// Megabyte strings (issue 29 point 2): every operation of /openapi.json that takes text, and every form
// the dashboard posts, fed one 1 MB string of dashes, "a-", spaces or nested brackets in one of its
// text inputs, answers a 4xx within a second. `/^-+|-+$/g` (the slug of a volume's container_path in
// compose.ts, a new app's name in the builder) backtracked quadratically on a long inner run of
// dashes: one request burned minutes of CPU. Every free-text field now has a cap (docs/security.md).
//
// Each text input of each operation and form gets one string (fast-check's examples, so none is left
// to chance), then fast-check adds random ones; the shape (what repeats, and a first and last character
// that make a run of dashes inner) is fast-check's. Only the request is timed. Reproduce a failure with
// the `seed` and `path` fast-check prints.
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { dashboardRoutes } from '../../functions/dashboard/index.tsx';
import { apiWith, BASE_URL, jsonRequest } from '../helpers/api.ts';
import { uniqueId } from '../helpers/auth.ts';
import { signedIn } from '../helpers/dashboard.ts';
import { projectForms } from '../helpers/fixtures.ts';
import { slotsOf, withValueAt } from '../helpers/hostile/bodies.ts';
import { HostileRequests, subjectsFor, type Subject } from '../helpers/hostile/requests.ts';
import { encodeJson, OpenApiDocument, type Operation, type Value } from '../helpers/hostile/schema.ts';
import { seedThroughApi, type Seeded } from '../helpers/hostile/seed.ts';

const SIZE = 1_000_000;
const WITHIN_MS = 1_000;
const SEED = 20_261_207;

const shapes = fc.record({
  unit: fc.constantFrom('-', 'a-', ' ', '[]', '{[(<'),
  first: fc.constantFrom('', 'a', 'x/'),
  last: fc.constantFrom('', 'a', '!'),
});
type Shape = { unit: string; first: string; last: string };
const SHAPES: Shape[] = [
  { unit: '-', first: 'a', last: 'a' },
  { unit: 'a-', first: '', last: '' },
  { unit: ' ', first: 'x/', last: '!' },
  { unit: '[]', first: '', last: 'a' },
  { unit: '{[(<', first: 'a', last: '' },
  { unit: '-', first: '', last: '' },
];

/** 1 MB: the unit repeated (nested: all openers, then all closers), between a first and a last character. */
function megabyte(shape: Shape): string {
  const inner = SIZE - shape.first.length - shape.last.length;
  if (shape.unit.length > 1 && /^[[{(<]/.test(shape.unit) && shape.unit !== 'a-') {
    const openers = shape.unit.replace(/[\])}>]/g, '');
    const closers = [...openers].reverse().map((c) => ({ '[': ']', '{': '}', '(': ')', '<': '>' })[c]).join('');
    const depth = Math.floor(inner / (openers.length * 2));
    return shape.first + (openers.repeat(depth) + closers.repeat(depth)).padEnd(inner, closers.at(-1)) + shape.last;
  }
  return shape.first + shape.unit.repeat(Math.ceil(inner / shape.unit.length)).slice(0, inner) + shape.last;
}
const describeShape = (shape: Shape) => `${JSON.stringify(shape.first)} + ${JSON.stringify(shape.unit)} x ${SIZE} + ${JSON.stringify(shape.last)}`;

/**
 * The request's status and time (the request alone is timed). On a loaded machine one request can
 * wait its turn for a CPU: one over the bound is sent again, up to twice, and the fastest counts. Work
 * that grows with the input (a backtracking regex) is slow every time.
 */
async function timed(prepare: () => Promise<() => Promise<Response>>): Promise<{ status: number; ms: number; text: string }> {
  let best: { status: number; ms: number; text: string } | undefined;
  for (let attempt = 0; attempt < 3 && (best === undefined || best.ms >= WITHIN_MS); attempt++) {
    const send = await prepare(); // the body and its signature (a fresh nonce each time) are made untimed
    const started = performance.now();
    const response = await send();
    const text = await response.text();
    const ms = performance.now() - started;
    if (best === undefined || ms < best.ms) best = { status: response.status, ms, text };
  }
  return best!;
}

function expectRefusedInTime(result: { status: number; ms: number; text: string }, where: string) {
  expect(result.status, `${where} answered ${result.status}: ${result.text.slice(0, 300)}`).toBeGreaterThanOrEqual(400);
  expect(result.status, `${where} answered ${result.status}: ${result.text.slice(0, 300)}`).toBeLessThan(500);
  expect(result.ms, `${where} took ${Math.round(result.ms)} ms`).toBeLessThan(WITHIN_MS);
}

// ---- the API ----------------------------------------------------------------------------------------

/** Where one string can go in a request of the operation. */
type Input = { kind: 'body'; path: Array<string | number> } | { kind: 'path' | 'query' | 'header'; name: string };
const describeInput = (input: Input) => (input.kind === 'body' ? `body ${input.path.join('.') || '(root)'}` : `${input.kind} ${input.name}`);

const document = new OpenApiDocument(await (await apiWith({}, '/openapi.json')).json());

/**
 * The body a text goes into: for the project form the suite's fixture (one the service accepts
 * whole, with apps), so a refusal comes from the text's cap; elsewhere the document's clean body.
 */
function bodyOf(requests: HostileRequests, op: Operation): Value | undefined {
  if (op.body?.schemaName === 'ProjectForm') return projectFormWithEveryList;
  return requests.cleanBody(op);
}

/** The fixture with a volume, a variable and a network on its first app, so their text fields are fed too. */
const projectFormWithEveryList = (() => {
  const form = structuredClone(projectForms[2]!.body) as { custom: { web: Array<Record<string, unknown>> } };
  Object.assign(form.custom.web[0]!, { volumes: [{ host_path: 'data', container_path: '/data' }], environment: [{ key: 'MODE', value: 'production' }] });
  return form as unknown as Value;
})();

function textInputs(requests: HostileRequests, op: Operation): Input[] {
  const inputs: Input[] = [];
  for (const parameter of op.parameters) {
    if (document.typesOf(parameter.schema)?.has('string')) inputs.push({ kind: parameter.in, name: parameter.name });
  }
  if (op.body) {
    const clean = bodyOf(requests, op)!;
    for (const slot of slotsOf(document, op.body.schema, clean)) {
      if (slot.path.length > 0 && document.typesOf(slot.schema)?.has('string')) {
        inputs.push({ kind: 'body', path: slot.path });
      }
    }
  }
  return inputs;
}

function subjectOf(op: Operation): Subject {
  const subjects = subjectsFor(op);
  return subjects.find((subject) => subject !== 'anonymous' && subject !== 'agent-signed') ?? subjects[0]!;
}

/** The request, signed and ready: calling it sends it. */
async function prepareApi(requests: HostileRequests, op: Operation, input: Input, value: string): Promise<() => Promise<Response>> {
  const pathValues = input.kind === 'path' ? { [input.name]: encodeURIComponent(value) } : {};
  const query = input.kind === 'query' ? `${encodeURIComponent(input.name)}=${encodeURIComponent(value)}` : '';
  const url = requests.url(op, pathValues, query);
  const clean = bodyOf(requests, op);
  const body = clean === undefined ? undefined : encodeJson(input.kind === 'body' ? withValueAt(clean, input.path, value) : clean);
  const headers = new Headers(body ? { 'content-type': 'application/json' } : {});
  if (input.kind === 'header') headers.set(input.name, value);
  for (const [name, header] of await requests.credentialsOf(subjectOf(op))(body ?? new Uint8Array(), { method: op.method, url })) headers.append(name, header);
  return () => apiWith({}, url, { method: op.method, headers, body: op.method === 'GET' ? undefined : body });
}

const sendApi = async (requests: HostileRequests, op: Operation, input: Input, value: string) => (await prepareApi(requests, op, input, value))();

// ---- the dashboard ----------------------------------------------------------------------------------

interface PostedForm {
  action: string;
  fields: Array<[string, string]>;
}

/** The post forms of a page, each with the values a browser would send untouched. */
function formsOf(html: string): PostedForm[] {
  const forms: PostedForm[] = [];
  for (const match of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)) {
    const attributes = match[1]!;
    if (!/method="post"/i.test(attributes)) continue;
    const action = /action="([^"]*)"/.exec(attributes)?.[1];
    if (!action) continue;
    const fields: Array<[string, string]> = [];
    const body = match[2]!;
    for (const control of body.matchAll(/<(input|textarea|select)\b([^>]*)>([\s\S]*?(?:<\/textarea>|<\/select>))?/g)) {
      const attrs = control[2]!;
      const name = /\bname="([^"]*)"/.exec(attrs)?.[1];
      if (!name) continue;
      const type = /\btype="([^"]*)"/.exec(attrs)?.[1] ?? 'text';
      if ((type === 'checkbox' || type === 'radio') && !/\bchecked\b/.test(attrs)) continue;
      if (type === 'submit' || type === 'button' || type === 'file') continue;
      let value = /\bvalue="([^"]*)"/.exec(attrs)?.[1] ?? '';
      if (control[1] === 'textarea') value = /^([\s\S]*?)<\/textarea>/.exec(control[3] ?? '')?.[1] ?? '';
      if (control[1] === 'select') {
        const options = [...(control[3] ?? '').matchAll(/<option\b([^>]*)>/g)].map((option) => option[1]!);
        const chosen = options.find((option) => /\bselected\b/.test(option)) ?? options.find((option) => !/\bdisabled\b/.test(option));
        value = chosen ? (/\bvalue="([^"]*)"/.exec(chosen)?.[1] ?? '') : '';
      }
      fields.push([name, decodeEntities(value)]);
    }
    forms.push({ action: decodeEntities(action), fields });
  }
  return forms;
}

const decodeEntities = (text: string) =>
  text.replace(/&(amp|lt|gt|quot|#39|#x27);/g, (_, entity: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", '#x27': "'" })[entity]!);

/** What a person types into fields the page leaves empty, so the rest of a form is valid. */
const TYPED: Record<string, string> = { image: 'nginx', app_name: 'extra', name: 'hostile-form', network_name: 'backnet', tag: '1.27', srv_ip: '203.0.113.9' };

const routePattern = (path: string) => new RegExp(`^${path.replace(/:[A-Za-z]+/g, '[^/]+')}$`);

// ---- the tests --------------------------------------------------------------------------------------

describe('1 MB strings in every text input', () => {
  let seeded: Seeded;
  let requests: HostileRequests;

  beforeAll(async () => {
    seeded = await seedThroughApi({}, uniqueId('mbowner'), uniqueId('mbadmin'));
    requests = new HostileRequests(document, seeded);
  }, 60_000);

  const operations = document.operations.filter((op) => op.body || op.parameters.length > 0);

  it('the API document has operations that take text, and the generator makes 1 MB of each shape', async () => {
    expect(operations.length).toBeGreaterThan(40);
    // The project form's body is one the service takes: a refusal below is the text's.
    const form = document.operations.find((op) => op.key === 'PUT /project/{id}')!;
    expect(form.body?.schemaName).toBe('ProjectForm');
    const accepted = await sendApi(requests, form, { kind: 'path', name: 'id' }, String(seeded.projectId));
    expect(accepted.status, await accepted.text()).toBe(200);
    expect(textInputs(requests, form).map(describeInput)).toEqual(expect.arrayContaining(['body custom.web.0.volumes.0.container_path', 'body custom.web.0.volumes.0.host_path', 'body custom.web.0.environment.0.value', 'body custom.web.0.descr', 'body custom.project_overview']));
    for (const shape of SHAPES) expect(megabyte(shape)).toHaveLength(SIZE);
  });

  describe.each(operations.map((op) => [op.key, op] as const))('%s', (_key, op) => {
    it('answers a 4xx within a second', async () => {
      const inputs = textInputs(requests, op);
      if (inputs.length === 0) return; // numbers and enums only: zod refuses a string before reading it
      const examples = inputs.map((input, index) => [input, SHAPES[index % SHAPES.length]!] as [Input, Shape]);
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...inputs), shapes, async (input, shape) => {
          const value = megabyte(shape);
          const result = await timed(() => prepareApi(requests, op, input, value));
          expectRefusedInTime(result, `${op.key} with ${describeInput(input)} = ${describeShape(shape)}`);
        }),
        { seed: SEED, numRuns: 2, examples },
      );
    }, 120_000);
  });

  it('every form the dashboard posts, each of its fields in turn', async () => {
    const user = await signedIn(seeded.userId);
    const admin = await signedIn(seeded.adminId, 'group_admin');
    const project = (await (await apiWith({}, `/project/${seeded.projectId}`, { headers: { authorization: `Bearer user-group_user-${seeded.userId}` } })).json()) as {
      item: { metadata: { custom: { web: Array<{ code: string }> } } };
    };
    const appCode = project.item.metadata.custom.web[0]!.code;
    const deployment = `/projects/${seeded.projectId}/deployments/${seeded.deploymentId}`;
    const pages: Array<[string, Record<string, string>]> = [
      ['/projects', user],
      [`/projects/${seeded.projectId}`, user],
      [`/projects/${seeded.projectId}/apps/${appCode}`, user],
      [`/projects/${seeded.projectId}/deploy`, user],
      [deployment, user],
      [`${deployment}/agent`, user],
      ['/keys', user],
      ['/servers', user],
      [`/servers/${seeded.serverId}`, user],
      ['/clients', user],
      ['/ratings', user],
      [`/ratings/${seeded.ratingId}/edit`, user],
      ['/admin/catalog', admin],
      ['/admin/clients', admin],
    ];
    const catalog = await (await apiWith({}, '/admin/catalog', { headers: admin })).text();
    const entry = /href="\/admin\/catalog\/([^"/]+)"/.exec(catalog)?.[1];
    if (entry) pages.push([`/admin/catalog/${entry}`, admin]);
    // A second project without a server, so the servers page offers its form.
    const second = jsonRequest('POST', { custom: { ...(projectForms[2]!.body.custom as Record<string, unknown>), custom_stack_code: 'second-stack' } }, { authorization: `Bearer user-group_user-${seeded.userId}` });
    expect((await apiWith({}, '/project', second)).status).toBe(201);

    const found = new Map<string, { form: PostedForm; session: Record<string, string> }>();
    for (const [path, session] of pages) {
      const response = await apiWith({}, path, { headers: session, redirect: 'manual' });
      expect(response.status, path).toBe(200);
      for (const form of formsOf(await response.text())) if (!found.has(form.action)) found.set(form.action, { form, session });
    }

    const posts = dashboardRoutes.routes.filter((route) => route.method === 'POST').map((route) => route.path);
    const covered = new Set<string>();
    let sent = 0;
    for (const { form, session } of found.values()) {
      const route = posts.find((path) => routePattern(path).test(form.action));
      if (!route) continue;
      const fields = form.fields.filter(([name]) => name !== 'request_key' && name !== 'idempotency_key');
      if (fields.length === 0) continue;
      covered.add(route);
      const base = form.fields.map(([name, value]): [string, string] => [name, value || TYPED[name] || value]);
      const examples = fields.map(([name], index) => [name, SHAPES[index % SHAPES.length]!] as [string, Shape]);
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...fields.map(([name]) => name)), shapes, async (name, shape) => {
          const value = megabyte(shape);
          const body = new URLSearchParams(base.map(([field, current]): [string, string] => [field, field === name ? value : current])).toString();
          sent++;
          const result = await timed(async () => () =>
            apiWith({}, form.action, {
              method: 'POST',
              headers: { ...session, origin: BASE_URL, 'content-type': 'application/x-www-form-urlencoded' },
              body,
              redirect: 'manual',
            }),
          );
          expectRefusedInTime(result, `POST ${form.action} (form of ${route}) with ${name} = ${describeShape(shape)}`);
        }),
        { seed: SEED, numRuns: 2, examples },
      );
    }
    expect(sent).toBeGreaterThan(0);
    // The forms with text fields that the pages above show: each was fed.
    const textForms = [
      '/projects',
      '/projects/:id/apps',
      '/projects/:id/containers',
      '/projects/:id/networks',
      '/projects/:id/rename',
      '/projects/:id/apps/:code',
      '/projects/:id/apps/:code/env',
      '/projects/:id/deploy',
      '/projects/:id/deployments/:deploymentId/agent/commands',
      '/keys',
      '/servers',
      '/servers/:id',
      '/ratings',
      '/ratings/:id',
      '/admin/catalog',
      '/admin/catalog/:code',
    ];
    expect(textForms.filter((route) => !covered.has(route))).toEqual([]);
  }, 300_000);
});
