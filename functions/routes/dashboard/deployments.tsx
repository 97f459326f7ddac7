import { Hono } from 'hono';
import type { AppEnv } from '../../env.ts';

export const deploymentPages = new Hono<AppEnv>();
