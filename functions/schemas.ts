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
  500: { description: 'Unexpected error (a bug)', content: { 'application/json': { schema: ErrorBodySchema } } },
  503: { description: 'A dependency is unavailable', content: { 'application/json': { schema: ErrorBodySchema } } },
} as const;
