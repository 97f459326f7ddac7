// npm run db:migrate — applies the migrations to DATABASE_URL.
import './drizzle-resolve-hook.ts'; // first: before anything imports drizzle-orm
import { migrateDatabase } from '../db/migrate.ts';

const url = process.env.DATABASE_URL;
if (!url) {
  console.error('db:migrate: DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/stacker)');
  process.exit(1);
}
try {
  console.log(`db:migrate: applying migrations to ${redactUrl(url)} ...`);
  await migrateDatabase(url);
  console.log('db:migrate: database is up to date');
} catch (error) {
  console.error(`db:migrate: failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}

function redactUrl(value: string): string {
  try {
    const parsed = new URL(value);
    if (parsed.password) parsed.password = '****';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}
