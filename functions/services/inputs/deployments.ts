// What a deploy takes: the stack, the server and the cloud, as the deploy routes and the dashboard's deploy form send them.
import { z } from '@hono/zod-openapi';
import { CloudForm } from './clouds.ts';
import { ServerForm } from './servers.ts';

export const StackForm = z
  .object({
    stack_code: z.string().min(2, 'must be 2 to 255 characters').max(255, 'must be 2 to 255 characters').nullish(),
    vars: z.array(z.record(z.string(), z.unknown())).max(500).nullish(),
    integrated_features: z.array(z.unknown()).max(500).nullish(),
    extended_features: z.array(z.unknown()).max(500).nullish(),
    subscriptions: z.array(z.string().max(255)).max(500).nullish(),
    form_app: z.array(z.string().max(255)).max(500).nullish(),
  })
  .openapi('DeployStack');

export const DeployForm = z
  .object({ stack: StackForm, server: ServerForm, cloud: CloudForm })
  .openapi('DeployForm', { description: 'Other keys (project, commonDomain, servers_count, ...) are ignored' });
export const SavedCloudDeployForm = z
  .object({ stack: StackForm, server: ServerForm, cloud: CloudForm.optional() })
  .openapi('SavedCloudDeployForm', { description: 'As DeployForm; the credentials come from the saved cloud' });

export type SavedCloudDeployInput = z.output<typeof SavedCloudDeployForm>;
