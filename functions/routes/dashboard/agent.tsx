import { Hono } from 'hono';
import type { AppEnv } from '../../env.ts';

export const agentConsolePages = new Hono<AppEnv>();
