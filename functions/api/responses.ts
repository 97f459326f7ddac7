// Response shapes more than one API module answers with.
import { z } from '@hono/zod-openapi';

/** `{message, item}`: the answer with one row. */
export const itemEnvelope = <T extends z.ZodType>(item: T) => z.object({ message: z.string(), item });

export const Timestamp = z.string().openapi({ format: 'date-time', example: '2026-01-02T03:04:05.678Z' });

export const CommandSchema = z
  .object({
    id: z.string(),
    command_id: z.string(),
    deployment_hash: z.string(),
    type: z.string(),
    status: z.string().openapi({ description: 'queued, sent, executing, completed, failed, cancelled, expired' }),
    priority: z.string(),
    parameters: z.record(z.string(), z.unknown()),
    result: z.unknown(),
    error: z.unknown(),
    created_by: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
    timeout_seconds: z.number().int(),
    metadata: z.record(z.string(), z.unknown()).nullable(),
    attempts: z.number().int(),
    sent_at: z.string().nullable(),
    completed_at: z.string().nullable(),
    lease_expires_at: z.string().nullable(),
  })
  .openapi('Command');
