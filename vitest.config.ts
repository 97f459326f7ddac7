import { defineConfig } from 'vitest/config';
// Before the Cloudflare plugin loads Miniflare: its runner sockets without compression (see the file).
import './tests/runner-socket.ts';
import { collectConsoleLine } from './tests/helpers/leak-collector.ts';
import LongestFirstSequencer from './tests/sequencer.ts';

// Imported after tests/runner-socket.ts has run: a static import would be evaluated before it.
const { cloudflareTest } = await import('@cloudflare/vitest-plugin');

export default defineConfig({
  test: {
    testTimeout: 20_000,
    // Most of the suite's time is waiting (retries, leases, long-polls, child processes), not CPU: four
    // files at once on a 2-core machine take the run from ~160 s to 80-115 s. Vitest's default there is one.
    maxWorkers: 4,
    // Each project's files share their worker (one workerd per worker for the two workerd projects)
    // instead of a new one per file: a new workerd and its module graph cost ~2 s of CPU per file, and
    // the suite is CPU-bound (BENCHMARKS.md, "The test suite's CPU"). Files must therefore not count on
    // module state of their own: what they change in a module's cache they reset (invalidateRules).
    sequence: { sequencer: LongestFirstSequencer },
    // Every console line of the workers project goes to the leak check (run at the end by
    // tests/global-setup.ts); the service's debug and info lines are kept off the screen.
    onConsoleLog: collectConsoleLine,
    projects: [
      {
        // Inside workerd, against the real PostgreSQL through the Neon driver and the WebSocket proxy. The
        // deploy engine's files (tests/engine/) run here too, with DEPLOY_ENGINE=builtin on their requests
        // (settingsForFile in tests/helpers/api.ts): a project of their own would load the whole module
        // graph into workerd runtimes of its own.
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: './wrangler.toml' },
            miniflare: { bindings: inject('settings') },
          })),
        ],
        test: {
          name: 'workers',
          isolate: false,
          include: ['tests/unit/**/*.test.ts', 'tests/integration/**/*.test.ts', 'tests/engine/**/*.test.ts'],
          globalSetup: ['./tests/global-setup.ts'],
          setupFiles: ['./tests/helpers/leak-check-setup.ts'],
        },
      },
      {
        // Node-side code: migrations, npm start's helpers, the console, document validation. The
        // global setup finds or starts the run's PostgreSQL (tests/database-server.ts, shared with
        // the projects above) and hands it to the files as DATABASE_URL.
        test: {
          name: 'node',
          isolate: false,
          include: ['tests/node/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['./tests/node/global-setup.ts'],
        },
      },
    ],
  },
});
