import { cloudflareTest } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 20_000,
    projects: [
      {
        // Inside workerd, against the real PostgreSQL through the Neon driver and the WebSocket proxy.
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: './wrangler.toml' },
            miniflare: { bindings: inject('settings') },
          })),
        ],
        test: {
          name: 'workers',
          include: ['tests/unit/**/*.test.ts', 'tests/integration/**/*.test.ts'],
          globalSetup: ['./tests/global-setup.ts'],
        },
      },
      {
        // Node-side code: migrations, npm start's helpers, the console, document validation.
        test: {
          name: 'node',
          include: ['tests/node/**/*.test.ts'],
          environment: 'node',
        },
      },
    ],
  },
});
