// The cloud provider adapters inside workerd (the Worker's fetch), against the Hetzner Cloud and
// DigitalOcean stand-ins the global setup starts (HETZNER_API_URL, DIGITALOCEAN_API_URL). Each test
// opens its own stand-in account (its own token, servers and faults) through /__stand-in/.
import { env } from 'cloudflare:test';
import { describe, expect, inject, it } from 'vitest';
import { configFromBindings } from '../../functions/config.ts';
import {
  CloudProviderError,
  cloudErrorAsApiError,
  cloudProviderFor,
  serverNameFor,
  type CloudProviderCode,
  type CreateServerInput,
  type ProviderOptions,
} from '../../functions/services/cloud-providers/index.ts';
import { cloudInitUserData } from '../../functions/services/deploy-engine/cloud-init.ts';
import { installCommandOf } from '../../functions/services/deploy-engine/install-script.ts';

const config = configFromBindings(env);

const cases = [
  {
    code: 'htz' as CloudProviderCode,
    standInUrl: inject('hetznerStandInUrl'),
    choice: { type: 'cpx22', location: 'hel1', image: 'debian-12' },
    refused: { type: 'cx11', message: 'server type cx11 is deprecated' },
    unauthorized: 'unable to authenticate',
  },
  {
    code: 'do' as CloudProviderCode,
    standInUrl: inject('digitalOceanStandInUrl'),
    choice: { type: 's-2vcpu-4gb', location: 'ams3', image: 'debian-12-x64' },
    refused: { type: 'nano', message: 'You specified an invalid size for Droplet creation.' },
    unauthorized: 'Unable to authenticate you',
  },
];

interface StandInRecord {
  id: number;
  userData: string;
  deletedAt: string | null;
}

describe.each(cases)('$code adapter in workerd', (c) => {
  async function control(token: string, path: string, body?: unknown): Promise<unknown> {
    const response = await fetch(`${c.standInUrl}/__stand-in${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    expect(response.ok).toBe(true);
    return response.json();
  }

  /** A new stand-in account whose servers run only when told, and the adapter on it. */
  async function account(options: Omit<ProviderOptions, 'baseUrl' | 'token'> = {}) {
    const token = `cloud-token-${crypto.randomUUID()}`;
    await control(token, '/accounts', { token });
    await control(token, '/boot-after', { ms: null });
    const waits: number[] = [];
    const provider = cloudProviderFor(c.code, token, config, { sleep: async (ms) => void waits.push(ms), ...options });
    return { token, provider, waits };
  }

  const servers = async (token: string) => ((await control(token, '/servers')) as { servers: StandInRecord[] }).servers;
  const deploymentHash = () => `deployment_${crypto.randomUUID()}`;
  const installCommand = installCommandOf('https://stacker.example.com', 'one-time-enrollment-secret');
  const input = (deployment: string, overrides: Partial<CreateServerInput> = {}): CreateServerInput => ({
    name: serverNameFor('Shop', deployment),
    ...c.choice,
    userData: cloudInitUserData({ installCommand }),
    deployment,
    ...overrides,
  });

  async function refusal(promise: Promise<unknown>): Promise<CloudProviderError> {
    const error = await promise.then(() => undefined, (caught: unknown) => caught);
    expect(error).toBeInstanceOf(CloudProviderError);
    return error as CloudProviderError;
  }

  it('reads its API base from the settings', () => {
    expect(c.code === 'htz' ? config.HETZNER_API_URL : config.DIGITALOCEAN_API_URL).toBe(`${c.standInUrl}/${c.code === 'htz' ? 'v1' : 'v2'}`);
  });

  it('creates a server with the cloud-init user data, which runs with an address, is found by its deployment and deleted', async () => {
    const { token, provider } = await account();
    const deployment = deploymentHash();
    const server = await provider.createServer(input(deployment));
    expect(server).toMatchObject({ status: 'starting', deployment, type: c.choice.type, location: c.choice.location });

    await control(token, `/servers/${server.id}/boot`, {});
    const running = await provider.getServer(server.id);
    expect(running?.status).toBe('running');
    expect(running?.ipv4).toMatch(/^203\.0\.113\.\d+$/);
    expect((await provider.findServersByDeployment(deployment)).map((entry) => entry.id)).toEqual([server.id]);

    // What the provider got: the same install command as an own server, and no cloud token.
    const [stored] = await servers(token);
    expect(stored?.userData).toBe(cloudInitUserData({ installCommand }));
    expect(stored?.userData).not.toContain(token);
    expect(JSON.stringify(running)).not.toContain(token);

    expect(await provider.deleteServer(server.id)).toBe(true);
    expect(await provider.getServer(server.id)).toBeNull();
    expect(await provider.findServersByDeployment(deployment)).toEqual([]);
    expect((await servers(token))[0]?.deletedAt).not.toBeNull();
  });

  it('lists server types with monthly prices over every page', async () => {
    const { provider } = await account({ pageSize: 2 });
    const { provider: onePage } = await account();
    const types = await provider.listServerTypes();
    expect(types).toEqual(await onePage.listServerTypes());
    const chosen = types.find((type) => type.name === c.choice.type);
    expect(chosen?.prices.find((entry) => entry.location === c.choice.location)?.monthly).toBeGreaterThan(0);
    expect(provider.stats.calls).toBeGreaterThan(onePage.stats.calls);
    expect(await provider.listLocations()).toEqual(await onePage.listLocations());
    expect(await provider.listImages()).toEqual(await onePage.listImages());
  });

  it('a refused create is a 422 in the provider’s words', async () => {
    const { token, provider } = await account();
    const error = await refusal(provider.createServer(input(deploymentHash(), { type: c.refused.type })));
    expect({ status: error.status, message: error.message }).toEqual({ status: 422, message: c.refused.message });
    expect(cloudErrorAsApiError(provider.label, error)).toMatchObject({ status: 422, message: `${provider.label}: ${c.refused.message}` });
    expect(await servers(token)).toEqual([]);
  });

  it('a 429 is retried after its Retry-After', async () => {
    const { token, provider, waits } = await account();
    await control(token, '/rate-limit', { retry_after: 3, times: 1 });
    expect((await provider.listLocations()).length).toBeGreaterThan(0);
    expect(waits).toEqual([3000]);
    expect(provider.stats).toEqual({ calls: 2, retries: 1 });
  });

  it('a wrong token is refused in the provider’s words', async () => {
    const provider = cloudProviderFor(c.code, 'wrong-token', config);
    const error = await refusal(provider.listImages());
    expect({ status: error.status, message: error.message }).toEqual({ status: 401, message: c.unauthorized });
  });

  it('a create whose connection drops is not sent twice; the one server is found by its deployment', async () => {
    const { token, provider } = await account();
    const deployment = deploymentHash();
    await control(token, '/lose-next-create', { how: 'drop' });
    const error = await refusal(provider.createServer(input(deployment)));
    expect({ status: error.status, retryable: error.retryable }).toEqual({ status: 0, retryable: true });
    expect(await provider.findServersByDeployment(deployment)).toHaveLength(1);
    expect(await servers(token)).toHaveLength(1);
  });
});
