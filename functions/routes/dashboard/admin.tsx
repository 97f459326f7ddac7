import { Hono } from 'hono';
import type { AppEnv } from '../../env.ts';

export const adminPages = new Hono<AppEnv>();
