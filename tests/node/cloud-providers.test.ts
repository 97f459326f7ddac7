// The cloud provider adapters (functions/services/cloud-providers/) against the Hetzner Cloud and
// DigitalOcean stand-ins (scripts/stand-ins/), in Node, where the tests hold the stand-ins' controls
// and the adapters' clock: create -> running with an address, by label/tag, delete, the offers with
// prices and pages, refusals in the provider's words, 429 after Retry-After, a wrong token, a lost
// create answer, and the root password Hetzner hands out never leaving the adapter.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CloudProviderError,
  cloudErrorAsApiError,
  cloudProviderFor,
  serverNameFor,
  whatIsNotOffered,
  type CloudProvider,
  type CloudProviderCode,
  type CreateServerInput,
  type ProviderOptions,
} from '../../functions/services/cloud-providers/index.ts';
import { cloudInitUserData, runcmdOf } from '../../functions/services/deploy-engine/cloud-init.ts';
import { installCommandOf } from '../../functions/services/deploy-engine/install-script.ts';
import type { CloudStandIn, StandInServer } from '../../scripts/stand-ins/cloud.ts';
import { startDigitalOceanStandIn } from '../../scripts/stand-ins/digitalocean.ts';
import { startHetznerStandIn } from '../../scripts/stand-ins/hetzner.ts';

interface Case {
  code: CloudProviderCode;
  start: typeof startHetznerStandIn;
  setting: 'HETZNER_API_URL' | 'DIGITALOCEAN_API_URL';
  choice: { type: string; location: string; image: string };
  refused: { type: string; status: number; code: string; message: string };
  unauthorized: { code: string; message: string };
  rateLimited: string;
  typeCount: number;
  startingStatus: string;
  addressAtCreate: boolean;
}

const cases: Case[] = [
  {
    code: 'htz',
    start: startHetznerStandIn,
    setting: 'HETZNER_API_URL',
    choice: { type: 'cx23', location: 'fsn1', image: 'ubuntu-24.04' },
    refused: { type: 'cx11', status: 422, code: 'invalid_input', message: 'server type cx11 is deprecated' },
    unauthorized: { code: 'unauthorized', message: 'unable to authenticate' },
    rateLimited: 'rate_limit_exceeded',
    // cx11 and cx22 are withdrawn.
    typeCount: 7,
    startingStatus: 'initializing',
    addressAtCreate: true,
  },
  {
    code: 'do',
    start: startDigitalOceanStandIn,
    setting: 'DIGITALOCEAN_API_URL',
    choice: { type: 's-1vcpu-1gb', location: 'fra1', image: 'ubuntu-24-04-x64' },
    refused: { type: 's-64vcpu-1tb', status: 422, code: 'unprocessable_entity', message: 'You specified an invalid size for Droplet creation.' },
    unauthorized: { code: 'Unauthorized', message: 'Unable to authenticate you' },
    rateLimited: 'too_many_requests',
    // m-2vcpu-16gb is not available.
    typeCount: 7,
    startingStatus: 'new',
    addressAtCreate: false,
  },
];

let accounts = 0;

describe.each(cases)('$code adapter against its stand-in', (c) => {
  let standIn: CloudStandIn;
  const created: StandInServer[] = [];

  beforeAll(async () => {
    standIn = await c.start({ token: 'first-account', bootAfterMs: null, onServerCreated: (server) => void created.push(server) });
  });
  afterAll(() => standIn.close());

  /** A fresh account (its own servers and faults), the adapter on it, and the waits it was told to make. */
  function account(options: Omit<ProviderOptions, 'baseUrl' | 'token'> = {}) {
    const token = `token-${c.code}-${++accounts}-${'x'.repeat(40)}`;
    standIn.addAccount(token);
    const waits: number[] = [];
    const provider = cloudProviderFor(c.code, token, { [c.setting]: standIn.apiUrl }, { sleep: async (ms) => void waits.push(ms), ...options });
    return { token, provider, waits };
  }

  const deploymentHash = () => `deployment_${crypto.randomUUID()}`;
  const input = (deployment: string, overrides: Partial<CreateServerInput> = {}): CreateServerInput => ({
    name: serverNameFor('My Shop', deployment),
    ...c.choice,
    userData: cloudInitUserData({ installCommand: installCommandOf('https://stacker.example.com', 'one-time-secret') }),
    deployment,
    ...overrides,
  });

  async function refusal(promise: Promise<unknown>): Promise<CloudProviderError> {
    const error = await promise.then(() => undefined, (caught: unknown) => caught);
    expect(error).toBeInstanceOf(CloudProviderError);
    return error as CloudProviderError;
  }

  it('creates a server that runs, with its address, found by its deployment, then deletes it', async () => {
    const { token, provider } = account();
    const deployment = deploymentHash();
    const server = await provider.createServer(input(deployment));
    expect(server).toMatchObject({ status: 'starting', providerStatus: c.startingStatus, type: c.choice.type, location: c.choice.location, deployment });
    expect(server.ipv4 !== null).toBe(c.addressAtCreate);
    expect(server.consoleUrl).toMatch(/^https:\/\//);

    expect(standIn.boot(Number(server.id))).toBe(true);
    const running = await provider.getServer(server.id);
    expect(running).toMatchObject({ id: server.id, status: 'running', providerStatus: c.code === 'htz' ? 'running' : 'active' });
    expect(running?.ipv4).toMatch(/^203\.0\.113\.\d+$/);

    // Another deployment's server is not listed.
    await provider.createServer(input(deploymentHash(), { name: 'other-server' }));
    expect((await provider.findServersByDeployment(deployment)).map((entry) => entry.id)).toEqual([server.id]);

    expect(await provider.deleteServer(server.id)).toBe(true);
    expect(await provider.getServer(server.id)).toBeNull();
    expect(await provider.deleteServer(server.id)).toBe(false);
    expect(await provider.findServersByDeployment(deployment)).toEqual([]);
    expect(standIn.servers(token).find((entry) => String(entry.id) === server.id)?.deletedAt).not.toBeNull();
  });

  it('hands the user data to the server, whose runcmd is the install command', async () => {
    const { provider } = account();
    const server = await provider.createServer(input(deploymentHash()));
    const made = created.find((entry) => String(entry.id) === server.id)!;
    expect(runcmdOf(made.userData)).toEqual([installCommandOf('https://stacker.example.com', 'one-time-secret')]);
  });

  it('lists the server types with cores, memory, disk and monthly prices, the locations and the images', async () => {
    const { provider } = account();
    const types = await provider.listServerTypes();
    expect(types).toHaveLength(c.typeCount);
    const chosen = types.find((type) => type.name === c.choice.type)!;
    expect(chosen.cores).toBeGreaterThan(0);
    expect(chosen.memoryGb).toBeGreaterThan(0);
    expect(chosen.diskGb).toBeGreaterThan(0);
    expect(chosen.currency).toBe(c.code === 'htz' ? 'EUR' : 'USD');
    expect(chosen.prices.find((entry) => entry.location === c.choice.location)?.monthly).toBeGreaterThan(0);
    expect(types.some((type) => type.name === c.refused.type)).toBe(false);
    const locations = await provider.listLocations();
    expect(locations.map((entry) => entry.name)).toContain(c.choice.location);
    const images = await provider.listImages();
    expect(images.map((entry) => entry.name)).toContain(c.choice.image);
    expect(whatIsNotOffered('the provider', c.choice, { types, locations, images })).toBeNull();
    expect(whatIsNotOffered('the provider', { ...c.choice, type: c.refused.type }, { types, locations, images })).toMatchObject({ field: 'type' });
  });

  it('follows every page, two items a page, to the same lists', async () => {
    const { token, provider } = account({ pageSize: 2 });
    const { provider: onePage } = account();
    expect(await provider.listServerTypes()).toEqual(await onePage.listServerTypes());
    expect(await provider.listLocations()).toEqual(await onePage.listLocations());
    expect(await provider.listImages()).toEqual(await onePage.listImages());

    const deployment = deploymentHash();
    for (let n = 0; n < 5; n++) await provider.createServer(input(deployment, { name: `page-server-${n}` }));
    expect(await provider.findServersByDeployment(deployment)).toHaveLength(5);
    const listings = standIn.requests(token).filter((entry) => entry.method === 'GET' && entry.path.startsWith(c.code === 'htz' ? '/servers?' : '/droplets?'));
    expect(listings.map((entry) => new URLSearchParams(entry.path.split('?')[1]).get('page'))).toEqual(['1', '2', '3']);
  });

  it('a refused create comes back in the provider’s words, and as a 422 for the user', async () => {
    const { provider } = account();
    const error = await refusal(provider.createServer(input(deploymentHash(), { type: c.refused.type })));
    expect({ status: error.status, code: error.code, message: error.message, retryable: error.retryable }).toEqual({
      status: c.refused.status,
      code: c.refused.code,
      message: c.refused.message,
      retryable: false,
    });
    const apiError = cloudErrorAsApiError(provider.label, error);
    expect(apiError.status).toBe(422);
    expect(apiError.message).toBe(`${provider.label}: ${c.refused.message}`);
  });

  it('waits as long as Retry-After says after a 429, then goes on', async () => {
    const { token, provider, waits } = account();
    standIn.rateLimitNext(token, { retryAfterSeconds: 2, times: 1 });
    expect((await provider.listLocations()).length).toBeGreaterThan(0);
    expect(waits).toEqual([2000]);
    expect(provider.stats).toEqual({ calls: 2, retries: 1 });
    expect(standIn.requests(token).map((entry) => entry.status)).toEqual([429, 200]);

    // A create refused with 429 was not done: it is sent again.
    standIn.rateLimitNext(token, { retryAfterSeconds: 1, times: 1 });
    await provider.createServer(input(deploymentHash()));
    expect(standIn.servers(token)).toHaveLength(1);
  });

  it('gives up with the 429 when Retry-After is too long, or after its retries', async () => {
    const { token, provider, waits } = account({ maxRetryWaitMs: 5_000, maxRetries: 2 });
    standIn.rateLimitNext(token, { retryAfterSeconds: 60, times: 1 });
    const late = await refusal(provider.listImages());
    expect({ status: late.status, code: late.code, retryAfter: late.retryAfterSeconds, retryable: late.retryable }).toEqual({ status: 429, code: c.rateLimited, retryAfter: 60, retryable: true });
    expect(waits).toEqual([]);
    expect(cloudErrorAsApiError(provider.label, late)).toMatchObject({ status: 503, headers: { 'retry-after': '60' } });

    standIn.rateLimitNext(token, { retryAfterSeconds: 1, times: 5 });
    const often = await refusal(provider.listImages());
    expect(often.status).toBe(429);
    expect(waits).toEqual([1000, 1000]);
  });

  it('a wrong token is refused in the provider’s words', async () => {
    const provider = cloudProviderFor(c.code, 'not-a-token-of-this-stand-in', { [c.setting]: standIn.apiUrl });
    const error = await refusal(provider.listServerTypes());
    expect({ status: error.status, code: error.code, message: error.message }).toEqual({ status: 401, ...c.unauthorized });
    expect(cloudErrorAsApiError(provider.label, error)).toMatchObject({ status: 422, message: `${provider.label} refused the saved cloud key: ${c.unauthorized.message}` });
  });

  it.each(['drop', '503'] as const)('a create whose answer is lost (%s) is not sent again; the server is found by its deployment', async (how) => {
    const { token, provider } = account();
    const deployment = deploymentHash();
    standIn.loseNextCreate(token, how);
    const error = await refusal(provider.createServer(input(deployment)));
    expect(error.retryable).toBe(true);
    expect(error.status).toBe(how === 'drop' ? 0 : 503);
    expect(standIn.requests(token).filter((entry) => entry.method === 'POST')).toHaveLength(1);
    const found = await provider.findServersByDeployment(deployment);
    expect(found).toHaveLength(1);
    expect(found[0]?.deployment).toBe(deployment);
  });

  it('retries a read after a 5xx, and tells an answer it cannot read by its paths only', async () => {
    let failures = 1;
    const flaky: typeof fetch = async (url, init) => {
      if (failures-- > 0) return new Response('{"error":{"code":"server_error","message":"boom"}}', { status: 502 });
      return fetch(url, init);
    };
    const { provider, waits } = account({ fetch: flaky });
    expect((await provider.listLocations()).length).toBeGreaterThan(0);
    expect(waits).toEqual([1000]);

    const odd: typeof fetch = async () => Response.json({ server: { id: 'not-a-number', root_password: 'Sup3rSecret' } });
    const { provider: confused } = account({ fetch: odd });
    const error = await refusal(confused.getServer('42'));
    expect(error).toMatchObject({ status: 502, code: 'unexpected_answer' });
    expect(error.message).not.toContain('Sup3rSecret');
  });
});

describe('Hetzner root password', () => {
  it('is in the create answer when no SSH key is given, and nowhere in what the adapter returns', async () => {
    const standIn = await startHetznerStandIn({ token: 'root-password-account', bootAfterMs: null });
    try {
      const passwords: string[] = [];
      const watching: typeof fetch = async (url, init) => {
        const response = await fetch(url, init);
        if (init?.method === 'POST') {
          const answer = (await response.clone().json()) as { root_password?: string | null };
          if (answer.root_password) passwords.push(answer.root_password);
        }
        return response;
      };
      const provider = cloudProviderFor('htz', 'root-password-account', { HETZNER_API_URL: standIn.apiUrl }, { fetch: watching });
      const deployment = `deployment_${crypto.randomUUID()}`;
      const server = await provider.createServer({ name: 'no-key', type: 'cx23', location: 'nbg1', image: 'debian-12', userData: '#cloud-config\n', deployment });
      expect(passwords).toHaveLength(1);
      expect(JSON.stringify(server)).not.toContain(passwords[0]);
      expect(JSON.stringify(await provider.findServersByDeployment(deployment))).not.toContain(passwords[0]);

      // With an SSH key saved at Hetzner, there is none.
      await provider.createServer({ name: 'with-key', type: 'cx23', location: 'nbg1', image: 'debian-12', userData: '', deployment, sshKeys: ['my-laptop'] });
      expect(passwords).toHaveLength(1);
      expect(standIn.servers('root-password-account').at(-1)?.sshKeys).toEqual(['my-laptop']);
    } finally {
      await standIn.close();
    }
  });

  it('refuses a type where Hetzner does not sell it, in Hetzner’s words', async () => {
    const standIn = await startHetznerStandIn({ token: 'arm-account', bootAfterMs: null });
    try {
      const provider = cloudProviderFor('htz', 'arm-account', { HETZNER_API_URL: standIn.apiUrl });
      const error = await provider
        .createServer({ name: 'arm', type: 'cax11', location: 'ash', image: 'ubuntu-24.04', userData: '', deployment: 'deployment_arm' })
        .catch((caught: unknown) => caught as CloudProviderError);
      expect(error).toMatchObject({ status: 422, code: 'invalid_input', message: 'unsupported location for server type' });
    } finally {
      await standIn.close();
    }
  });
});

describe('stand-in options', () => {
  it('acceptAnyToken opens an account per token; onServerCreated can boot a server from its user data', async () => {
    const standIn: CloudStandIn = await startDigitalOceanStandIn({
      token: 'unused',
      acceptAnyToken: true,
      bootAfterMs: null,
      onServerCreated: (server) => {
        if (runcmdOf(server.userData).length > 0) standIn.boot(server.id);
      },
    });
    try {
      const provider = cloudProviderFor('do', 'whatever-a-newcomer-saved', { DIGITALOCEAN_API_URL: standIn.apiUrl });
      const userData = cloudInitUserData({ installCommand: installCommandOf('http://127.0.0.1:8000', 'secret') });
      const server = await provider.createServer({ name: 'local', type: 's-1vcpu-1gb', location: 'fra1', image: 'debian-12-x64', userData, deployment: 'deployment_local' });
      expect(await provider.getServer(server.id)).toMatchObject({ status: 'running', ipv4: '203.0.113.1' });
      expect(standIn.servers('whatever-a-newcomer-saved')).toHaveLength(1);
      expect(standIn.servers('unused')).toHaveLength(0);
    } finally {
      await standIn.close();
    }
  });
});

describe('helpers', () => {
  it('serverNameFor makes a hostname both providers take', () => {
    expect(serverNameFor('My Shop', 'deployment_3f2a9c1e-0000-4000-8000-000000000000')).toBe('my-shop-3f2a9c1e');
    expect(serverNameFor('Café — Déjà Vu!', 'deployment_abcdef12-x')).toBe('cafe-deja-vu-abcdef12');
    expect(serverNameFor('***', 'x')).toBe('stacker-x');
    const long = serverNameFor('a'.repeat(100), 'deployment_12345678');
    expect(long.length).toBeLessThanOrEqual(63);
    expect(long).toMatch(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/);
  });

  it('refuses a deployment hash that cannot be a label, before any call', async () => {
    const provider = cloudProviderFor('htz', 't', { HETZNER_API_URL: 'http://127.0.0.1:9' });
    await expect(provider.findServersByDeployment('bad hash,stacker-deployment')).rejects.toThrow(/label value/);
    await expect(provider.getServer('../servers')).rejects.toThrow(/not a Hetzner server ID/);
    expect(provider.stats.calls).toBe(0);
  });

  it('no answer at all is a retryable `unreachable` after the reads’ retries', async () => {
    const waits: number[] = [];
    const provider = cloudProviderFor('do', 't', { DIGITALOCEAN_API_URL: 'http://127.0.0.1:9/v2' }, { sleep: async (ms) => void waits.push(ms), maxRetries: 2 });
    const error = await provider.listLocations().catch((caught: unknown) => caught as CloudProviderError);
    expect(error).toMatchObject({ status: 0, code: 'unreachable', retryable: true });
    expect(waits).toEqual([1000, 2000]);
    expect(provider.stats).toEqual({ calls: 3, retries: 2 });
  });
});
