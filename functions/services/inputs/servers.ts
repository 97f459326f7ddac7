// A server's settings, as PUT /server/{id}, the deploy routes and the dashboard's server forms take them.
import { z } from '@hono/zod-openapi';
import { noNul } from './text.ts';

const text = (min: number, max: number) =>
  noNul(z.string().trim().min(min, `must be ${min} to ${max} characters`).max(max, `must be ${min} to ${max} characters`)).nullish();

// The reference's declared (never run) rules, except zone: its own fixtures use one-letter zones.
export const ServerForm = z
  .object({
    region: text(2, 50),
    zone: text(1, 50),
    server: text(2, 50),
    os: text(2, 50),
    disk_type: text(3, 50),
    srv_ip: z.union([z.ipv4(), z.ipv6()], { error: 'must be an IPv4 or IPv6 address' }).nullish(),
    ssh_port: z.number().int('must be an integer').min(20, 'must be 20 to 65535').max(65535, 'must be 20 to 65535').nullish(),
    ssh_user: text(3, 50),
  })
  .openapi('ServerForm', { description: 'Other keys (id, user_id, project_id, cloud_id, ...) are ignored.' });
