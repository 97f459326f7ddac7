import { describe, expect, it } from 'vitest';
import { createApp, openApiInfo } from '../../functions/app.ts';
import { api } from '../helpers/api.ts';

describe('GET /openapi.json', () => {
  it('serves the generated document to anyone', async () => {
    const response = await api('/openapi.json');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual(JSON.parse(JSON.stringify(createApp().getOpenAPI31Document(openApiInfo))));
  });
});
