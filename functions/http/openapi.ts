import { z } from '@hono/zod-openapi';

/** Shared OpenAPI/zod shapes of the envelope. */
export const ErrorBodySchema = z
  .object({
    message: z.string(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    request_id: z.string().optional(),
  })
  .openapi('Error');

export const MessageSchema = z.object({ message: z.string() }).openapi('Message');

export const errorResponses = {
  400: { description: 'Invalid input', content: { 'application/json': { schema: ErrorBodySchema } } },
  429: {
    description: 'Rate limited: too many requests from this caller',
    headers: { 'Retry-After': { description: 'Seconds until a request will be accepted', schema: { type: 'integer' as const } } },
    content: { 'application/json': { schema: ErrorBodySchema } },
  },
  500: { description: 'Unexpected error (a bug)', content: { 'application/json': { schema: ErrorBodySchema } } },
  503: { description: 'A dependency is unavailable', content: { 'application/json': { schema: ErrorBodySchema } } },
} as const;

/** A serial id in a path: a positive 32-bit integer. */
export const idParam = z
  .string()
  .regex(/^\d{1,10}$/, 'must be a positive integer')
  .transform(Number)
  .pipe(z.number().int().min(1, 'must be a positive integer').max(2_147_483_647, 'is out of range'))
  .openapi({ type: 'integer', minimum: 1, maximum: 2_147_483_647, example: 1 });

export const jsonContent = <T>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});

export const authErrorResponses = {
  401: jsonContent(ErrorBodySchema, 'Missing or invalid credentials'),
  403: jsonContent(ErrorBodySchema, 'Authenticated but not allowed'),
  404: jsonContent(ErrorBodySchema, 'Not found, or not yours'),
} as const;

export const userSecurity = [{ bearer: [] }];

/** The optional Idempotency-Key header of a creating POST; `description` says what a repeat answers. */
export const idempotencyKeyHeader = (description: string) =>
  z.object({ 'idempotency-key': z.string().min(1).max(128).optional().openapi({ description }) });
