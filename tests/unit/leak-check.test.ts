import { Buffer } from 'node:buffer';
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  AGENT_TOKEN,
  AGENT_TOKEN_CANDIDATES,
  CLIENT_SECRET,
  describeLeaks,
  handedOverSecrets,
  scanForSecrets,
  type Collected,
  type Secret,
} from '../helpers/leak-check.ts';

const vaultToken: Secret = { kind: 'VAULT_TOKEN', value: `hvs.${randomBytes(18).toString('hex')}` };
const cloudToken: Secret = { kind: 'cloud_token', value: 'cloud_token_here' };
const clientSecret: Secret = { kind: CLIENT_SECRET, value: randomBytes(48).toString('base64url') };
const securityKey: Secret = { kind: 'SECURITY_KEY', value: randomBytes(32).toString('base64') };

const logLine = (text: string): Collected => ({ source: 'log', where: 'a.test.ts > a log', text });
const response = (method: string, path: string, body: unknown): Collected => ({
  source: 'response',
  where: `a.test.ts > ${method} ${path}`,
  text: typeof body === 'string' ? body : JSON.stringify(body),
  method,
  path,
});

const scan = (texts: Collected[], secrets: Secret[] = [vaultToken, cloudToken, clientSecret, securityKey]) =>
  scanForSecrets(texts, secrets).map(({ kind, form, source }) => ({ kind, form, source }));

describe('scanForSecrets', () => {
  it('finds a secret in clear in a log line and in a response body, and nothing in clean texts', () => {
    const clean = [logLine('{"level":"info","msg":"request","status":200}'), response('GET', '/cloud/1', { item: { cloud_token: 'clou****' } })];
    expect(scan(clean)).toEqual([]);
    expect(scan([logLine(`{"level":"error","msg":"vault call failed","header":"X-Vault-Token: ${vaultToken.value}"}`)])).toEqual([
      { kind: 'VAULT_TOKEN', form: 'in clear', source: 'log' },
    ]);
    expect(scan([response('GET', '/cloud/1', { item: { cloud_token: cloudToken.value } })])).toEqual([
      { kind: 'cloud_token', form: 'in clear', source: 'response' },
    ]);
  });

  it('finds base64 and hex forms, also base64 inside a longer encoded text', () => {
    const basic = Buffer.from(`stacker:${vaultToken.value}`).toString('base64');
    expect(scan([logLine(`{"authorization":"Basic ${basic}"}`)])).toEqual([{ kind: 'VAULT_TOKEN', form: 'base64', source: 'log' }]);
    const cloudKey = { kind: 'cloud_key', value: 'tok~en>>value??here' }; // its base64 has "+" and "/"
    const base64url = Buffer.from(`x${cloudKey.value}`).toString('base64url');
    expect(scan([response('GET', '/x', { blob: base64url })], [cloudKey])).toEqual([{ kind: 'cloud_key', form: 'base64url', source: 'response' }]);
    expect(scan([logLine(`secret bytes: ${Buffer.from(clientSecret.value).toString('hex')}`)])).toEqual([
      { kind: CLIENT_SECRET, form: 'hex', source: 'log' },
    ]);
    expect(scan([logLine(`key: ${Buffer.from(securityKey.value, 'base64').toString('hex')}`)])).toEqual([
      { kind: 'SECURITY_KEY', form: 'decoded, as hex', source: 'log' },
    ]);
  });

  it('excuses a secret only in the response that hands it over, and only that secret', () => {
    const created = { message: 'Created', item: { id: 7, secret: clientSecret.value } };
    expect(scan([response('POST', '/client', created)])).toEqual([]);
    expect(scan([response('PUT', '/admin/client/7/enable', created)])).toEqual([]);
    // The same body from another route, or the same route handing over another value: a leak.
    expect(scan([response('GET', '/client/7', created)])).toEqual([{ kind: CLIENT_SECRET, form: 'in clear', source: 'response' }]);
    expect(scan([response('POST', '/client', { ...created, note: clientSecret.value, item: { id: 7, secret: 'another-secret-value' } })])).toEqual([
      { kind: CLIENT_SECRET, form: 'in clear', source: 'response' },
    ]);
    // Another kind of secret in an exempt response, or the handed-over one base64-encoded: a leak.
    expect(scan([response('POST', '/client', { ...created, vault: vaultToken.value })])).toEqual([{ kind: 'VAULT_TOKEN', form: 'in clear', source: 'response' }]);
    expect(scan([response('POST', '/client', { ...created, copy: Buffer.from(clientSecret.value).toString('base64') })])).toEqual([
      { kind: CLIENT_SECRET, form: 'base64', source: 'response' },
    ]);
    // A handed-over secret that is itself base64: its unpadded form is part of it, not another leak.
    const padded = { kind: CLIENT_SECRET, value: Buffer.from('a secret value for tests').toString('base64') + '==' };
    expect(scan([response('POST', '/client', { item: { id: 8, secret: padded.value } })], [padded])).toEqual([]);
    expect(scan([response('GET', '/client/8', { item: { id: 8, secret: padded.value } })], [padded])).toEqual([
      { kind: CLIENT_SECRET, form: 'in clear', source: 'response' },
    ]);
    // Log lines are never excused.
    expect(scan([{ ...logLine(JSON.stringify(created)), method: 'POST', path: '/client' }])).toEqual([{ kind: CLIENT_SECRET, form: 'in clear', source: 'log' }]);
  });

  it('excuses a client secret on the dashboard page that shows it once, and nowhere else', () => {
    const page = (secret: string) => `<html><body><p>Client id: <code id="new-client-id">7</code></p><code id="new-client-secret" class="secret">${secret}</code></body></html>`;
    const clientSecretUrl = { kind: CLIENT_SECRET, value: randomBytes(48).toString('base64url') };
    const shown = page(clientSecretUrl.value);
    for (const path of ['/clients', '/clients/7/renew', '/clients/7/enable']) {
      expect(scan([response('POST', path, shown)], [clientSecretUrl]), path).toEqual([]);
    }
    expect(scan([response('GET', '/clients', shown)], [clientSecretUrl])).toEqual([{ kind: CLIENT_SECRET, form: 'in clear', source: 'response' }]);
    expect(scan([response('POST', '/clients/7/disable', shown)], [clientSecretUrl])).toEqual([{ kind: CLIENT_SECRET, form: 'in clear', source: 'response' }]);
    // Anywhere else on the page, or another secret in its place: a leak.
    expect(scan([response('POST', '/clients', `<p>${clientSecretUrl.value}</p>`)], [clientSecretUrl])).toEqual([
      { kind: CLIENT_SECRET, form: 'in clear', source: 'response' },
    ]);
    expect(scan([response('POST', '/clients', `${page('another-secret-value')}<p>${clientSecretUrl.value}</p>`)], [clientSecretUrl])).toEqual([
      { kind: CLIENT_SECRET, form: 'in clear', source: 'response' },
    ]);
    expect(handedOverSecrets([response('POST', '/clients/7/renew', shown)])).toEqual([{ kind: CLIENT_SECRET, value: clientSecretUrl.value }]);
  });

  it('finds agent tokens known only by their SHA-256, and excuses them in registration and rotation answers', () => {
    const token = randomBytes(48).toString('base64url');
    const hashed = [{ kind: AGENT_TOKEN, sha256: new Set([createHash('sha256').update(token).digest('hex')]), candidates: AGENT_TOKEN_CANDIDATES }];
    const leaks = (texts: Collected[]) => scanForSecrets(texts, [], hashed).map(({ kind, source }) => ({ kind, source }));
    expect(leaks([logLine(`{"msg":"auth","authorization":"Bearer ${token}"}`)])).toEqual([{ kind: AGENT_TOKEN, source: 'log' }]);
    expect(leaks([logLine(`{"msg":"auth","token":"${token}x"}`)])).toEqual([]);
    const registered = { item: { agent_token: token }, data: { item: { agent_token: token } } };
    expect(leaks([response('POST', '/api/v1/agent/register', registered)])).toEqual([]);
    expect(leaks([response('POST', '/admin/agent/deployment_1/rotate-token', { item: { agent_token: token } })])).toEqual([]);
    expect(leaks([response('GET', '/api/v1/deployments/deployment_1/agent', registered)])).toEqual([{ kind: AGENT_TOKEN, source: 'response' }]);
  });

  it('does not search values too short or repetitive to mean anything', () => {
    const masked = { kind: 'cloud_token', value: '*********' };
    expect(scan([logLine('cloud_token: *********** and x')], [masked, { kind: 'cloud_key', value: 'key' }])).toEqual([]);
  });

  it('reports kind, form and place, never the value', () => {
    const leaks = scanForSecrets([logLine(vaultToken.value), logLine(vaultToken.value)], [vaultToken]);
    const report = describeLeaks(leaks);
    expect(report).toBe('  - VAULT_TOKEN (in clear) in a log line: a.test.ts > a log (×2)');
    expect(report).not.toContain(vaultToken.value);
  });
});

describe('handedOverSecrets', () => {
  it('takes the secrets the exempt responses hand over, so replaced ones are searched too', () => {
    const texts = [
      response('POST', '/client', { item: { id: 1, secret: clientSecret.value } }),
      response('POST', '/api/v1/agent/register', { item: { agent_token: 'token-one-0123456789' }, data: { item: { agent_token: 'token-one-0123456789' } } }),
      response('GET', '/client/1', { item: { id: 1, secret: 'not-handed-over' } }),
      response('POST', '/client', 'not json'),
    ];
    expect(handedOverSecrets(texts)).toEqual([
      { kind: CLIENT_SECRET, value: clientSecret.value },
      { kind: AGENT_TOKEN, value: 'token-one-0123456789' },
      { kind: AGENT_TOKEN, value: 'token-one-0123456789' },
    ]);
  });
});
