// A server's settings, as PUT /server/{id}, the deploy routes and the dashboard's server forms take them.
import { z } from '@hono/zod-openapi';
import { noNul } from './text.ts';

const text = (min: number, max: number) =>
  noNul(z.string().trim().min(min, `must be ${min} to ${max} characters`).max(max, `must be ${min} to ${max} characters`)).nullish();

const openSshPublicKey = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,3}( [^\r\n]{0,200})?$/;

/** Whether a line is an OpenSSH public key (type, base64, optional comment), as `~/.ssh/id_ed25519.pub` holds. */
export const isSshPublicKey = (line: string) => openSshPublicKey.test(line.trim());

export const SSH_PUBLIC_KEY_MAX = 4096;

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
    ssh_public_key: z
      .string()
      .trim()
      .max(SSH_PUBLIC_KEY_MAX, `must be at most ${SSH_PUBLIC_KEY_MAX} characters`)
      .refine(isSshPublicKey, 'must be one OpenSSH public key line, e.g. "ssh-ed25519 AAAA... you@laptop" (the .pub file, never the private key)')
      .nullish()
      .openapi({ description: 'A server Stacker creates in your cloud: this key may log in as root (cloud-init). No root password is kept or shown.' }),
  })
  .openapi('ServerForm', { description: 'Other keys (id, user_id, project_id, cloud_id, ...) are ignored.' });
