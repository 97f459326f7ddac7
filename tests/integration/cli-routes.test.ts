// What the command line reads from the server: its sign-in settings, the catalog, and the published
// JSON Schema of stacker.yml (the committed file, served as it is).
import { describe, expect, it } from 'vitest';
import committedSchema from '../../schema/stacker.schema.json' with { type: 'json' };
import { api, bearerFor, uniqueId } from '../helpers/auth.ts';

describe('routes for the command line', () => {
  it('publishes the stacker.yml schema to anyone, as the committed file', async () => {
    const response = await api('/schema/stacker.schema.json');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/schema\+json/);
    expect(await response.json()).toEqual(committedSchema);
  });

  it('tells a terminal how to sign in, and gives a signed-in user the catalog', async () => {
    const config = (await (await api('/auth/config')).json()) as { item: { client_id: string } };
    expect(config.item.client_id).toBe('stacker-cli');
    expect((await api('/catalog')).status).toBe(401);
    const catalog = await api('/catalog', { headers: bearerFor('group_user', uniqueId('cat')) });
    expect(catalog.status).toBe(200);
    const codes = ((await catalog.json()) as { list: Array<{ code: string }> }).list.map((app) => app.code);
    expect(codes).toEqual(expect.arrayContaining(['nginx', 'postgres', 'redis']));
    expect(codes.length).toBeGreaterThanOrEqual(20);
  });
});
