import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { createApp, openApiInfo } from '../../functions/app.ts';

describe('the OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document that lists the routes', async () => {
    const document = createApp().getOpenAPI31Document(openApiInfo);
    expect(document.openapi).toBe('3.1.0');
    expect(Object.keys(document.paths ?? {})).toEqual(expect.arrayContaining(['/health_check', '/client', '/client/{id}']));

    const validator = new Validator();
    const result = await validator.validate(document as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });
});
