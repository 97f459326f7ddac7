// NUL characters in input: PostgreSQL takes none in text or jsonb (storing one was a 500).
import type { ZodType } from 'zod';

/** Whether a JSON value holds a NUL character in any string or key (PostgreSQL's jsonb refuses them). */
export function containsNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (Array.isArray(value)) return value.some(containsNul);
  if (value !== null && typeof value === 'object') return Object.entries(value).some(([key, inner]) => key.includes('\u0000') || containsNul(inner));
  return false;
}

/** The same JSON value with every NUL character replaced by U+FFFD, so it can be stored as it came. */
export function replaceNul<T>(value: T): T {
  if (typeof value === 'string') return value.replaceAll('\u0000', '\uFFFD') as T;
  if (Array.isArray(value)) return value.map(replaceNul) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key.replaceAll('\u0000', '\uFFFD'), replaceNul(inner)])) as T;
  }
  return value;
}

/** The schema, also refusing a value with a NUL character in any string or key of it. */
export function noNul<T extends ZodType>(schema: T): T {
  return schema.refine((value) => !containsNul(value), 'must not contain NUL characters');
}

/**
 * The value without leading and trailing `-`, by a scan from each end. The regex it replaces,
 * `/^-+|-+$/g`, tries `-+$` from every dash of an inner run, which is quadratic: a 100,000-dash name
 * took seconds of CPU.
 */
export function trimDashes(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && value.charCodeAt(start) === 0x2d) start++;
  while (end > start && value.charCodeAt(end - 1) === 0x2d) end--;
  return value.slice(start, end);
}
