import { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from './env.ts';
import { validationFailure } from './errors.ts';

/** A sub-app for one resource; zod failures in its routes use the shared error envelope. */
export function createRouter() {
  return new OpenAPIHono<AppEnv>({ defaultHook: validationFailure });
}
