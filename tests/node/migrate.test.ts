import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { casbinSeedRules } from '../../db/casbin-seed.ts';
import { migrateDatabase } from '../../db/migrate.ts';
import { createScratchDatabase, withClient } from './helpers.ts';

let scratch: { url: string; drop: () => Promise<void> };

beforeAll(async () => {
  scratch = await createScratchDatabase('stacker_migrate');
});
afterAll(async () => {
  await scratch?.drop();
});

/** Everything a migration could change: columns, constraints, indexes, seeded rows, the journal. */
async function snapshot(url: string) {
  return withClient(url, async (client) => {
    const columns = await client.query(`
      select table_name, column_name, data_type, is_nullable, column_default
      from information_schema.columns where table_schema = 'public' order by table_name, ordinal_position`);
    const constraints = await client.query(`
      select conrelid::regclass::text as tbl, conname, pg_get_constraintdef(oid) as def
      from pg_constraint where connamespace = 'public'::regnamespace order by 1, 2`);
    const indexes = await client.query(`select tablename, indexname, indexdef from pg_indexes where schemaname = 'public' order by 1, 2`);
    const rules = await client.query(`select ptype, v0, v1, v2 from casbin_rule order by id`);
    const products = await client.query(`select * from product order by id`);
    const journal = await client.query(`select hash from drizzle.__drizzle_migrations order by id`);
    return {
      columns: columns.rows,
      constraints: constraints.rows,
      indexes: indexes.rows,
      rules: rules.rows,
      products: products.rows,
      journal: journal.rows,
    };
  });
}

describe('npm run db:migrate', () => {
  it('creates the schema on an empty database, and a second run changes nothing', async () => {
    await migrateDatabase(scratch.url);
    const first = await snapshot(scratch.url);
    expect(first.journal.length).toBeGreaterThanOrEqual(3);
    expect(first.rules).toHaveLength(casbinSeedRules.length);
    expect(first.products).toHaveLength(1);
    expect(first.columns.length).toBeGreaterThan(100);

    await migrateDatabase(scratch.url);
    expect(await snapshot(scratch.url)).toEqual(first);
  });
});
