import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../functions/app.ts';
import { ConfigError, parseConfig, requireSetting } from '../../functions/config.ts';

describe('configuration loader', () => {
  it('applies defaults when settings are absent', () => {
    const config = parseConfig({});
    expect(config.MAX_CLIENTS_NUMBER).toBe(2);
    expect(config.DOCKERHUB_URL).toBe('https://hub.docker.com');
    expect(config.DOCKERHUB_CHECK).toBe('on');
    expect(config.VAULT_AGENT_PATH_PREFIX).toBe('agent');
    expect(config.PORT).toBe(8000);
    expect(config.DATABASE_URL).toBeUndefined();
  });

  it('rate limits default per caller kind, accept 0 (off), and CORS origins parse into a list', () => {
    const defaults = parseConfig({});
    expect([defaults.RATE_LIMIT_USER_PER_MINUTE, defaults.RATE_LIMIT_CLIENT_PER_MINUTE, defaults.RATE_LIMIT_AGENT_PER_MINUTE, defaults.RATE_LIMIT_ANONYMOUS_PER_MINUTE]).toEqual([600, 600, 300, 120]);
    expect(defaults.CORS_ALLOWED_ORIGINS).toEqual([]);
    const set = parseConfig({ RATE_LIMIT_AGENT_PER_MINUTE: '0', CORS_ALLOWED_ORIGINS: 'https://a.example, http://localhost:5173' });
    expect(set.RATE_LIMIT_AGENT_PER_MINUTE).toBe(0);
    expect(set.CORS_ALLOWED_ORIGINS).toEqual(['https://a.example', 'http://localhost:5173']);
    expect(() => parseConfig({ RATE_LIMIT_USER_PER_MINUTE: '-5' })).toThrow(/RATE_LIMIT_USER_PER_MINUTE/);
    expect(() => parseConfig({ CORS_ALLOWED_ORIGINS: '*' })).toThrow(/CORS_ALLOWED_ORIGINS/);
  });

  it('treats empty strings as unset and trims values', () => {
    const config = parseConfig({ AUTH_URL: '  ', MAX_CLIENTS_NUMBER: ' 5 ' });
    expect(config.AUTH_URL).toBeUndefined();
    expect(config.MAX_CLIENTS_NUMBER).toBe(5);
  });

  it('names every malformed variable', () => {
    let caught: unknown;
    try {
      parseConfig({ MAX_CLIENTS_NUMBER: 'many', AUTH_URL: 'not a url', DOCKERHUB_CHECK: 'maybe' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const error = caught as ConfigError;
    expect(error.settings.sort()).toEqual(['AUTH_URL', 'DOCKERHUB_CHECK', 'MAX_CLIENTS_NUMBER']);
    expect(error.message).toContain('MAX_CLIENTS_NUMBER');
    expect(error.message).toContain('AUTH_URL must be an absolute URL');
  });

  it('rejects a DATABASE_URL that is not a postgres URL', () => {
    expect(() => parseConfig({ DATABASE_URL: 'mysql://x@y/z' })).toThrow(/DATABASE_URL must be a postgres/);
  });

  it('accepts SECURITY_KEY as 32 characters or as base64 of 32 bytes, and nothing else', () => {
    const raw = parseConfig({ SECURITY_KEY: 'a'.repeat(32) }).SECURITY_KEY;
    expect(raw).toBeInstanceOf(Uint8Array);
    expect(raw?.length).toBe(32);
    const bytes = Uint8Array.from({ length: 32 }, (_, i) => i * 7);
    const encoded = btoa(String.fromCharCode(...bytes));
    expect(Array.from(parseConfig({ SECURITY_KEY: encoded }).SECURITY_KEY ?? [])).toEqual(Array.from(bytes));
    expect(() => parseConfig({ SECURITY_KEY: 'short' })).toThrow(/SECURITY_KEY must be 32 bytes/);
  });

  it('requireSetting names the missing variable', () => {
    const config = parseConfig({});
    expect(() => requireSetting(config, 'VAULT_ADDRESS')).toThrow(new ConfigError('VAULT_ADDRESS is not set', ['VAULT_ADDRESS']));
    expect(requireSetting(parseConfig({ VAULT_ADDRESS: 'http://127.0.0.1:8200' }), 'VAULT_ADDRESS')).toBe('http://127.0.0.1:8200');
  });

  it('a malformed setting answers 503 naming the variable, not a stack trace', async () => {
    const response = await createApp().request('/health_check', {}, { ...env, MAX_CLIENTS_NUMBER: 'lots' });
    expect(response.status).toBe(503);
    const body = (await response.json()) as { message: string };
    expect(body.message).toMatch(/MAX_CLIENTS_NUMBER/);
    expect(body.message).not.toMatch(/at \w+ \(/);
  });

  it('a missing DATABASE_URL answers 503 naming it', async () => {
    const response = await createApp().request('/health_check', {}, { ...env, DATABASE_URL: undefined });
    expect(response.status).toBe(503);
    expect(((await response.json()) as { message: string }).message).toMatch(/DATABASE_URL is not set/);
  });
});
