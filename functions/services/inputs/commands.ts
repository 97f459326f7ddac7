// What the command and agent routes take: deployment hashes and command ids in paths, and a new command.
import { z } from '@hono/zod-openapi';
import { PRIORITIES } from '../commands.ts';
import { noNul } from './text.ts';

export const deploymentHashParam = z.string().min(1).max(64).regex(/^[\w.-]+$/, 'must be a deployment hash');
export const commandIdParam = z.string().min(1).max(64).regex(/^[\w.-]+$/, 'must be a command id');

export const NewCommandBody = z
  .object({
    deployment_hash: deploymentHashParam,
    command_type: z.string().trim().min(1).max(100).regex(/^[A-Za-z0-9_.:-]+$/, 'must be a command name'),
    priority: z
      .string()
      .transform((value) => value.toLowerCase())
      .pipe(z.enum(PRIORITIES, { message: `must be one of ${PRIORITIES.join(', ')}` }))
      .default('normal'),
    parameters: noNul(
      z
        .record(z.string(), z.unknown())
        .nullish()
        .transform((value) => value ?? {}),
    ),
    timeout_seconds: z.number().int().min(1, 'must be 1 to 86400').max(86_400, 'must be 1 to 86400').default(300),
    metadata: noNul(z.record(z.string(), z.unknown()).nullish()),
  })
  .openapi('NewCommand');
