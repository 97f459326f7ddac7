import { Hono } from 'hono';
import type { AppEnv } from '../../env.ts';

export const apiClientPages = new Hono<AppEnv>();
