import { describe, expect, it } from 'vitest';
import { api, apiWith } from '../helpers/api.ts';

describe('GET /health_check', () => {
  it('answers 200 when the database answers', async () => {
    const response = await api('/health_check');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ message: 'OK' });
  });

  it('answers 503 with a JSON message when the database is unreachable', async () => {
    const response = await apiWith({ DATABASE_URL: 'postgres://postgres@127.0.0.1:9/nowhere' }, '/health_check');
    expect(response.status).toBe(503);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(((await response.json()) as { message: string }).message).toMatch(/^Database is unavailable/);
  });
});
