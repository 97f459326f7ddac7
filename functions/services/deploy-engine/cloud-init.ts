// The user data of a server Stacker creates in the user's cloud: a `#cloud-config` document whose
// runcmd is the install command an own server gets (installCommandOf in install-script.ts), so there
// is one install path everywhere. Its one secret is that command's one-time enrollment URL: no cloud
// token and no agent token is ever in it (the agent's credentials are traded for the secret later).
// Every document made here is valid against cloud-init's schema (tests/node/cloud-init.test.ts).
import { parse, stringify } from 'yaml';
import { isSshPublicKey } from '../inputs/servers.ts';

export interface CloudInitOptions {
  /** `curl -fsSL '<origin>/install/<secret>' | sh`. */
  installCommand: string;
  /** OpenSSH public keys to log in as the image's default user (root on Hetzner and DigitalOcean). */
  sshAuthorizedKeys?: string[];
}

export function cloudInitUserData(options: CloudInitOptions): string {
  const command = options.installCommand.trim();
  if (!command || /[\r\n]/.test(command)) throw new Error('the install command must be one line');
  const keys = (options.sshAuthorizedKeys ?? []).map((key) => key.trim());
  const bad = keys.findIndex((key) => !isSshPublicKey(key));
  if (bad >= 0) throw new Error(`sshAuthorizedKeys[${bad}] is not an OpenSSH public key`);
  const config = {
    ...(keys.length > 0 && { ssh_authorized_keys: keys }),
    // After the packages and the network are up (cloud-init's final stage), as root, once.
    runcmd: [command],
  };
  const header = [
    '#cloud-config',
    '# Stacker: enrols this server with its one-time install command, which installs Docker if needed and',
    '# starts the Stacker agent; the agent then deploys the stack. Log: /var/log/cloud-init-output.log',
  ].join('\n');
  return `${header}\n${stringify(config, { lineWidth: 0 })}`;
}

/** The runcmd entries of a `#cloud-config` document, as a shell would run them (for stand-ins and tests). */
export function runcmdOf(userData: string): string[] {
  if (!userData.startsWith('#cloud-config')) return [];
  const document = parse(userData) as { runcmd?: unknown } | null;
  const entries = Array.isArray(document?.runcmd) ? document.runcmd : [];
  return entries.flatMap((entry: unknown) => {
    if (typeof entry === 'string') return [entry];
    if (Array.isArray(entry) && entry.every((part) => typeof part === 'string')) return [entry.map((part) => `'${part.replace(/'/g, `'\\''`)}'`).join(' ')];
    return [];
  });
}
