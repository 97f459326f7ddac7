// The catalog of apps the Stack Builder offers (seeded by drizzle/0015_seed_catalog.sql; admins add more).
import { asc, eq } from 'drizzle-orm';
import type { AnyDatabase } from '../../db/client.ts';
import { catalogApp, type CatalogApp } from '../../db/schema.ts';
import { notFound } from '../errors.ts';

export async function listCatalog(db: AnyDatabase): Promise<CatalogApp[]> {
  return db.select().from(catalogApp).orderBy(asc(catalogApp.category), asc(catalogApp.name));
}

export async function getCatalogApp(db: AnyDatabase, code: string): Promise<CatalogApp> {
  const [row] = await db.select().from(catalogApp).where(eq(catalogApp.code, code)).limit(1);
  if (!row) throw notFound(`No app "${code}" in the catalog`);
  return row;
}
