// A docker-compose.yml to stacker.yml (`stacker init --from-compose`), and stacker.yml to the project
// form (`stacker push`), both through the server's own import (functions/services/compose-import.ts):
// every service keeps its name and what compose says of it; what cannot be carried is named.
import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { COMPOSE_EXTRA_KEYS } from '../../functions/services/compose-fields.ts';
import { readCompose, serviceToApp, type ImportNote } from '../../functions/services/compose-import.ts';
import type { StackerFile } from './stacker-file.ts';

export interface Converted {
  file: Record<string, unknown>;
  /** What was left out or changed, for the user: one line each, naming the service. */
  notes: string[];
  /** The same, with the service and field. */
  details: ImportNote[];
}

/** Whether a relative bind source next to the compose file is a file (undefined: it is not there, guess by its name). */
const localFileNear = (composePath: string | undefined) => (source: string) => {
  if (composePath === undefined) return undefined;
  try {
    return statSync(resolve(dirname(composePath), source.replace(/^~(?=\/)/, process.env.HOME ?? '~'))).isFile();
  } catch {
    return undefined;
  }
};

const SERVICE_ORDER = ['image', 'ports', 'environment', 'volumes', 'networks', 'restart', ...COMPOSE_EXTRA_KEYS] as const;

/** stacker.yml for a compose file's text (`composePath`: where it is, to look at its bind mounts). */
export function fromCompose(source: string, projectName: string, composePath?: string): Converted {
  const imported = readCompose(source, { isLocalFile: localFileNear(composePath) });
  const services: Record<string, Record<string, unknown>> = {};
  for (const [name, service] of Object.entries(imported.services)) {
    const written: Record<string, unknown> = {};
    for (const key of SERVICE_ORDER) if (service[key] !== undefined) written[key] = service[key];
    services[name] = written;
  }
  const file: Record<string, unknown> = { name: projectName, services };
  if (Object.keys(imported.networks).length) file.networks = imported.networks;
  return { file, notes: imported.notes.map((note) => note.message), details: imported.notes };
}

/** The project form (POST /project, PUT /project/{id}) a stacker.yml stands for. */
export function toProjectForm(file: StackerFile): { custom: Record<string, unknown> } {
  const lists: Record<string, unknown[]> = { web: [], service: [], feature: [] };
  for (const [code, service] of Object.entries(file.services)) {
    const environment = Array.isArray(service.environment)
      ? Object.fromEntries(service.environment.map((entry) => (entry.includes('=') ? [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)] : [entry, ''])))
      : Object.fromEntries(Object.entries(service.environment ?? {}).map(([key, value]) => [key, value === null ? '' : String(value)]));
    const app = serviceToApp(code, { ...service, ports: service.ports?.map(String), environment }, { kind: service.kind, name: service.name, custom: service.catalog === undefined, domain: service.domain });
    lists[service.kind]!.push(app);
  }
  const networks = Object.entries(file.networks ?? {}).map(([name, network]) => ({ id: name, name, ...(network ?? {}) }));
  return {
    custom: {
      custom_stack_code: file.name,
      project_name: file.name,
      ...(file.description !== undefined && { custom_stack_description: file.description }),
      web: lists.web,
      service: lists.service,
      feature: lists.feature,
      networks,
    },
  };
}
