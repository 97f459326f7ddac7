// Reading the OpenAPI document the app serves: its operations, and a checker that says whether a
// value certainly breaks a schema of the document (OpenAPI 3.1 schemas are JSON Schema).
//
// The checker is deliberately conservative: it answers "violates" only when no reasonable reading of
// the schema could accept the value (the server trims strings, takes enum names in any letter case...),
// because the hostile suite relies on it to keep every generated request genuinely invalid.

export type Schema = Record<string, unknown>;

/** JSON text placed into a body as it is: deep nesting and huge arrays, too big to build as values. */
/** Code points in `text`, as `[...text].length` counts them, without an array of a million strings for a 1 MB value. */
function codePointCount(text: string): number {
  return text.length - (text.match(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g)?.length ?? 0);
}

export class RawJson {
  readonly text: string;
  readonly jsonType: 'array' | 'object' | 'string';
  /** Elements of an array, for maxItems. */
  readonly length: number;
  constructor(text: string, jsonType: 'array' | 'object' | 'string', length = 0) {
    this.text = text;
    this.jsonType = jsonType;
    this.length = length;
  }
}

/** A JSON string whose UTF-8 encoding is broken: `bytes` are written raw between prefix and suffix. */
export class BadUtf8String {
  readonly prefix: string;
  readonly bytes: Uint8Array;
  readonly suffix: string;
  constructor(prefix: string, bytes: Uint8Array, suffix: string) {
    this.prefix = prefix;
    this.bytes = bytes;
    this.suffix = suffix;
  }
}

export type Value = null | boolean | number | string | RawJson | BadUtf8String | Value[] | { [key: string]: Value };

export interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required: boolean;
  schema: Schema;
}

export interface Operation {
  /** "POST /project/{id}/deploy" */
  key: string;
  method: string;
  path: string;
  parameters: Parameter[];
  body?: { schema: Schema; required: boolean; schemaName?: string };
  /** The document's `security`: alternatives, each a set of scheme names (an empty set: no credentials). */
  security: string[][];
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

export class OpenApiDocument {
  readonly operations: Operation[];
  /** Inputs the suite does not know how to break (a cookie parameter, a form body...): it must learn first. */
  readonly unsupported: string[] = [];
  private readonly schemas: Record<string, Schema>;

  constructor(document: { paths: Record<string, Record<string, Schema>>; components?: { schemas?: Record<string, Schema> } }) {
    this.schemas = document.components?.schemas ?? {};
    this.operations = Object.entries(document.paths).flatMap(([path, item]) =>
      METHODS.filter((method) => item[method]).map((method) => {
        const operation = item[method] as Schema;
        const parameters = ((operation.parameters as Schema[] | undefined) ?? []).map((parameter) => ({
          name: parameter.name as string,
          in: parameter.in as Parameter['in'],
          required: parameter.required === true,
          schema: (parameter.schema as Schema | undefined) ?? {},
        }));
        const key = `${method.toUpperCase()} ${path}`;
        for (const parameter of parameters.filter((p) => !['path', 'query', 'header'].includes(p.in))) this.unsupported.push(`${key}: ${parameter.in} parameter ${parameter.name}`);
        const requestBody = operation.requestBody as { required?: boolean; content?: Record<string, { schema?: Schema }> } | undefined;
        for (const type of Object.keys(requestBody?.content ?? {}).filter((t) => t !== 'application/json')) this.unsupported.push(`${key}: ${type} body`);
        const bodySchema = requestBody?.content?.['application/json']?.schema;
        const ref = bodySchema?.$ref as string | undefined;
        return {
          key,
          method: method.toUpperCase(),
          path,
          parameters,
          body: bodySchema ? { schema: bodySchema, required: requestBody?.required === true, schemaName: ref?.split('/').pop() } : undefined,
          security: ((operation.security as Array<Record<string, string[]>> | undefined) ?? [{}]).map((alternative) => Object.keys(alternative)),
        };
      }),
    );
  }

  resolve(schema: Schema): Schema {
    let current = schema;
    for (let hops = 0; typeof current.$ref === 'string'; hops++) {
      if (hops > 20) throw new Error(`$ref loop at ${current.$ref}`);
      const name = current.$ref.replace('#/components/schemas/', '');
      const target = this.schemas[name];
      if (!target) throw new Error(`unknown $ref ${current.$ref}`);
      current = { ...target, ...Object.fromEntries(Object.entries(current).filter(([key]) => key !== '$ref')) };
    }
    return current;
  }

  /** The JSON types a schema allows ("integer" included), or undefined when it allows anything. */
  typesOf(schema: Schema): Set<string> | undefined {
    const resolved = this.resolve(schema);
    const branches = (resolved.anyOf ?? resolved.oneOf) as Schema[] | undefined;
    if (branches) {
      const all = new Set<string>();
      for (const branch of branches) {
        const types = this.typesOf(branch);
        if (!types) return undefined;
        types.forEach((type) => all.add(type));
      }
      return all;
    }
    if (resolved.type === undefined) return undefined;
    const types = new Set(Array.isArray(resolved.type) ? (resolved.type as string[]) : [resolved.type as string]);
    if (types.has('number')) types.add('integer');
    return types;
  }

  /** False only when `value` certainly breaks `schema`. */
  conforms(schema: Schema, value: Value): boolean {
    const s = this.resolve(schema);
    const branches = (s.anyOf ?? s.oneOf) as Schema[] | undefined;
    if (branches && !branches.some((branch) => this.conforms(branch, value))) return false;
    if (Array.isArray(s.allOf) && !(s.allOf as Schema[]).every((part) => this.conforms(part, value))) return false;

    const types = s.type === undefined ? undefined : Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
    if (types && !types.some((type) => hasType(value, type))) return false;
    if (Array.isArray(s.enum) && !(s.enum as unknown[]).some((option) => sameEnumValue(option, value))) return false;

    if (typeof value === 'string') return this.stringConforms(s, value);
    if (typeof value === 'number') return numberConforms(s, value);
    if (value instanceof RawJson) return value.jsonType !== 'array' || arrayLengthConforms(s, value.length);
    if (Array.isArray(value)) {
      if (!arrayLengthConforms(s, value.length)) return false;
      return s.items === undefined || value.every((item) => this.conforms(s.items as Schema, item));
    }
    if (isPlainObject(value)) return this.objectConforms(s, value);
    return true;
  }

  private stringConforms(s: Schema, value: string): boolean {
    const trimmed = value.trim();
    // Lengths both as UTF-16 units (zod) and code points (JSON Schema): violated only if both say so.
    const longest = Math.min(trimmed.length, codePointCount(trimmed));
    const shortest = Math.max(value.length, codePointCount(value));
    if (typeof s.maxLength === 'number' && longest > s.maxLength) return false;
    if (typeof s.minLength === 'number' && shortest < s.minLength) return false;
    if (typeof s.pattern === 'string') {
      const pattern = new RegExp(s.pattern);
      if (!pattern.test(value) && !pattern.test(trimmed)) return false;
    }
    if (s.format === 'date-time' && !/^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}/.test(trimmed)) return false;
    if (s.format === 'ip' && !/^[\d.]+$|:/.test(trimmed)) return false;
    return true;
  }

  private objectConforms(s: Schema, value: { [key: string]: Value }): boolean {
    const properties = (s.properties as Record<string, Schema> | undefined) ?? {};
    for (const name of (s.required as string[] | undefined) ?? []) {
      if (!Object.hasOwn(value, name)) return false;
    }
    for (const [name, item] of Object.entries(value)) {
      const property = properties[name];
      if (property) {
        if (!this.conforms(property, item)) return false;
      } else if (s.additionalProperties === false) {
        return false;
      } else if (isPlainObject(s.additionalProperties) && !this.conforms(s.additionalProperties as Schema, item)) {
        return false;
      }
    }
    return true;
  }
}

export function isPlainObject(value: unknown): value is { [key: string]: Value } {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof RawJson) && !(value instanceof BadUtf8String);
}

export function jsonTypeOf(value: Value): string {
  if (value === null) return 'null';
  if (value instanceof RawJson) return value.jsonType;
  if (value instanceof BadUtf8String) return 'string';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function hasType(value: Value, type: string): boolean {
  const actual = jsonTypeOf(value);
  return actual === type || (type === 'number' && actual === 'integer');
}

function sameEnumValue(option: unknown, value: Value): boolean {
  // The server takes some enum names in any letter case (rating categories).
  if (typeof option === 'string' && typeof value === 'string') return option.toLowerCase() === value.trim().toLowerCase();
  if (typeof option === 'string' && value instanceof BadUtf8String) return true;
  return option === value;
}

function numberConforms(s: Schema, value: number): boolean {
  if (typeof s.minimum === 'number' && value < s.minimum) return false;
  if (typeof s.maximum === 'number' && value > s.maximum) return false;
  if (typeof s.exclusiveMinimum === 'number' && value <= s.exclusiveMinimum) return false;
  if (typeof s.exclusiveMaximum === 'number' && value >= s.exclusiveMaximum) return false;
  return true;
}

function arrayLengthConforms(s: Schema, length: number): boolean {
  if (typeof s.maxItems === 'number' && length > s.maxItems) return false;
  if (typeof s.minItems === 'number' && length < s.minItems) return false;
  return true;
}

const encoder = new TextEncoder();

/** The body bytes of a value: JSON, with raw parts written as they are. */
export function encodeJson(value: Value): Uint8Array {
  const parts: Uint8Array[] = [];
  let text = '';
  const flush = () => {
    if (text) parts.push(encoder.encode(text));
    text = '';
  };
  const write = (item: Value) => {
    if (item instanceof RawJson) text += item.text;
    else if (item instanceof BadUtf8String) {
      text += JSON.stringify(item.prefix).slice(0, -1);
      flush();
      parts.push(item.bytes);
      text += JSON.stringify(item.suffix).slice(1);
    } else if (Array.isArray(item)) {
      text += '[';
      item.forEach((element, index) => {
        if (index) text += ',';
        write(element);
      });
      text += ']';
    } else if (isPlainObject(item)) {
      text += '{';
      Object.entries(item).forEach(([key, element], index) => {
        if (index) text += ',';
        text += `${JSON.stringify(key)}:`;
        write(element);
      });
      text += '}';
    } else text += JSON.stringify(item);
  };
  write(value);
  flush();
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.length;
  }
  return bytes;
}
