// The user data of servers Stacker creates (functions/services/deploy-engine/cloud-init.ts): every
// document is valid against cloud-init's own schema (tests/fixtures/cloud-init/), uses only keys that
// schema knows, runs exactly the install command an own server gets, and holds nothing else secret.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import fc from 'fast-check';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { cloudInitUserData, runcmdOf } from '../../functions/services/deploy-engine/cloud-init.ts';
import { isSshPublicKey } from '../../functions/services/inputs/servers.ts';
import { installCommandOf } from '../../functions/services/deploy-engine/install-script.ts';

const schema = JSON.parse(readFileSync(join(import.meta.dirname, '../fixtures/cloud-init/schema-cloud-config-v1.json'), 'utf8')) as {
  $defs: Record<string, { properties?: Record<string, unknown> }>;
};

// The schema is draft-04 with `$defs`, and uses nothing draft-04 has that draft-07 reads otherwise (no
// `id`, no boolean exclusiveMinimum/Maximum): Ajv's draft-07 build reads it as cloud-init does.
const validate = (() => {
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats.default(ajv);
  return ajv.compile({ ...schema, $schema: 'http://json-schema.org/draft-07/schema#' });
})();

/** The schema lets unknown keys through (cloud-init warns about them); a typo would be lost silently. */
const knownKeys = new Set(Object.values(schema.$defs).flatMap((definition) => Object.keys(definition.properties ?? {})));

function check(document: string) {
  expect(document.startsWith('#cloud-config\n')).toBe(true);
  const config = parse(document) as Record<string, unknown>;
  const valid = validate(config);
  expect(validate.errors ?? [], document).toEqual([]);
  expect(valid).toBe(true);
  expect(Object.keys(config).filter((key) => !knownKeys.has(key))).toEqual([]);
  return config;
}

const strings = (value: unknown): string[] =>
  typeof value === 'string' ? [value] : Array.isArray(value) ? value.flatMap(strings) : value && typeof value === 'object' ? Object.values(value).flatMap(strings) : [];

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me@laptop';

describe('cloudInitUserData', () => {
  it('runs the own-server install command, and nothing else, as runcmd', () => {
    const command = installCommandOf('https://stacker.example.com', 'Sx7_kq-9W2');
    const document = cloudInitUserData({ installCommand: command });
    const config = check(document);
    expect(config).toEqual({ runcmd: [command] });
    expect(runcmdOf(document)).toEqual([command]);
    // Its one secret is the install URL's; the rest of the text is comments.
    expect(strings(config)).toEqual([command]);
  });

  it('adds the user’s SSH public keys for the default user', () => {
    const command = installCommandOf('http://127.0.0.1:8000/', 'abc');
    const rsa = 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 work key';
    const config = check(cloudInitUserData({ installCommand: command, sshAuthorizedKeys: [KEY, `  ${rsa}  `] }));
    expect(config).toEqual({ ssh_authorized_keys: [KEY, rsa], runcmd: [command] });
  });

  it('holds no cloud token or agent token: they are not its inputs, and nothing else gets in', () => {
    const cloudToken = 'hcloud-token-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV';
    const agentToken = 'agent-token-9f8e7d6c5b4a';
    const document = cloudInitUserData({ installCommand: installCommandOf('https://stacker.example.com', 'one-time-secret') });
    expect(document).not.toContain(cloudToken);
    expect(document).not.toContain(agentToken);
    expect(document.match(/https?:\/\/\S+/g)).toEqual(["https://stacker.example.com/install/one-time-secret'"]);
  });

  it('is valid for any origin, secret and key comment (property)', () => {
    const origin = fc.constantFrom('https://stacker.example.com', 'http://127.0.0.1:8000', 'https://deploy.example.org/');
    const secret = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);
    const comment = fc.stringMatching(/^[A-Za-z0-9 @._:#'"|>{}[\],&*!%-]{0,40}$/);
    fc.assert(
      fc.property(origin, secret, comment, fc.boolean(), (base, value, note, withKey) => {
        const command = installCommandOf(base, value);
        const key = `${KEY.split(' ').slice(0, 2).join(' ')} ${note}`.trim();
        const document = cloudInitUserData({ installCommand: command, sshAuthorizedKeys: withKey ? [key] : [] });
        const config = check(document);
        expect(config.runcmd).toEqual([command]);
        expect(runcmdOf(document)).toEqual([command]);
        if (withKey) expect(config.ssh_authorized_keys).toEqual([key]);
      }),
      { numRuns: 150 },
    );
  });

  it('the check itself catches a document cloud-init would refuse, and an unknown key', () => {
    expect(validate({ runcmd: 'curl x | sh' })).toBe(false);
    expect(validate({ ssh_authorized_keys: KEY })).toBe(false);
    expect(validate({ runcmd: [] })).toBe(false);
    expect(knownKeys.has('runcmd') && knownKeys.has('ssh_authorized_keys') && !knownKeys.has('run_cmd')).toBe(true);
  });

  it('refuses a command of more than one line and what is not an SSH public key', () => {
    expect(() => cloudInitUserData({ installCommand: 'curl x | sh\nrm -rf /' })).toThrow(/one line/);
    expect(() => cloudInitUserData({ installCommand: '  ' })).toThrow(/one line/);
    expect(() => cloudInitUserData({ installCommand: 'true', sshAuthorizedKeys: ['not a key'] })).toThrow(/sshAuthorizedKeys\[0\]/);
    expect(() => cloudInitUserData({ installCommand: 'true', sshAuthorizedKeys: [`${KEY}\nruncmd: [reboot]`] })).toThrow(/sshAuthorizedKeys\[0\]/);
    expect(isSshPublicKey('-----BEGIN OPENSSH PRIVATE KEY-----')).toBe(false);
    expect(isSshPublicKey('ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTY=')).toBe(true);
  });

  it('runcmdOf reads list entries as a shell would, and ignores what is not cloud-config', () => {
    expect(runcmdOf("#cloud-config\nruncmd:\n  - [sh, -c, \"echo it's\"]\n  - ls\n")).toEqual([`'sh' '-c' 'echo it'\\''s'`, 'ls']);
    expect(runcmdOf('#!/bin/sh\necho hi\n')).toEqual([]);
  });
});
