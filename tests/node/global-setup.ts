// The node project's global setup: the run's PostgreSQL server (tests/database-server.ts), shared
// with the workers and engine projects; its URL reaches the test files as DATABASE_URL.
import { acquireDatabaseServer, releaseDatabaseServer } from '../database-server.ts';

export default async function setup() {
  await acquireDatabaseServer();
  return releaseDatabaseServer;
}
