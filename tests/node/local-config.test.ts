import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig, settingNames } from '../../functions/config.ts';
import { loadLocalSettings } from '../../scripts/local-config.ts';

const dir = mkdtempSync(join(tmpdir(), 'stacker-config-'));
const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

describe('configuration.example.yaml and npm start settings', () => {
  it('documents every setting the loader knows, and nothing else', () => {
    const example = parse(readFileSync('configuration.example.yaml', 'utf8')) as Record<string, unknown>;
    expect(Object.keys(example).sort()).toEqual([...settingNames].sort());
    // and the example itself is a valid configuration
    expect(() => parseConfig(Object.fromEntries(Object.entries(example).map(([k, v]) => [k, String(v)])))).not.toThrow();
  });

  it('reads configuration.yaml and lets the environment win', () => {
    const file = join(dir, 'configuration.yaml');
    writeFileSync(file, 'AUTH_URL: "https://auth.example/me"\nMAX_CLIENTS_NUMBER: 3\nVAULT_TOKEN: ""\n');
    process.env.MAX_CLIENTS_NUMBER = '9';
    delete process.env.AUTH_URL;
    delete process.env.VAULT_TOKEN;
    const settings = loadLocalSettings(file);
    expect(settings.AUTH_URL).toBe('https://auth.example/me');
    expect(settings.MAX_CLIENTS_NUMBER).toBe('9');
    expect('VAULT_TOKEN' in settings).toBe(false);
  });

  it('refuses an unknown key, naming it', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'AUTH_URLS: "x"\n');
    expect(() => loadLocalSettings(file)).toThrow(/unknown setting AUTH_URLS/);
  });
});

process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
