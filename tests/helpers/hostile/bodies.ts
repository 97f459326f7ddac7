// Request bodies, from the document's schemas: a clean example of each body, and fast-check
// arbitraries of bodies that certainly break their schema (wrong types, missing fields, values out of
// range, huge strings and arrays, deep nesting, invalid UTF-8, malformed JSON).
import fc from 'fast-check';
import { MAX_BODY_BYTES } from '../../../functions/app.ts';
import { BadUtf8String, encodeJson, isPlainObject, jsonTypeOf, RawJson, type OpenApiDocument, type Schema, type Value } from './schema.ts';

/** Values to prefer for a property of this name when they fit its schema (ids of seeded rows...). */
export type Hints = Record<string, Value>;

const DEPTH_LIMIT = 8;

/** A value that fits `schema` (checked with the document's checker), built from hints, examples and types. */
export function exampleOf(doc: OpenApiDocument, schema: Schema, hints: Hints, name?: string, depth = 0): Value | undefined {
  const s = doc.resolve(schema);
  const fits = (value: Value | undefined): value is Value => value !== undefined && doc.conforms(schema, value);
  const candidates: Array<Value | undefined> = [name === undefined ? undefined : hints[name], s.example as Value, s.default as Value];
  if (Array.isArray(s.enum)) candidates.push(s.enum[0] as Value);
  for (const candidate of candidates) if (fits(candidate)) return candidate;

  const branches = (s.anyOf ?? s.oneOf) as Schema[] | undefined;
  if (branches) {
    for (const branch of branches) {
      const value = exampleOf(doc, branch, hints, name, depth + 1);
      if (value !== null && fits(value)) return value;
    }
  }
  const types = doc.typesOf(s);
  if (!types) return 'any';
  if (types.has('object') && depth < DEPTH_LIMIT) {
    const value: Record<string, Value> = {};
    for (const [property, propertySchema] of Object.entries((s.properties as Record<string, Schema> | undefined) ?? {})) {
      const example = exampleOf(doc, propertySchema, hints, property, depth + 1);
      if (example !== undefined) value[property] = example;
    }
    if (fits(value)) return value;
  }
  if (types.has('array')) {
    const items = (s.items as Schema | undefined) ?? {};
    const count = typeof s.minItems === 'number' ? s.minItems : 0;
    const item = count > 0 ? exampleOf(doc, items, hints, undefined, depth + 1) : undefined;
    const value = Array.from({ length: count }, () => item ?? null);
    if (fits(value)) return value;
  }
  if (types.has('string')) {
    const format = s.format === 'date-time' ? [new Date().toISOString()] : s.format === 'ip' ? ['192.0.2.10'] : [];
    const min = typeof s.minLength === 'number' ? s.minLength : 1;
    for (const word of [...format, 'example', 'x', '1', 'abc_1']) {
      const value = word.repeat(Math.ceil(min / word.length));
      if (fits(value)) return value;
    }
  }
  if (types.has('integer') || types.has('number')) {
    for (const value of [s.minimum, typeof s.exclusiveMinimum === 'number' ? s.exclusiveMinimum + 1 : undefined, 1, 0] as Array<number | undefined>) {
      if (fits(value)) return value;
    }
  }
  if (types.has('boolean')) return true;
  if (types.has('null')) return null;
  return undefined;
}

// ---- huge and deep values -------------------------------------------------------------------------

/** `[[[...]]]` or `{"a":{"a":...}}`, `levels` deep, as raw JSON text. */
export function deepNesting(levels: number, kind: 'array' | 'object'): RawJson {
  return kind === 'array'
    ? new RawJson(`${'['.repeat(levels)}${']'.repeat(levels)}`, 'array', 1)
    : new RawJson(`${'{"a":'.repeat(levels)}null${'}'.repeat(levels)}`, 'object');
}

export function hugeArray(length: number): RawJson {
  return new RawJson(`[${'0,'.repeat(length - 1)}0]`, 'array', length);
}

const INVALID_UTF8: Uint8Array[] = [
  Uint8Array.of(0xff),
  Uint8Array.of(0xfe, 0xff),
  Uint8Array.of(0xc3, 0x28), // a lead byte without its continuation
  Uint8Array.of(0x80, 0x80), // continuation bytes alone
  Uint8Array.of(0xed, 0xa0, 0x80), // an encoded UTF-16 surrogate
  Uint8Array.of(0xc0, 0xaf), // an overlong "/"
  Uint8Array.of(0xf8, 0x88, 0x80, 0x80, 0x80), // a 5-byte sequence
  Uint8Array.of(0xf4, 0x90, 0x80, 0x80), // above U+10FFFF
];

const invalidUtf8 = fc.constantFrom(...INVALID_UTF8);

/** Strings nothing should take for granted: injections, traversal, controls, unicode. */
const nastyStrings = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '../../../../etc/passwd',
  '..\\..\\windows\\win.ini',
  "' OR '1'='1' --",
  '"; DROP TABLE project; --',
  '${jndi:ldap://127.0.0.1/a}',
  '{{7*7}}',
  '<script>alert(1)</script>',
  '%00%2e%2e%2f',
  '\u202e\u0631\u0645\u0632',
  '😀👨‍👩‍👧‍👦',
  '\ud800',
  'NaN',
  '-1',
  '1e308',
  'null',
  '\r\n\r\nHTTP/1.1 200 OK',
];

/** Values of every JSON type, for "a value of another type". */
function valuesOfEveryType(): fc.Arbitrary<Value> {
  return fc.oneof(
    fc.constantFrom<Value>(null, true, false, 0, -1, 1.5, 2 ** 31, 2 ** 53 + 2, -(2 ** 63), 1e308, [], [null], {}, { a: 1 }),
    fc.constantFrom(...nastyStrings),
    fc.string({ maxLength: 20 }),
    fc.integer({ min: 5_000, max: 50_000 }).map((levels) => deepNesting(levels, 'array')),
    fc.integer({ min: 5_000, max: 50_000 }).map((levels) => deepNesting(levels, 'object')),
    fc.integer({ min: 1_000, max: 200_000 }).map(hugeArray),
    fc.integer({ min: 16_000, max: 600_000 }).map((n) => 'x'.repeat(n)),
    fc.tuple(fc.string({ maxLength: 8 }), invalidUtf8).map(([text, bytes]) => new BadUtf8String(text, bytes, text)),
  );
}

/** Values around and beyond the limits a schema states (lengths, ranges, patterns, enums, formats). */
function limitBreakers(doc: OpenApiDocument, schema: Schema): Value[] {
  const s = doc.resolve(schema);
  const out: Value[] = [];
  if (typeof s.maxLength === 'number') {
    out.push('y'.repeat(s.maxLength + 1), 'é'.repeat(s.maxLength + 1), '😀'.repeat(s.maxLength + 1), 'z'.repeat(Math.max(s.maxLength * 100, 300_000)));
  }
  if (typeof s.minLength === 'number' && s.minLength > 0) out.push('', 'q'.repeat(s.minLength - 1));
  if (typeof s.pattern === 'string' || Array.isArray(s.enum) || s.format) out.push(...nastyStrings, 'not-an-allowed-value', 'with space', 'ünïcödé');
  for (const bound of [s.minimum, s.exclusiveMinimum]) {
    if (typeof bound === 'number') out.push(bound - 1, bound - 0.5, -(2 ** 31), -(2 ** 63));
  }
  for (const bound of [s.maximum, s.exclusiveMaximum]) {
    if (typeof bound === 'number') out.push(bound + 1, 2 ** 31, 2 ** 63, 1e308);
  }
  const types = doc.typesOf(s);
  if (types?.has('integer') && !types.has('number')) out.push(1.5, 0.000001);
  if (typeof s.maxItems === 'number') out.push(hugeArray(s.maxItems + 1), hugeArray(s.maxItems + 10_000));
  if (typeof s.minItems === 'number' && s.minItems > 0) out.push([]);
  return out.filter((value) => !doc.conforms(schema, value));
}

// ---- where a body can be broken ------------------------------------------------------------------

type PathKey = string | number;

export interface Slot {
  path: PathKey[];
  schema: Schema;
  /** The parent object lists it in `required`. */
  required: boolean;
  present: boolean;
}

/** Every place of `value` whose schema is known: the root, each property, the first item of arrays. */
export function slotsOf(doc: OpenApiDocument, schema: Schema, value: Value | undefined, path: PathKey[] = [], required = true): Slot[] {
  const s = doc.resolve(schema);
  const slots: Slot[] = [{ path, schema, required, present: value !== undefined }];
  if (path.length >= DEPTH_LIMIT) return slots;
  const branches = (s.anyOf ?? s.oneOf) as Schema[] | undefined;
  if (branches) {
    const object = branches.map((branch) => doc.resolve(branch)).find((branch) => branch.properties);
    if (object) return [...slots, ...slotsOf(doc, object, value, path, required).slice(1)];
  }
  if (s.properties && (value === undefined || isPlainObject(value))) {
    const requiredNames = new Set((s.required as string[] | undefined) ?? []);
    for (const [name, propertySchema] of Object.entries(s.properties as Record<string, Schema>)) {
      const child = value === undefined ? undefined : value[name];
      slots.push(...slotsOf(doc, propertySchema, child, [...path, name], requiredNames.has(name)));
    }
  }
  if (s.items && Array.isArray(value) && value.length > 0) slots.push(...slotsOf(doc, s.items as Schema, value[0], [...path, 0], true));
  return slots;
}

function clone(value: Value): Value {
  if (Array.isArray(value)) return value.map(clone);
  if (isPlainObject(value)) {
    const copy: Record<string, Value> = {};
    for (const [key, item] of Object.entries(value)) Object.defineProperty(copy, key, { value: clone(item), enumerable: true, writable: true, configurable: true });
    return copy;
  }
  return value;
}

/** A copy of `root` with `value` at `path` (undefined: removed); parents are created as objects. */
export function withValueAt(root: Value, path: PathKey[], value: Value | undefined): Value {
  if (path.length === 0) return value === undefined ? {} : value;
  const copy = clone(root);
  let node = copy as Record<PathKey, Value>;
  for (const key of path.slice(0, -1)) {
    if (node[key] === null || typeof node[key] !== 'object' || node[key] instanceof RawJson) node[key] = {};
    node = node[key] as Record<PathKey, Value>;
  }
  const last = path[path.length - 1]!;
  if (value === undefined) delete node[last];
  // defineProperty: a key such as "__proto__" must become an own key of the JSON object.
  else Object.defineProperty(node, last, { value, enumerable: true, writable: true, configurable: true });
  return copy;
}

// ---- defects and decorations ----------------------------------------------------------------------

export interface BrokenBody {
  /** What was broken, for the failure message. */
  defect: string;
  bytes: Uint8Array;
  contentType: string;
}

const describePath = (path: PathKey[]) => (path.length ? path.join('.') : '(root)');

function describeValue(value: Value | undefined): string {
  if (value === undefined) return 'removed';
  if (value instanceof RawJson) return `raw ${value.jsonType} of ${value.text.length} chars`;
  if (value instanceof BadUtf8String) return `string with invalid UTF-8 bytes ${[...value.bytes].map((b) => b.toString(16)).join(' ')}`;
  if (typeof value === 'string') return value.length > 40 ? `string of ${value.length} chars` : JSON.stringify(value);
  const text = JSON.stringify(value);
  return text.length > 40 ? `${jsonTypeOf(value)} of ${text.length} chars` : text;
}

/** One change that, on its own, makes the body break its schema. */
function certainDefect(doc: OpenApiDocument, slots: Slot[]): fc.Arbitrary<{ path: PathKey[]; value: Value | undefined; what: string }> {
  const options: Array<fc.Arbitrary<{ path: PathKey[]; value: Value | undefined; what: string }>> = [];
  for (const slot of slots) {
    const types = doc.typesOf(slot.schema);
    if (types) {
      const wrong = valuesOfEveryType().filter((value) => !doc.conforms(slot.schema, value));
      options.push(wrong.map((value) => ({ path: slot.path, value, what: 'wrong type' })));
    }
    const breakers = limitBreakers(doc, slot.schema);
    if (breakers.length) options.push(fc.constantFrom(...breakers).map((value) => ({ path: slot.path, value, what: 'out of range' })));
    if (slot.required && slot.present && slot.path.length > 0) options.push(fc.constant({ path: slot.path, value: undefined, what: 'missing required field' }));
  }
  return fc.oneof(...options);
}

const extraKeys = ['__proto__', 'constructor', 'prototype', 'id', 'user_id', 'is_admin', 'role', 'hidden', '$where', '', 'ключ', 'k'.repeat(5000)];

/** A change that does not make the body invalid by itself: extra fields, huge or odd strings, deep values where anything goes. */
function decoration(doc: OpenApiDocument, slots: Slot[]): fc.Arbitrary<{ path: PathKey[]; value: Value; what: string }> {
  const objects = slots.filter((slot) => slot.present && doc.typesOf(slot.schema)?.has('object'));
  const anything = slots.filter((slot) => doc.typesOf(slot.schema) === undefined);
  const strings = slots.filter((slot) => slot.present && doc.typesOf(slot.schema)?.has('string'));
  const options: Array<fc.Arbitrary<{ path: PathKey[]; value: Value; what: string }>> = [];
  if (objects.length) {
    options.push(
      fc.tuple(fc.constantFrom(...objects), fc.constantFrom(...extraKeys), valuesOfEveryType()).map(([slot, key, value]) => ({
        path: [...slot.path, key],
        value,
        what: `extra field ${JSON.stringify(key.slice(0, 20))}`,
      })),
    );
  }
  if (anything.length) {
    options.push(fc.tuple(fc.constantFrom(...anything), valuesOfEveryType()).map(([slot, value]) => ({ path: slot.path, value, what: 'free-form value' })));
  }
  if (strings.length) {
    options.push(
      fc.tuple(fc.constantFrom(...strings), fc.string({ maxLength: 6 }), invalidUtf8).map(([slot, text, bytes]) => ({
        path: slot.path,
        value: new BadUtf8String(text, bytes, 'tail'),
        what: 'invalid UTF-8 inside a string',
      })),
      fc.tuple(fc.constantFrom(...strings), fc.constantFrom(...nastyStrings)).map(([slot, value]) => ({ path: slot.path, value, what: 'odd string' })),
    );
  }
  return options.length ? fc.oneof(...options) : fc.constant({ path: ['hostile_extra'], value: 1, what: 'extra field' });
}

const jsonContentTypes = fc.constantFrom('application/json', 'application/json; charset=utf-8', 'Application/JSON');

/** Text that is not JSON, or bytes that are not UTF-8 outside any string. */
function malformed(clean: Uint8Array): fc.Arbitrary<{ bytes: Uint8Array; what: string }> {
  const text = new TextDecoder().decode(clean);
  const encode = (value: string) => new TextEncoder().encode(value);
  const join = (...parts: Uint8Array[]) => {
    const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
    let offset = 0;
    for (const part of parts) {
      out.set(part, offset);
      offset += part.length;
    }
    return out;
  };
  return fc.oneof(
    fc
      .constantFrom('', ' ', '{', '}', '{"a":', '{"a":1,}', "{'a':1}", '[1,2', 'NaN', 'undefined', '{"a":1}{"b":2}', '{"a":01}', '{"a":1e}', '{"a":"\\x41"}', '{"a":"unterminated', '\uFEFF', 'nul', '\u0000', '{"a":tru}')
      .map((value) => ({ bytes: encode(value), what: `malformed JSON ${JSON.stringify(value)}` })),
    fc.integer({ min: 1, max: Math.max(1, clean.length - 1) }).map((cut) => ({ bytes: clean.slice(0, cut), what: `JSON cut after ${cut} bytes` })),
    fc.tuple(invalidUtf8, fc.boolean()).map(([bytes, before]) => ({
      bytes: before ? join(bytes, clean) : join(clean, bytes),
      what: `invalid UTF-8 bytes ${before ? 'before' : 'after'} the JSON`,
    })),
    fc.constant({ bytes: encode(`${text}garbage`), what: 'JSON followed by garbage' }),
  );
}

/**
 * Bodies that certainly break `schema`: a clean example with one certain defect and up to two
 * harmless decorations, or a whole body of another type, or text that is not JSON.
 */
export function brokenBodies(doc: OpenApiDocument, schema: Schema, clean: Value): fc.Arbitrary<BrokenBody> {
  const slots = slotsOf(doc, schema, clean);
  const cleanBytes = encodeJson(clean);
  const mutated = fc
    .tuple(fc.array(decoration(doc, slots), { maxLength: 2 }), certainDefect(doc, slots), jsonContentTypes)
    .map(([decorations, defect, contentType]) => {
      let value = clean;
      for (const change of decorations) value = withValueAt(value, change.path, change.value);
      value = withValueAt(value, defect.path, defect.value);
      const what = [
        `${defect.what} at ${describePath(defect.path)}: ${describeValue(defect.value)}`,
        ...decorations.map((change) => `${change.what} at ${describePath(change.path)}: ${describeValue(change.value)}`),
      ].join('; ');
      return { value, what, contentType };
    })
    .filter(({ value }) => !doc.conforms(schema, value))
    .map(({ value, what, contentType }) => ({ defect: what, bytes: encodeJson(value), contentType }));
  const notJson = fc.tuple(malformed(cleanBytes), jsonContentTypes).map(([{ bytes, what }, contentType]) => ({ defect: what, bytes, contentType }));
  const oversized = fc.integer({ min: 1, max: 64 * 1024 }).map((extra) => ({
    defect: `clean body padded past the ${MAX_BODY_BYTES}-byte limit by ${extra} bytes`,
    bytes: encodeJson(withValueAt(clean, ['hostile_padding'], 'p'.repeat(MAX_BODY_BYTES + extra))),
    contentType: 'application/json',
  }));
  return fc.oneof({ weight: 8, arbitrary: mutated }, { weight: 2, arbitrary: notJson }, { weight: 1, arbitrary: oversized });
}

/**
 * A clean body sent as something other than JSON, as JSON under two content types, with no content
 * type, or a required body left out altogether.
 */
export function wrongContentTypes(clean: Value, required: boolean): fc.Arbitrary<{ defect: string; bytes?: Uint8Array; contentType: string[] }> {
  const bytes = encodeJson(clean);
  const mistyped = fc.constantFrom<string[]>(
    ['text/plain'],
    ['text/plain;charset=UTF-8'],
    ['application/x-www-form-urlencoded'],
    ['multipart/form-data; boundary=hostile'],
    ['application/xml'],
    ['application/jsonp'],
    ['application/json; charset'],
    ['application/json;'],
    ['json'],
    ['*/*'],
    [''],
    [],
    ['application/json', 'text/plain'],
    ['application/json', 'application/json'],
  ).map((contentType) => ({ defect: `Content-Type ${contentType.length ? contentType.map((c) => JSON.stringify(c)).join(' + ') : 'absent'}`, bytes, contentType }));
  if (!required) return mistyped;
  // (Left out under Content-Type application/json, the empty body is malformed JSON: a body case.)
  const missing = fc.constantFrom<string[]>([], ['']).map((contentType) => ({
    defect: `required body left out${contentType.length ? ', with an empty Content-Type' : ''}`,
    contentType,
  }));
  return fc.oneof(mistyped, missing);
}
