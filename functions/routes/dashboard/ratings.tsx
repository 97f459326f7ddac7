import { Hono } from 'hono';
import type { AppEnv } from '../../env.ts';

export const ratingPages = new Hono<AppEnv>();
