// Settings for local runs: configuration.yaml (if present), then the process environment on top.
import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { settingNames } from '../functions/config.ts';

export function loadLocalSettings(path = 'configuration.yaml'): Record<string, string> {
  const settings: Record<string, string> = {};
  if (existsSync(path)) {
    const document = parse(readFileSync(path, 'utf8')) as unknown;
    if (document !== null && typeof document === 'object') {
      for (const [name, value] of Object.entries(document)) {
        if (!settingNames.includes(name as never)) {
          throw new Error(`${path}: unknown setting ${name} (see configuration.example.yaml)`);
        }
        if (value !== null && value !== undefined && value !== '') settings[name] = String(value);
      }
    }
  }
  for (const name of settingNames) {
    const value = process.env[name];
    if (value !== undefined && value !== '') settings[name] = value;
  }
  return settings;
}

/** Quotes a value for a dotenv file. */
export function toDotenv(settings: Record<string, string>): string {
  return Object.entries(settings)
    .map(([name, value]) => `${name}=${JSON.stringify(value)}`)
    .join('\n')
    .concat('\n');
}
