// The OpenAPI document is complete and truthful: every route the app serves is documented, and every
// example it shows validates against its own schema (OpenAPI 3.1 schemas are JSON Schema 2020-12).
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { fullFormats } from 'ajv-formats/dist/formats';
import { describe, expect, it } from 'vitest';
import { createApp, openApiInfo } from '../../functions/app.ts';
import { dashboardRoutes } from '../../functions/dashboard/index.tsx';
import { docsRoutes } from '../../functions/api/docs.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/** Routes served outside the document on purpose: the document itself and the reference page. */
// The document itself, the API reference page, and the dashboard's pages are not API operations.
const undocumented = new Set(['GET /openapi.json', ...[...docsRoutes.routes, ...dashboardRoutes.routes].map((route) => `${route.method} ${route.path}`)]);

/** Hono's `/project/:id` (or `/:id{[0-9]+}`) as OpenAPI's `/project/{id}`. */
const openApiPath = (path: string) => path.replace(/:([A-Za-z0-9_]+)(\{[^}]*\})?/g, '{$1}');

const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

const escapePointer = (segment: string) => segment.replace(/~/g, '~0').replace(/\//g, '~1');

describe('the OpenAPI document covers the app', () => {
  const app = createApp();
  const document = app.getOpenAPI31Document(openApiInfo) as unknown as JsonObject;

  it('documents every route the app serves (method and path)', () => {
    const concrete = app.routes.filter((route) => route.method !== 'ALL');
    const servedPaths = new Set(concrete.map((route) => route.path));
    // `use()` middleware shows up as method ALL: on `/*` (the app's own) or on a path that a concrete
    // route serves (a route's own middleware, e.g. the raw body of /webhooks/install). An ALL entry on
    // any other path would be a catch-all route, and is checked like the others.
    const served = new Set(
      app.routes
        .filter((route) => !(route.method === 'ALL' && (route.path === '/*' || servedPaths.has(route.path))))
        .map((route) => `${route.method} ${route.path}`)
        .filter((signature) => !undocumented.has(signature))
        .map((signature) => {
          const [method, path] = signature.split(' ') as [string, string];
          return `${method} ${openApiPath(path)}`;
        }),
    );
    expect(served.size).toBeGreaterThan(0);

    const paths = (document.paths ?? {}) as JsonObject;
    const documented = new Set(
      Object.entries(paths).flatMap(([path, item]) =>
        HTTP_METHODS.filter((method) => isObject(item) && isObject(item[method])).map((method) => `${method.toUpperCase()} ${path}`),
      ),
    );

    expect([...served].filter((signature) => !documented.has(signature)).sort(), 'served but not in /openapi.json').toEqual([]);
    expect([...documented].filter((signature) => !served.has(signature)).sort(), 'in /openapi.json but not served').toEqual([]);
  });

  it('has only examples that validate against their schemas', () => {
    const examples = collectExamples(document);
    // The document has examples today (ids, ratings, timestamps...): an empty list means the walk broke.
    expect(examples.length).toBeGreaterThan(0);

    const ajv = new Ajv2020({ strict: true, allErrors: true });
    addFormats(ajv);
    // zod's z.ip() (v4 or v6) is emitted as format "ip", which is not one of JSON Schema's formats.
    const [ipv4, ipv6] = [fullFormats.ipv4 as RegExp, fullFormats.ipv6 as RegExp];
    ajv.addFormat('ip', (value: string) => ipv4.test(value) || ipv6.test(value));
    // OpenAPI's own schema keywords, and the top-level fields of the document, which is added whole so
    // that `#/components/schemas/...` references resolve; none of them constrains a value.
    for (const keyword of ['example', 'discriminator', 'xml', 'externalDocs']) ajv.addKeyword({ keyword });
    for (const field of ['openapi', 'info', 'servers', 'paths', 'webhooks', 'components', 'security', 'tags', 'jsonSchemaDialect']) {
      ajv.addKeyword({ keyword: field });
    }
    const documentId = 'urn:stacker:openapi';
    ajv.addSchema({ ...document, $id: documentId }, undefined, undefined, false);

    const failures: string[] = [];
    for (const example of examples) {
      const fragment = example.schemaPointer.split('/').map(encodeURIComponent).join('/');
      let validate;
      try {
        validate = ajv.compile({ $ref: `${documentId}#${fragment}` });
      } catch (error) {
        failures.push(`${example.where}: its schema ${example.schemaPointer} does not compile: ${(error as Error).message}`);
        continue;
      }
      if (!validate(example.value)) {
        const why = (validate.errors ?? []).map((error) => `${error.instancePath || '(value)'} ${error.message ?? ''}`).join('; ');
        failures.push(`${example.where} = ${JSON.stringify(example.value)} does not match ${example.schemaPointer}: ${why}`);
      }
    }
    expect(failures).toEqual([]);
  });
});

interface FoundExample {
  /** JSON pointer of the example in the document. */
  where: string;
  value: Json;
  /** JSON pointer (unescaped as a URI fragment) of the schema it must match. */
  schemaPointer: string;
}

/**
 * Every `example` / `examples` in the document, each with the schema it illustrates: in schemas (at any
 * depth, including components.schemas), and in parameters, headers, request bodies and responses (media
 * types), where `examples` is a map of Example Objects (`value`, or a `$ref` to components.examples).
 */
function collectExamples(document: JsonObject): FoundExample[] {
  const found: FoundExample[] = [];
  const at = (pointer: string, key: string | number) => `${pointer}/${escapePointer(String(key))}`;

  const resolve = (node: Json): Json => {
    let current = node;
    for (let hops = 0; isObject(current) && typeof current.$ref === 'string' && hops < 10; hops++) {
      const ref: string = current.$ref;
      if (!ref.startsWith('#/')) throw new Error(`external $ref ${ref} is not supported here`);
      current = ref
        .slice(2)
        .split('/')
        .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'))
        .reduce<Json>((parent, segment) => (isObject(parent) ? (parent[segment] ?? null) : null), document);
    }
    return current;
  };

  const schemaKeywords = ['items', 'not', 'additionalProperties', 'if', 'then', 'else', 'contains', 'propertyNames', 'unevaluatedItems', 'unevaluatedProperties', 'contentSchema'];
  const schemaListKeywords = ['allOf', 'anyOf', 'oneOf', 'prefixItems'];
  const schemaMapKeywords = ['properties', 'patternProperties', '$defs', 'dependentSchemas'];

  function walkSchema(schema: Json, pointer: string): void {
    if (!isObject(schema) || (typeof schema.$ref === 'string' && Object.keys(schema).length === 1)) return;
    if ('example' in schema) found.push({ where: at(pointer, 'example'), value: schema.example!, schemaPointer: pointer });
    if (Array.isArray(schema.examples)) {
      schema.examples.forEach((value, index) => found.push({ where: at(at(pointer, 'examples'), index), value, schemaPointer: pointer }));
    }
    for (const keyword of schemaKeywords) if (keyword in schema) walkSchema(schema[keyword]!, at(pointer, keyword));
    for (const keyword of schemaListKeywords) {
      const list = schema[keyword];
      if (Array.isArray(list)) list.forEach((item, index) => walkSchema(item, at(at(pointer, keyword), index)));
    }
    for (const keyword of schemaMapKeywords) {
      const map = schema[keyword];
      if (isObject(map)) for (const [name, item] of Object.entries(map)) walkSchema(item, at(at(pointer, keyword), name));
    }
  }

  /** A Parameter, Header or Media Type object: `schema` plus `example` or a map of `examples`. */
  function walkWithSchema(node: Json, pointer: string): void {
    if (!isObject(node)) return;
    const schemaPointer = at(pointer, 'schema');
    if ('schema' in node) walkSchema(node.schema!, schemaPointer);
    if ('example' in node) found.push({ where: at(pointer, 'example'), value: node.example!, schemaPointer });
    if (isObject(node.examples)) {
      for (const [name, example] of Object.entries(node.examples)) {
        const resolved = resolve(example);
        if (isObject(resolved) && 'value' in resolved) {
          found.push({ where: at(at(pointer, 'examples'), name), value: resolved.value!, schemaPointer });
        }
      }
    }
    if (isObject(node.content)) walkContent(node.content, at(pointer, 'content'));
  }

  function walkContent(content: JsonObject, pointer: string): void {
    for (const [mediaType, media] of Object.entries(content)) walkWithSchema(media, at(pointer, mediaType));
  }

  function walkHeaders(headers: Json, pointer: string): void {
    if (isObject(headers)) for (const [name, header] of Object.entries(headers)) walkWithSchema(header, at(pointer, name));
  }

  function walkResponse(response: Json, pointer: string): void {
    if (!isObject(response)) return;
    walkHeaders(response.headers ?? null, at(pointer, 'headers'));
    if (isObject(response.content)) walkContent(response.content, at(pointer, 'content'));
  }

  function walkOperation(operation: Json, pointer: string): void {
    if (!isObject(operation)) return;
    if (Array.isArray(operation.parameters)) {
      operation.parameters.forEach((parameter, index) => walkWithSchema(parameter, at(at(pointer, 'parameters'), index)));
    }
    if (isObject(operation.requestBody) && isObject(operation.requestBody.content)) {
      walkContent(operation.requestBody.content, at(at(pointer, 'requestBody'), 'content'));
    }
    if (isObject(operation.responses)) {
      for (const [status, response] of Object.entries(operation.responses)) walkResponse(response, at(at(pointer, 'responses'), status));
    }
  }

  const paths = isObject(document.paths) ? document.paths : {};
  for (const [path, item] of Object.entries(paths)) {
    if (!isObject(item)) continue;
    const pointer = at('/paths', path);
    if (Array.isArray(item.parameters)) {
      item.parameters.forEach((parameter, index) => walkWithSchema(parameter, at(at(pointer, 'parameters'), index)));
    }
    for (const method of HTTP_METHODS) if (method in item) walkOperation(item[method]!, at(pointer, method));
  }

  const components = isObject(document.components) ? document.components : {};
  const each = (name: string, walk: (node: Json, pointer: string) => void) => {
    const map = components[name];
    if (isObject(map)) for (const [key, node] of Object.entries(map)) walk(node, at(at('/components', name), key));
  };
  each('schemas', walkSchema);
  each('parameters', walkWithSchema);
  each('headers', walkWithSchema);
  each('responses', walkResponse);
  each('requestBodies', (node, pointer) => {
    if (isObject(node) && isObject(node.content)) walkContent(node.content, at(pointer, 'content'));
  });
  return found;
}
