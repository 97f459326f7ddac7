import { Hono } from 'hono';
import type { AppEnv } from '../../env.ts';

export const serverPages = new Hono<AppEnv>();
