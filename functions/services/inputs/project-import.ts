// POST /project/import and the dashboard's "Import docker-compose.yml" box: a compose file's text and
// the project's name (functions/services/project-import.ts reads them).
import { z } from '@hono/zod-openapi';
import { COMPOSE_SOURCE_MAX } from '../compose-import.ts';
import { noNul } from './text.ts';

export const projectNamePattern = /^[a-zA-Z0-9._-]+$/;

export const composeImportSchema = z
  .object({
    compose: noNul(z.string().min(1, 'must not be empty').max(COMPOSE_SOURCE_MAX, `must be at most ${COMPOSE_SOURCE_MAX / 1024} KiB`)).openapi({
      description: 'The docker-compose.yml, as text',
      example: 'services:\n  db:\n    image: postgres:16.4\n  web:\n    image: nginx:1.27\n    depends_on: [db]\n',
    }),
    name: z
      .string()
      .min(3, 'must be 3 to 50 characters')
      .max(50, 'must be 3 to 50 characters')
      .regex(projectNamePattern, 'may contain only letters, digits, ".", "_" and "-"')
      .openapi({ description: 'The project name (custom_stack_code)', example: 'shop' }),
    create: z.boolean().default(false).openapi({ description: 'Also create the project (as POST /project with the returned form); default: only return the form' }),
  })
  .openapi('ComposeImport');

export type ComposeImport = z.output<typeof composeImportSchema>;
