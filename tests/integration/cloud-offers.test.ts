// GET /cloud/{id}/offers: what a saved Hetzner Cloud or DigitalOcean key can create (types with
// prices, locations, images), read with the key from the stand-ins and kept a few minutes.
import { describe, expect, inject, it } from 'vitest';
import { api, bearerFor, jsonRequest, uniqueId } from '../helpers/auth.ts';

const cases = [
  { code: 'htz', label: 'Hetzner Cloud', standInUrl: inject('hetznerStandInUrl'), type: 'cx23', location: 'fsn1', image: 'ubuntu-24.04', withdrawn: 'cx11' },
  { code: 'do', label: 'DigitalOcean', standInUrl: inject('digitalOceanStandInUrl'), type: 's-1vcpu-1gb', location: 'fra1', image: 'ubuntu-24-04-x64', withdrawn: 'm-2vcpu-16gb' },
];

interface Offers {
  provider: string;
  label: string;
  types: Array<{ name: string; cores: number; memoryGb: number; diskGb: number; currency: string; prices: Array<{ location: string; monthly: number }> }>;
  locations: Array<{ name: string }>;
  images: Array<{ name: string }>;
}

async function save(userId: string, provider: string, token: string): Promise<number> {
  const response = await api('/cloud', jsonRequest('POST', { provider, cloud_token: token, save_token: true }, bearerFor('group_user', userId)));
  expect(response.status).toBe(201);
  return ((await response.json()) as { item: { id: number } }).item.id;
}

describe.each(cases)('GET /cloud/{id}/offers for $label', (c) => {
  it('lists the types with cores, memory, disk and monthly prices, the locations and images; asked again, answers from its cache', async () => {
    const token = `cloud-token-${crypto.randomUUID()}`;
    await fetch(`${c.standInUrl}/__stand-in/accounts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
    const userId = uniqueId('offers');
    const id = await save(userId, c.code, token);
    const response = await api(`/cloud/${id}/offers`, { headers: bearerFor('group_user', userId) });
    expect(response.status).toBe(200);
    const offers = ((await response.json()) as { item: Offers }).item;
    expect(offers).toMatchObject({ provider: c.code, label: c.label });
    const type = offers.types.find((entry) => entry.name === c.type);
    expect(type?.cores).toBeGreaterThan(0);
    expect(type?.memoryGb).toBeGreaterThan(0);
    expect(type?.diskGb).toBeGreaterThan(0);
    expect(type?.prices.find((entry) => entry.location === c.location)?.monthly).toBeGreaterThan(0);
    expect(offers.types.map((entry) => entry.name)).not.toContain(c.withdrawn);
    expect(offers.locations.map((entry) => entry.name)).toContain(c.location);
    expect(offers.images.map((entry) => entry.name)).toContain(c.image);
    expect(JSON.stringify(offers)).not.toContain(token);

    const calls = async () => {
      const answer = await fetch(`${c.standInUrl}/__stand-in/requests`, { headers: { authorization: `Bearer ${token}` } });
      return ((await answer.json()) as { requests: unknown[] }).requests.length;
    };
    const before = await calls();
    expect((await api(`/cloud/${id}/offers`, { headers: bearerFor('group_user', userId) })).status).toBe(200);
    expect(await calls()).toBe(before);

    // Another user's saved cloud is not found.
    expect((await api(`/cloud/${id}/offers`, { headers: bearerFor('group_user', uniqueId('other')) })).status).toBe(404);
  });
});

describe('GET /cloud/{id}/offers refusals', () => {
  it('a provider it does not list is 422; a refused key is 422 in the provider’s words', async () => {
    const userId = uniqueId('offers');
    const linode = await save(userId, 'lo', 'x'.repeat(24));
    const unlisted = await api(`/cloud/${linode}/offers`, { headers: bearerFor('group_user', userId) });
    expect(unlisted.status).toBe(422);
    expect(((await unlisted.json()) as { message: string }).message).toMatch(/does not list the offers of Linode/);

    const wrong = await save(userId, 'htz', `wrong-${crypto.randomUUID()}`);
    const refused = await api(`/cloud/${wrong}/offers`, { headers: bearerFor('group_user', userId) });
    expect(refused.status).toBe(422);
    expect(((await refused.json()) as { message: string }).message).toBe('Hetzner Cloud refused the saved cloud key: unable to authenticate');
  });
});
