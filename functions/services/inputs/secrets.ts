// A project secret's name (the `${NAME}` the compose uses) and the value its owner sets.
import { z } from '@hono/zod-openapi';
import { noNul } from './text.ts';

export const SecretName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,99}$/, 'must be a variable name: letters, digits and "_", not starting with a digit, at most 100')
  .openapi({ example: 'MARIADB_PASSWORD' });

export const SecretValueForm = z
  .object({
    value: noNul(z.string().min(1, 'must not be empty').max(4096, 'must be at most 4096 characters')).openapi({ description: 'The new value; never shown again except to its owner who asks (GET)' }),
  })
  .openapi('ProjectSecretValue');
