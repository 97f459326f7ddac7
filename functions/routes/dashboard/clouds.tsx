import { Hono } from 'hono';
import type { AppEnv } from '../../env.ts';

export const cloudKeyPages = new Hono<AppEnv>();
