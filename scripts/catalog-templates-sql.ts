// Prints the SQL that writes db/catalog-templates.ts into catalog_app (drizzle/0027_catalog_templates.sql
// is its output): every entry inserted, or replaced where its code exists. `npm run -s catalog:sql`.
import { catalogSeeds } from '../db/catalog-templates.ts';

const literal = (value: string) => `'${value.replace(/'/g, "''")}'`;
const json = (value: unknown) => `${literal(JSON.stringify(value))}::jsonb`;

const rows = catalogSeeds.map((seed) =>
  `  (${[literal(seed.code), literal(seed.name), literal(seed.category), literal(seed.description), literal(seed.image), literal(seed.tag), json(seed.ports), json(seed.environment), json(seed.volumes), json(seed.template)].join(', ')})`,
);

process.stdout.write(`-- The catalog's templates (issue 28), written by scripts/catalog-templates-sql.ts from db/catalog-templates.ts:
-- images pinned to a version, generated secrets ({{secret:NAME}}) instead of "change-me", what each entry
-- provides, exports and requires, health checks and commands. Entries already there are replaced.
-- Strapi goes: its only Docker Hub image (strapi/strapi) is the unmaintained v3, on "latest".
DELETE FROM "catalog_app" WHERE "code" = 'strapi' AND "image" = 'strapi/strapi';
--> statement-breakpoint
INSERT INTO "catalog_app" ("code", "name", "category", "description", "image", "tag", "ports", "environment", "volumes", "template") VALUES
${rows.join(',\n')}
ON CONFLICT ("code") DO UPDATE SET
  "name" = excluded."name", "category" = excluded."category", "description" = excluded."description",
  "image" = excluded."image", "tag" = excluded."tag", "ports" = excluded."ports",
  "environment" = excluded."environment", "volumes" = excluded."volumes", "template" = excluded."template";
`);
