import { env } from 'cloudflare:test';
import { RequestDatabase, type Database } from '../../db/client.ts';

/** Runs `work` with a database connection of its own (the test's, not a request's), then closes it. */
export async function withDatabase<T>(work: (db: Database) => Promise<T>, url = env.DATABASE_URL as string): Promise<T> {
  const database = new RequestDatabase({ url, wsProxy: env.DATABASE_WS_PROXY as string });
  try {
    return await work(database.db);
  } finally {
    await database.close();
  }
}
