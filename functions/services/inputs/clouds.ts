// A cloud's provider and credentials, as POST/PUT /cloud, the deploy routes and the dashboard's cloud key form take them.
import { z } from '@hono/zod-openapi';
import { noNul } from './text.ts';

const secretField = z.string().max(4096, 'must be at most 4096 characters').nullish();

export const CloudForm = z
  .object({
    provider: noNul(z.string().trim().min(2, 'must be 2 to 50 characters').max(50, 'must be 2 to 50 characters')),
    cloud_token: secretField,
    cloud_key: secretField,
    cloud_secret: secretField,
    save_token: z.boolean().nullish(),
  })
  .openapi('CloudForm', { description: 'Other keys (user_id, project_id) are ignored: the owner is the caller.' });
